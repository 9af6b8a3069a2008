"""Log in to Superset through its form in headless Chromium and open each dashboard, as a person would.

Run by tests/bi/test_superset_dashboards.py with Superset's own Python (``.venv-bi``, which
has Selenium as a Superset dependency); the test judges the JSON this prints:

    browse_dashboards.py <base url> <password file> <screenshot dir> <slug> [<slug> ...]

For every chart of every dashboard it reports the chart's name and viz type, whether it
drew (an ECharts canvas, or table rows), an error or "No results" text, and for the whole
session every request the browser tried outside the Superset server and what became of it.
Chromium resolves no host but 127.0.0.1 and goes through no proxy, so nothing can leave
the machine whatever the page asks for; the report shows whether Superset's own policy
stopped the request first.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
DRIVER_CANDIDATES = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")
SETTLE_SECONDS = 120

#: Per chart, in the page: what it shows once its query came back.
CHART_STATE_JS = """
return Array.from(document.querySelectorAll('[data-test="chart-grid-component"]')).map(chart => {
  const canvases = Array.from(chart.querySelectorAll('canvas')).filter(c => c.width > 0 && c.height > 0);
  const text = chart.innerText || '';
  return {
    id: chart.getAttribute('data-test-chart-id'),
    name: chart.getAttribute('data-test-chart-name'),
    viz_type: chart.getAttribute('data-test-viz-type'),
    canvas: canvases.length,
    table_rows: chart.querySelectorAll('tbody tr').length,
    loading: chart.querySelectorAll('.loading, [aria-label="Loading"], [data-test="loading-indicator"]').length,
    alert: chart.querySelectorAll('[role="alert"], .ant-alert, [data-test="alert"]').length,
    error_text: /error/i.test(text.replace(chart.getAttribute('data-test-chart-name') || '', '')),
    no_results: /No results/i.test(text),
    text: text.slice(0, 400),
  };
});
"""


def first_existing(paths: tuple[str, ...]) -> str:
    for path in paths:
        if Path(path).exists():
            return path
    raise FileNotFoundError(f"none of {paths} exists (apt-get install chromium chromium-driver)")


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = first_existing(CHROMIUM_CANDIDATES)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1600,2400",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=127.0.0.1",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(first_existing(DRIVER_CANDIDATES)), options=options)


def log_in(driver: webdriver.Chrome, base: str, password: str, attempts: int = 3) -> str:
    """Fill in the login form and submit it; return the page it leads to.

    The form is a React component: keys typed before React has taken the inputs over are
    lost, and the form then refuses to submit empty fields. So the values are checked before
    the click, and a form left on screen is filled in again (a slow machine's first load).
    """
    for _attempt in range(attempts):
        driver.get(f"{base}/login/")
        username = WebDriverWait(driver, 120).until(ec.element_to_be_clickable((By.ID, "username")))
        field = driver.find_element(By.ID, "password")
        for element, value in ((username, "admin"), (field, password)):
            element.clear()
            element.send_keys(value)
        if (username.get_attribute("value"), field.get_attribute("value")) != ("admin", password):
            continue
        WebDriverWait(driver, 30).until(
            ec.element_to_be_clickable((By.CSS_SELECTOR, '[data-test="login-button"]'))
        ).click()
        try:
            WebDriverWait(driver, 60).until(lambda d: not urlparse(d.current_url).path.startswith("/login"))
            return driver.current_url
        except TimeoutException:
            continue
    raise TimeoutError(
        f"still on the login page after {attempts} attempts: {driver.find_element(By.TAG_NAME, 'body').text[:500]}"
    )


def settled(chart: dict) -> bool:
    return not chart["loading"] and bool(
        chart["canvas"] or chart["table_rows"] or chart["alert"] or chart["error_text"] or chart["no_results"]
    )


def open_dashboard(driver: webdriver.Chrome, base: str, slug: str, shots: Path) -> dict:
    began = time.monotonic()
    driver.get(f"{base}/superset/dashboard/{slug}/")
    charts: list[dict] = []
    while time.monotonic() - began < SETTLE_SECONDS:
        time.sleep(1)
        # charts below the fold render when scrolled to
        for element in driver.find_elements(By.CSS_SELECTOR, '[data-test="chart-grid-component"]'):
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
        charts = driver.execute_script(CHART_STATE_JS)
        if charts and all(settled(c) for c in charts):
            time.sleep(1)  # let the last canvas finish its animation before the screenshot
            charts = driver.execute_script(CHART_STATE_JS)
            break
    driver.execute_script("window.scrollTo(0, 0);")
    height = driver.execute_script("return Math.max(document.body.scrollHeight, 1200);")
    driver.set_window_size(1600, min(int(height) + 200, 8000))
    time.sleep(1)
    shot = shots / f"{slug}.png"
    driver.save_screenshot(str(shot))
    driver.set_window_size(1600, 2400)
    return {
        "slug": slug,
        "title": driver.title,
        "url": driver.current_url,
        "seconds": round(time.monotonic() - began, 1),
        "charts": charts,
        "screenshot": str(shot),
    }


def outside_requests(driver: webdriver.Chrome, base: str) -> list[dict]:
    """Every request to anywhere but the Superset server, with how it ended."""
    local = urlparse(base).netloc
    requests: dict[str, dict] = {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if urlparse(url).scheme in ("http", "https", "ws", "wss") and urlparse(url).netloc != local:
                requests[params["requestId"]] = {"url": url, "blocked_reason": None, "error": None, "response": False}
        elif message["method"] == "Network.loadingFailed" and params.get("requestId") in requests:
            ended = {"blocked_reason": params.get("blockedReason"), "error": params.get("errorText")}
            requests[params["requestId"]].update(ended)
        elif message["method"] == "Network.responseReceived" and params.get("requestId") in requests:
            requests[params["requestId"]]["response"] = True
    return list(requests.values())


def main(argv: list[str]) -> int:
    base, password_file, shots, *slugs = argv
    Path(shots).mkdir(parents=True, exist_ok=True)
    driver = browser()
    try:
        landed = log_in(driver, base, Path(password_file).read_text().strip())
        dashboards = [open_dashboard(driver, base, slug, Path(shots)) for slug in slugs]
        report = {"after_login": landed, "dashboards": dashboards, "outside_requests": outside_requests(driver, base)}
    finally:
        driver.quit()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The real Superset on a served copy of a small generated world, looked at in headless Chromium.

``make test`` creates Superset's environment (``.venv-bi``, ``make bi-venv``); .ci/run also
installs Chromium and its driver and sets TELCO_MART_REQUIRE_BI, so there a missing piece
fails the test instead of skipping it. The world is the session's ``served_world``: the
real DAG's run, whose last task served the marts. Superset is set up by ``telco_mart.bi``
exactly as ``make bi`` sets it up (the dashboards imported from bi/assets/), served by
gunicorn on 127.0.0.1, and a browser logs in through the login form and opens every
dashboard (tests/bi/browse_dashboards.py). The screenshots are kept in
``$TELCO_MART_TEST_ARTEFACTS/bi/`` (default ``test-artefacts/bi/``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from telco_mart import bi
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.e2e

BI_VENV = Path(os.environ.get("TELCO_MART_BI_VENV", REPO_ROOT / ".venv-bi"))
REQUIRE_BI = bool(os.environ.get("TELCO_MART_REQUIRE_BI"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or next(
    (p for p in ("/usr/lib/chromium/chromedriver",) if Path(p).exists()), None
)
MISSING = [
    what
    for what, there in (
        (f"Superset ({BI_VENV}; make bi-venv)", (BI_VENV / "bin" / "superset").exists()),
        ("chromium (apt-get install chromium)", CHROMIUM),
        ("chromedriver (apt-get install chromium-driver)", CHROMEDRIVER),
    )
    if not there
]
ARTEFACTS = Path(os.environ.get("TELCO_MART_TEST_ARTEFACTS", REPO_ROOT / "test-artefacts")) / "bi"
BROWSE = Path(__file__).with_name("browse_dashboards.py")

#: The operator's dashboards the issue asks for, by slug.
DASHBOARDS = ("network-coverage", "churn", "cross-sell", "segments", "campaigns", "data-quality")

if MISSING and not REQUIRE_BI:
    pytest.skip(f"not installed: {', '.join(MISSING)} (CI installs them)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_health(url: str, server: subprocess.Popen, log: Path, seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, f"Superset exited ({server.returncode}):\n{log.read_text()[-5000:]}"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"Superset did not answer on {url}/health in {seconds} s:\n{log.read_text()[-5000:]}")


def expected_charts() -> dict[str, list[str]]:
    """Per dashboard slug, the names of the charts its YAML in bi/assets/ lays out."""
    out = {}
    for path in (bi.ASSETS_DIR / "dashboards").glob("*.yaml"):
        dashboard = yaml.safe_load(path.read_text())
        layout = [item for item in dashboard["position"].values() if isinstance(item, dict)]
        out[dashboard["slug"]] = sorted(item["meta"]["sliceName"] for item in layout if item.get("type") == "CHART")
    return out


@pytest.fixture(scope="module")
def superset(served_world: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    assert not MISSING, f"TELCO_MART_REQUIRE_BI is set but these are missing: {MISSING}"
    served = Path(served_world["TELCO_MART_DATA_DIR"]) / "serving" / "telco_mart.duckdb"
    settings = bi.BiSettings(
        home=tmp_path_factory.mktemp("superset_home"), venv=BI_VENV, port=free_port(), serving_path=served
    )
    password = bi.initialise(settings, log=lambda _line: None)
    log = settings.home / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            bi.server_command(settings),
            env=bi.superset_environment(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_health(settings.url, server, log)
        yield settings, password, server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


@pytest.fixture(scope="module")
def browsed(superset) -> dict:
    settings, _password, _server = superset
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    command = [str(BI_VENV / "bin" / "python"), str(BROWSE), settings.url, str(settings.password_file)]
    proc = subprocess.run(
        [*command, str(ARTEFACTS), *DASHBOARDS],
        capture_output=True,
        text=True,
        timeout=900,
        env=dict(os.environ, SE_AVOID_STATS="true"),  # Selenium's own usage statistics: off
        check=False,
    )
    assert proc.returncode == 0, f"browsing failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    (ARTEFACTS / "report.json").write_text(json.dumps(report, indent=2))
    return report


def test_the_login_form_lets_the_admin_in_with_the_generated_password(superset, browsed: dict) -> None:
    settings, password, _server = superset
    assert settings.password_file.read_text().strip() == password and len(password) >= 12
    assert "/login" not in browsed["after_login"]
    opened = [urlparse(d["url"]).path for d in browsed["dashboards"]]
    assert opened == [f"/superset/dashboard/{slug}/" for slug in DASHBOARDS]


def test_every_dashboard_renders_every_chart_with_data_and_no_error(browsed: dict) -> None:
    expected = expected_charts()
    assert set(expected) == set(DASHBOARDS), "bi/assets/ holds other dashboards than the tested ones"
    problems = []
    for dashboard in browsed["dashboards"]:
        charts = dashboard["charts"]
        assert sorted(c["name"] for c in charts) == expected[dashboard["slug"]], dashboard["slug"]
        for chart in charts:
            drew = chart["canvas"] > 0 or chart["table_rows"] > 0
            if chart["loading"] or chart["alert"] or chart["error_text"] or chart["no_results"] or not drew:
                problems.append(f"{dashboard['slug']} / {chart['name']} ({chart['viz_type']}): {chart['text'][:300]!r}")
        shot = Path(dashboard["screenshot"])
        assert shot.stat().st_size > 50_000, f"{shot} looks blank"
    assert problems == []


def test_nothing_is_loaded_from_outside_the_server(browsed: dict) -> None:
    """Superset's frontend asks for a usage pixel on another host; its Content Security Policy
    (bi/superset_config.py) stops that in the browser, before any network is involved."""
    leaked = [r for r in browsed["outside_requests"] if r["response"] or r["blocked_reason"] != "csp"]
    assert leaked == []


def test_superset_listens_on_the_loopback_address_only(superset) -> None:
    settings = superset[0]
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port = local.rsplit(":", 1)
            if state == "0A" and int(port, 16) == settings.port:  # 0A: LISTEN
                listening.append(address)
    assert listening == ["0100007F"], listening  # 127.0.0.1, and nothing on other addresses

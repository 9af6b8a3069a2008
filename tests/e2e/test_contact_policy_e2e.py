"""Contact policy under real operations, through the real operator_daily DAG (`airflow dags test`).

One generated world, six days, run the way operators run it: the history on Jan 3; Jan 4
skipped by the scheduler; an opt-out file for Jan 2 landing late; Jan 5's opt-out delivery
missing until the operator declares it empty; Jan 3 rerun after Jan 5 was published, then
reissued. Each step asserts what the issue promised (19.1 to 19.6), and every published day
is checked together at the end: no opted-out subscriber, no two contacts on one channel for a
subscriber on a day, no personal data in any task log.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from tests.conftest import dag_environment

pytestmark = pytest.mark.e2e

CLI = str(Path(sys.executable).with_name("telco-mart"))
START, D2, D3, D4, D5 = (date(2026, 1, day) for day in (1, 2, 3, 4, 5))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    from telco_mart.generate import generate

    root = tmp_path_factory.mktemp("policy_world")
    landing = root / "landing"
    generate(subscribers=300, start=START, end=D5, seed=19, out=landing, fmt="csv", events_per_sub_day=4.0)
    # Jan 5's opt-out delivery has not arrived
    shutil.move(landing / "opt_outs" / D5.isoformat(), root / "opt_outs_jan5_held_back")
    data = root / "data"
    data.mkdir()
    env = dag_environment(landing, root / "airflow_home", data)
    return {"env": env, "landing": landing, "outbox": data / "outbox", "logs": []}


def cli(env: dict[str, str], *args: str, expect_failure: bool = False) -> str:
    proc = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, check=False)
    if expect_failure:
        assert proc.returncode != 0, f"{args} succeeded, a failure was expected"
    elif proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout + proc.stderr


def run_day(world: dict, day: date, *, expect_failure: bool = False) -> str:
    log = cli(world["env"], "airflow", "dags", "test", "operator_daily", day.isoformat(), expect_failure=expect_failure)
    world["logs"].append(log)
    return log


def query(world: dict, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(world["env"]["TELCO_MART_WAREHOUSE"], read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def outbox(world: dict, day: date) -> dict[str, bytes]:
    folder = world["outbox"] / day.isoformat()
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.is_dir() else {}


def listed(files: dict[str, bytes]) -> list[dict[str, str]]:
    return [
        row
        for name, content in files.items()
        if name.endswith(".csv")
        for row in csv.DictReader(io.StringIO(content.decode()))
    ]


def test_the_history_publishes(world: dict) -> None:
    run_day(world, D3)
    assert outbox(world, D3)
    assert oct((world["outbox"] / D3.isoformat() / "manifest.json").stat().st_mode & 0o777) == "0o640"


def test_a_missing_consent_delivery_stops_the_day_and_a_declaration_releases_it(world: dict) -> None:
    """Jan 4 never runs (the scheduler skipped it); an opt-out file for Jan 2 lands late.
    Jan 5 has no opt-out delivery: the run fails naming the feed and the date, publishing
    nothing. Declared empty by the operator, the rerun publishes, with the late and skipped
    files taken in and the late opt-outs obeyed."""
    eligible_before = sorted(
        s for (s,) in query(world, "select distinct subscriber_id from marts.campaign_decisions_daily")
    )[:40]
    late = world["landing"] / "opt_outs" / D2.isoformat() / "opt_outs_late.csv"
    late.write_text(
        "subscriber_id,channel,opted_out,do_not_disturb,effective_at\n"
        + "".join(f"{s},all,true,false,2026-01-02 09:00:00\n" for s in eligible_before)
    )
    log = run_day(world, D5, expect_failure=True)
    assert "missing_due_delivery" in log and "raw.opt_outs on 2026-01-05" in log
    assert not outbox(world, D5)

    cli(
        world["env"], "deliveries", "declare-empty", "--feed", "opt_outs", "--date", D5.isoformat(),
        "--by", "duty engineer", "--reason", "CRM export log: no opt-out on Jan 5",
    )  # fmt: skip
    run_day(world, D5)
    files = outbox(world, D5)
    manifest = json.loads(files["manifest.json"])
    late_files = {entry["file"] for entry in manifest["late_deliveries"]}
    assert f"opt_outs/{D2}/opt_outs_late.csv" in late_files
    assert any(f.startswith(f"usage_events/{D4}/") for f in late_files)  # the skipped day's files
    assert manifest["governing_feed_watermarks"] == {"subscribers": "2026-01-05", "contact_history": "2026-01-05",
                                                     "opt_outs": "2026-01-05"}  # fmt: skip
    targeted = {row["subscriber_id"] for row in listed(files)}
    assert not targeted & set(eligible_before), "a subscriber opted out by the late file was published"
    suppressed = query(
        world,
        "select count(*) from marts.campaign_decisions_daily where decision_date = ? "
        "and decision = 'suppressed:opted_out' and subscriber_id in (select unnest(?))",
        [D5, eligible_before],
    )
    assert suppressed[0][0] > 0, "the late opt-outs decided nothing: the case is vacuous"
    # the skipped day's facts were built by Jan 5's run
    assert query(world, "select count(*) from marts.fct_subscriber_daily where date_day = ?", [D4])[0][0] > 0


def test_rerunning_an_older_day_after_later_ones_rewrites_nothing(world: dict) -> None:
    """Jan 3 rerun after Jan 5 was published: files and contact history stay as they are. Its
    lists hold subscribers the late file opted out (it landed after they were published): the
    publish gate says so, as a warning that points at a reissue, and changes nothing."""
    before = {day: outbox(world, day) for day in (D3, D5)}
    contacts = query(world, "select * exclude (published_at) from raw.published_contacts order by all")
    log = run_day(world, D3)
    assert {day: outbox(world, day) for day in (D3, D5)} == before
    assert query(world, "select * exclude (published_at) from raw.published_contacts order by all") == contacts
    assert "was published by run" in log and "verified unchanged" in log
    opted = {s for (s,) in query(world, "select subscriber_id from raw.opt_outs where _source_file like '%late%'")}
    if {row["subscriber_id"] for row in listed(before[D3])} & opted:
        assert "was published before these findings" in log and "opted_out_or_dnd_rows" in log


def test_a_reissue_decides_the_day_against_every_contact_published_since(world: dict) -> None:
    old = outbox(world, D3)
    cli(
        world["env"], "publish", "reissue", "--date", D3.isoformat(), "--by", "marketing ops",
        "--reason", "late opt-out file; the Jan 3 lists were not sent",
    )  # fmt: skip
    assert not outbox(world, D3)
    assert [p.name.split(".")[0] for p in (world["outbox"] / ".superseded").iterdir()] == [D3.isoformat()]
    run_day(world, D3)
    new = outbox(world, D3)
    assert new and new != old
    opted = {s for (s,) in query(world, "select subscriber_id from raw.opt_outs where _source_file like '%late%'")}
    assert not {row["subscriber_id"] for row in listed(new)} & opted
    # caps and cool-downs counted Jan 5's published contacts: no campaign meets a subscriber
    # on both days inside its cool-down
    cooldowns = dict(query(world, "select campaign_id, cooldown_days from raw.campaigns"))
    later = {(r["subscriber_id"], r["campaign_id"]) for r in listed(outbox(world, D5))}
    for row in listed(new):
        if (row["subscriber_id"], row["campaign_id"]) in later:
            assert cooldowns[row["campaign_id"]] <= (D5 - D3).days, row
    assert query(world, "select status, superseded_by from raw.published_days where publish_date = ? order by all",
                 [D3]) == [("published", None), ("superseded", "marketing ops")]  # fmt: skip


def test_every_published_day_together_obeys_the_policy_and_no_log_holds_personal_data(world: dict) -> None:
    days = sorted(p.name for p in world["outbox"].glob("????-??-??"))
    assert days == [D3.isoformat(), D5.isoformat()]
    for day in days:
        rows = listed(outbox(world, date.fromisoformat(day)))
        channel_of = dict(query(world, "select campaign_id, channel from raw.campaigns"))
        pairs = [(r["subscriber_id"], channel_of[r["campaign_id"]]) for r in rows]
        assert len(pairs) == len(set(pairs)), f"{day}: a subscriber twice on one channel"
    personal = {
        value
        for row in query(world, "select msisdn, full_name, id_number from raw.subscribers")
        for value in row
        if value and len(value) >= 6
    }
    text = "\n".join(world["logs"])
    leaked = sorted(v for v in personal if v in text)
    assert not leaked, f"personal data in the task logs: {leaked[:3]}"

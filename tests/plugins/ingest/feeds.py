"""What the ingestion tests write and read: hand-written rows of each reference feed, a feed's
CSV file in the landing, one ingest of a day, and the registry and quarantine rows it left.

Kept in one module (not in a test module other tests import from), beside the ``landing`` and
``con`` fixtures of ``conftest.py``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import yaml

from telco_mart.contract import load_contract
from telco_mart.contract.operator_profile import OperatorProfile, load_profile
from telco_mart.ingest import ingest

DAY = date(2026, 3, 1)
CONTRACT = load_contract()

PLAN = {
    "plan_id": "P1",
    "plan_name": "Basic",
    "payment_type": "prepaid",
    "plan_category": "basic",
    "monthly_fee": "10",
    "data_allowance_mb": "1000",
    "voice_allowance_min": "100",
    "sms_allowance": "50",
    "is_family_plan": "false",
    "plan_term_months": "",
}
SUBSCRIBER = {
    "subscriber_id": "S1",
    "msisdn": "+254700000001",
    "account_id": "A1",
    "household_id": "H1",
    "full_name": "Amina",
    "id_number": "X1",
    "birth_date": "1990-02-03",
    "gender": "F",
    "region": "north",
    "plan_id": "P1",
    "payment_type": "prepaid",
    "activation_date": "2020-01-01",
    "status": "active",
    "status_date": "2020-01-01",
    "port_out_requested_at": "",
    "contact_number_valid": "true",
    "updated_at": "2026-03-01 00:00:00",
}
CELL = {
    "cell_id": "C1",
    "site_id": "SITE1",
    "region": "north",
    "technology": "4G",
    "latitude": "-1.2",
    "longitude": "36.8",
    "population_covered": "",
    "updated_at": "2026-03-01 00:00:00",
}
EVENT = {
    "event_id": "E1",
    "subscriber_id": "S1",
    "event_ts": "2026-03-01 10:00:00",
    "event_type": "voice",
    "call_type": "on_net",
    "duration_sec": "60",
    "data_mb": "",
    "cell_id": "C1",
    "charged_amount": "1.5",
}


def write_feed(
    landing: Path,
    feed: str,
    rows: list[dict[str, str]],
    *,
    day: date = DAY,
    name: str | None = None,
    columns: list[str] | None = None,
    tail: str = "",
) -> Path:
    columns = columns or CONTRACT.feed(feed).column_names
    folder = landing / feed / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{feed}_{day.isoformat()}.csv")
    lines = [",".join(columns)] + [",".join(row.get(c, "") for c in columns) for row in rows]
    path.write_text("\n".join(lines) + "\n" + tail, encoding="utf-8")
    return path


def run(con: duckdb.DuckDBPyConnection, landing: Path, profile: OperatorProfile | None = None, *, day: date = DAY):
    """Ingest every landed file up to ``day`` (read through ``profile``), quietly."""
    return ingest(con, landing, day, progress=lambda _: None, profile=profile)


def profile_file(tmp_path: Path, document: dict) -> OperatorProfile:
    path = tmp_path / "operator.yml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return load_profile(str(path))


def outcome(report, feed: str):
    (found,) = [o for o in report.outcomes if o.feed == feed]
    return found


def registry_row(con, feed: str) -> tuple:
    return con.execute(
        "select status, rows_read, rows_loaded, rows_quarantined, rows_normalised, normalisations, note "
        "from raw.file_registry where feed = ?",
        [feed],
    ).fetchall()[0]


def quarantined(con, feed: str) -> list[tuple[int, str]]:
    return con.execute("select source_line, reason from raw.quarantine where feed = ? order by 1", [feed]).fetchall()

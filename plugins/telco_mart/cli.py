"""The ``telco-mart`` command: generate data, ingest by hand, render docs, run Airflow.

Everything here is a thin shell over the library; the DAG calls the same functions.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

from telco_mart.config import Settings


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _cmd_generate(args: argparse.Namespace) -> int:
    from telco_mart.generate import generate

    if args.end < args.start:
        raise SystemExit("--end must not be before --start")
    summary = generate(
        subscribers=args.subscribers,
        start=args.start,
        end=args.end,
        seed=args.seed,
        out=args.out,
        fmt=args.format,
        defects=args.defects,
        events_per_sub_day=args.events_per_sub_day,
        log=print,
        dialect=args.dialect,
    )
    print(
        f"generated {summary.files_written:,} files in {summary.seconds:.1f}s under {summary.out}: "
        + ", ".join(f"{feed} {rows:,}" for feed, rows in summary.rows_per_feed.items())
    )
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from telco_mart.contract.operator_profile import load_profile
    from telco_mart.ingest import ingest
    from telco_mart.warehouse import connect

    settings = Settings.from_env()
    landing = args.landing or settings.landing_dir
    warehouse = args.warehouse or settings.warehouse_path
    profile = load_profile(args.profile)
    dates = None
    if args.start:
        end = args.end or args.start
        dates = [date.fromordinal(d) for d in range(args.start.toordinal(), end.toordinal() + 1)]
    if args.dry_run:
        return _dry_run(args, landing, warehouse, dates, profile)
    run_date = (dates[-1] if dates else None) or args.date or date.today()
    with connect(warehouse, settings=settings) as con:
        report = ingest(con, landing, run_date, dates=dates, progress=print, profile=profile)
    print(json.dumps(report.summary(), indent=2))
    return 1 if report.totals()["files_rejected"] and args.fail_on_rejected else 0


def _dry_run(args: argparse.Namespace, landing: Path, warehouse: Path, dates: list[date] | None, profile) -> int:
    """``ingest --dry-run``: each file's verdict, nothing written (telco_mart.ingest.dry_run)."""
    from telco_mart.ingest.dry_run import dry_run

    if dates is None and args.date:
        dates = [args.date]
    report = dry_run(landing, dates, warehouse=warehouse, profile=profile)
    print(report.describe())
    if args.json:
        args.json.write_text(json.dumps(report.summary(), indent=2), encoding="utf-8")
        print(f"verdicts: {args.json}")
    return 1 if report.totals()["files_would_reject"] and args.fail_on_rejected else 0


def _cmd_contract(args: argparse.Namespace) -> int:
    from telco_mart.contract import load_contract, render_markdown

    text = render_markdown(load_contract())
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    """What a person wants to see after a run: what was built, what was kept out, and where."""
    from telco_mart.pipeline import table_row_counts
    from telco_mart.warehouse import connect

    settings = Settings.from_env()
    counts = table_row_counts(settings)
    with connect(settings=settings, read_only=True) as con:
        files = con.execute(
            "select status, count(*), sum(rows_read), sum(rows_loaded), sum(rows_quarantined) "
            "from raw.file_registry group by 1 order by 1"
        ).fetchall()
        reasons = con.execute(
            "select feed, reason, count(*) from raw.quarantine group by all order by 3 desc limit 10"
        ).fetchall()
    print("\n== telco-mart warehouse ==")
    print(f"warehouse file : {settings.warehouse_path}")
    print(f"landing folder : {settings.landing_dir}")
    if args.run_log:
        print(f"Airflow run log: {args.run_log}")
    for schema in ("raw", "staging", "intermediate", "marts"):
        tables = {t: n for t, n in counts.items() if t.startswith(schema + ".")}
        print(f"\n{schema}: {len(tables)} tables, {sum(tables.values()):,} rows")
        for table, rows in tables.items():
            print(f"  {table:<45} {rows:>12,}")
    print("\nfiles by status (files, rows read, loaded, quarantined):")
    for status, n, read, loaded, quarantined in files:
        print(f"  {status:<18} {n:>6,} {read or 0:>14,} {loaded or 0:>14,} {quarantined or 0:>12,}")
    if reasons:
        print("quarantine by reason:")
        for feed, reason, n in reasons:
            print(f"  {feed:<20} {reason:<40} {n:>8,}")
    _print_outbox(settings)
    explore = f"duckdb.connect('{settings.warehouse_path}', read_only=True).sql('show all tables').show()"
    print(f'\nExplore: .venv/bin/python -c "import duckdb; {explore}"')
    return 0


def _print_outbox(settings: Settings) -> None:
    """The latest published day, as marketing will find it."""
    import json

    days = sorted(p for p in settings.outbox_dir.glob("????-??-??") if (p / "_SUCCESS").exists())
    if not days:
        print(f"\noutbox {settings.outbox_dir}: nothing published yet")
        return
    manifest = json.loads((days[-1] / "manifest.json").read_text())
    print(f"\noutbox {settings.outbox_dir}: {len(days)} published day(s), latest {days[-1].name}:")
    for entry in manifest["files"]:
        print(f"  {entry['name']:<34} {entry['rows']:>9,} rows")
    print(f"  (verify and copy: telco-mart targets --date {days[-1].name} [--copy-to DIR])")


def _cmd_quality_scaffold(args: argparse.Namespace) -> int:
    from telco_mart.contract import load_contract
    from telco_mart.quality.config import expectations_dir
    from telco_mart.quality.scaffold import scaffold

    changed = scaffold(load_contract(), expectations_dir(), write=not args.check)
    for path in changed:
        print(f"{'out of date' if args.check else 'wrote'}: {path}")
    return 1 if args.check and changed else 0


def _cmd_quality_check(args: argparse.Namespace) -> int:
    """Rerun one stage of the data-quality gate by hand, as the DAG's task for that stage does."""
    from telco_mart import pipeline
    from telco_mart.quality import QualityGateFailed

    if args.stage != "raw" and (given := [f for f, v in (("--start", args.start), ("--end", args.end)) if v]):
        args.usage_error(
            f"{' and '.join(given)} {'apply' if len(given) > 1 else 'applies'} only to --stage raw (a range "
            f"of delivery dates); --stage {args.stage} checks the run date's slice: give --date only"
        )
    if (args.end or args.date) < (args.start or args.date):
        args.usage_error("the delivery dates --start..--end (each --date when not given) run backwards")
    delivery_dates = {"start": args.start, "end": args.end} if args.stage == "raw" else {}
    try:
        summary = pipeline.run_quality_gate(args.stage, args.date, **delivery_dates)
    except QualityGateFailed as failed:
        print(failed, file=sys.stderr)  # names the failures and ends with the report's path
        return 1
    print(json.dumps(summary, indent=2))
    print(f"report: {summary['report']}", file=sys.stderr)
    return 0


def _cmd_campaigns_validate(args: argparse.Namespace) -> int:
    from telco_mart.campaigns.catalog import CatalogError, describe, load_catalog

    try:
        catalog = load_catalog(args.catalog)
    except CatalogError as invalid:
        print(invalid, file=sys.stderr)
        return 1
    print(describe(catalog))
    return 0


def _cmd_targets(args: argparse.Namespace) -> int:
    """Show marketing what a published day holds, verified against its manifest; optionally copy it."""
    from telco_mart.publish import PublishError, copy_day, verify_day

    outbox = args.outbox or Settings.from_env().outbox_dir
    try:
        manifest, files = verify_day(outbox, args.date, args.campaign)
    except PublishError as missing:
        print(missing, file=sys.stderr)
        return 1
    print(
        f"{outbox / args.date.isoformat()}: run {manifest['run_id']}, catalog {manifest['catalog_version']}, "
        f"data up to {manifest['data_watermark']}"
    )
    for f in files:
        status = "ok" if f.ok else f"FAILED: {f.problem}"
        print(f"  {f.name:<34} {f.rows:>9,} rows  sha256 {f.sha256[:16]}  {status}")
    if any(not f.ok for f in files):
        print("verification failed: do not send these files; rerun the day's publish", file=sys.stderr)
        return 1
    print(f"  {'total':<34} {sum(f.rows for f in files):>9,} rows, checksums verified")
    if args.copy_to:
        try:
            copied = copy_day(outbox, args.date, args.copy_to, args.campaign)
        except PublishError as failed:
            print(failed, file=sys.stderr)
            return 1
        print(f"copied {len(copied)} files to {args.copy_to}")
    return 0


def _cmd_init(args: argparse.Namespace) -> int:
    """Create the warehouse (the only command that does), or confirm the one that exists."""
    from telco_mart.warehouse import init_warehouse

    settings = Settings.from_env()
    warehouse_id, created = init_warehouse(settings)
    verb = "created" if created else "already exists:"
    print(f"warehouse {verb} {settings.warehouse_path} (id {warehouse_id})")
    return 0


def _operator_command(run: Any) -> int:
    """Run an operator command against the warehouse: a refusal is one line and exit 1."""
    from telco_mart.ingest import RetractError
    from telco_mart.ledger import LedgerError
    from telco_mart.publish import PublishError
    from telco_mart.warehouse import WarehouseBusy, WarehouseMissing

    try:
        result = run()
    except (LedgerError, RetractError, PublishError, WarehouseMissing, WarehouseBusy) as refused:
        print(f"refused: {refused}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str))
    return 0


def _cmd_declare_empty(args: argparse.Namespace) -> int:
    from telco_mart.ledger import days_between, declare_empty
    from telco_mart.warehouse import connect

    def run() -> dict[str, Any]:
        with connect() as con:
            dates = declare_empty(con, args.feed, days_between(args.date, args.end or args.date), args.by, args.reason)
        return {"feed": args.feed, "declared_empty": [d.isoformat() for d in dates], "by": args.by}

    return _operator_command(run)


def _cmd_retract(args: argparse.Namespace) -> int:
    from telco_mart.ingest import retract_delivery
    from telco_mart.warehouse import connect

    def run() -> dict[str, Any]:
        with connect() as con:
            return retract_delivery(con, args.file, args.by, args.reason)

    return _operator_command(run)


def _cmd_replay(args: argparse.Namespace) -> int:
    from telco_mart.contract import load_contract
    from telco_mart.ingest import replay_quarantine
    from telco_mart.warehouse import connect

    def run() -> dict[str, Any]:
        with connect() as con:
            replayed = replay_quarantine(con, load_contract(), progress=print)
        return {"rows_loaded_per_delivery_date": {d.isoformat(): n for d, n in replayed.items()}}

    return _operator_command(run)


def _cmd_waive(args: argparse.Namespace) -> int:
    from telco_mart.ledger import waive_day
    from telco_mart.warehouse import connect

    def run() -> dict[str, Any]:
        with connect() as con:
            waive_day(con, args.date, args.by, args.reason)
        return {"waived": args.date.isoformat(), "by": args.by, "reason": args.reason}

    return _operator_command(run)


def _cmd_reissue(args: argparse.Namespace) -> int:
    from telco_mart.publish import reissue_day

    return _operator_command(lambda: reissue_day(args.date, args.by, args.reason))


def _cmd_airflow(args: argparse.Namespace) -> int:
    """Run the Airflow CLI in this project's environment (paths, no telemetry)."""
    from telco_mart.runtime import airflow_environment

    env = airflow_environment()
    airflow = Path(sys.executable).with_name("airflow")
    os.execve(str(airflow), [str(airflow), *args.airflow_args], env)
    return 0  # pragma: no cover - execve does not return


def build_parser() -> argparse.ArgumentParser:
    from telco_mart.pipeline import QUALITY_STAGES

    parser = argparse.ArgumentParser(prog="telco-mart", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write synthetic operator feeds as daily files")
    gen.add_argument("--subscribers", type=int, required=True)
    gen.add_argument("--start", type=_date, required=True, help="first delivery date")
    gen.add_argument("--end", type=_date, required=True, help="last delivery date (inclusive)")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--out", type=Path, required=True, help="landing folder to write <feed>/<date>/ into")
    gen.add_argument("--format", choices=("csv", "parquet"), default="csv")
    gen.add_argument("--defects", action="store_true", help="plant the bad input real feeds carry (csv only)")
    gen.add_argument(
        "--events-per-sub-day",
        type=float,
        default=10.0,
        help="mean usage events per active subscriber per day",
    )
    gen.add_argument(
        "--dialect",
        help="write the CSV files as an operator profile spells them (a bundled name such as example_operator, "
        "or a YAML path); ingest them with TELCO_MART_OPERATOR_PROFILE set to the same",
    )
    gen.set_defaults(func=_cmd_generate)

    ing = sub.add_parser("ingest", help="load landed files into the warehouse's raw schema")
    ing.add_argument("--date", type=_date, help="logical date (default today; all history on a fresh warehouse)")
    ing.add_argument("--start", type=_date, help="first delivery date of an explicit range")
    ing.add_argument("--end", type=_date, help="last delivery date of an explicit range")
    ing.add_argument("--landing", type=Path, help="landing folder (default $TELCO_MART_LANDING_DIR)")
    ing.add_argument("--warehouse", type=Path, help="DuckDB file (default $TELCO_MART_WAREHOUSE)")
    ing.add_argument("--fail-on-rejected", action="store_true", help="exit 1 when a file was rejected")
    ing.add_argument(
        "--profile", help="operator profile: a bundled name or a YAML path (default $TELCO_MART_OPERATOR_PROFILE)"
    )
    ing.add_argument(
        "--dry-run",
        action="store_true",
        help="report per file what would load, be normalised and be quarantined, and why; write nothing "
        "(dates: --start/--end, --date, or every delivery date landed)",
    )
    ing.add_argument("--json", type=Path, help="with --dry-run: also write the verdicts as JSON to this file")
    ing.set_defaults(func=_cmd_ingest)

    con = sub.add_parser("contract", help="render the raw contract as Markdown")
    con.add_argument("--markdown", action="store_true", help="Markdown output (the only format)")
    con.add_argument("--out", type=Path, help="write to this file instead of stdout")
    con.set_defaults(func=_cmd_contract)

    summ = sub.add_parser("summary", help="what the warehouse holds: tables, files, quarantine")
    summ.add_argument("--run-log", type=Path, help="log of the run to point the reader at")
    summ.set_defaults(func=_cmd_summary)

    quality = sub.add_parser("quality", help="the data-quality gate (suites in expectations/)")
    quality_sub = quality.add_subparsers(dest="quality_command", required=True)
    scaffold = quality_sub.add_parser(
        "scaffold", help="write the raw suites' contract-derived expectations (keeps hand-written ones)"
    )
    scaffold.add_argument("--check", action="store_true", help="change nothing; exit 1 if a suite is out of date")
    scaffold.set_defaults(func=_cmd_quality_scaffold)
    check = quality_sub.add_parser(
        "check",
        help="rerun a stage of the gate on the warehouse: raw (delivery dates), marts or publish (the run date)",
    )
    check.add_argument(
        "--stage",
        choices=QUALITY_STAGES,
        default="raw",
        help="raw: the raw feeds after ingest (default); marts: the public marts after dbt; "
        "publish: the day's target lists before the outbox",
    )
    check.add_argument("--date", type=_date, required=True, help="run date (the report goes under it)")
    check.add_argument("--start", type=_date, help="raw only: first delivery date to validate (default --date)")
    check.add_argument("--end", type=_date, help="raw only: last delivery date to validate (default --date)")
    check.set_defaults(func=_cmd_quality_check, usage_error=check.error)

    campaigns = sub.add_parser("campaigns", help="the campaign catalog (campaigns/catalog.yml)")
    campaigns_sub = campaigns.add_subparsers(dest="campaigns_command", required=True)
    validate = campaigns_sub.add_parser("validate", help="check the catalog and list its campaigns")
    validate.add_argument("--catalog", type=Path, help="catalog file (default $TELCO_MART_CAMPAIGN_CATALOG)")
    validate.set_defaults(func=_cmd_campaigns_validate)

    targets = sub.add_parser("targets", help="a published day's target lists: files, counts, verified checksums")
    targets.add_argument("--date", type=_date, required=True, help="the day (logical date) of the lists")
    targets.add_argument("--campaign", help="one campaign only")
    targets.add_argument("--copy-to", type=Path, help="copy the verified files and manifest to this folder")
    targets.add_argument("--outbox", type=Path, help="outbox folder (default $TELCO_MART_OUTBOX_DIR)")
    targets.set_defaults(func=_cmd_targets)

    init = sub.add_parser("init", help="create the warehouse (nothing else ever creates one)")
    init.set_defaults(func=_cmd_init)

    def accountable(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--by", required=True, help="who decides this (recorded)")
        parser.add_argument("--reason", required=True, help="why (recorded)")

    deliveries = sub.add_parser("deliveries", help="operator corrections of what was delivered")
    deliveries_sub = deliveries.add_subparsers(dest="deliveries_command", required=True)
    empty = deliveries_sub.add_parser(
        "declare-empty",
        help="record that a feed rightly delivered nothing for a date (range), so publish may proceed",
    )
    empty.add_argument("--feed", required=True, help="feed name, e.g. opt_outs")
    empty.add_argument("--date", type=_date, required=True, help="delivery date")
    empty.add_argument("--end", type=_date, help="last delivery date of a range (default --date)")
    accountable(empty)
    empty.set_defaults(func=_cmd_declare_empty)
    retract = deliveries_sub.add_parser(
        "retract", help="take back a delivery: its rows, quarantine and registry entry; its date is rebuilt next run"
    )
    retract.add_argument("--file", required=True, help="the file as registered: <feed>/<YYYY-MM-DD>/<name>")
    accountable(retract)
    retract.set_defaults(func=_cmd_retract)
    replay = deliveries_sub.add_parser(
        "replay", help="load quarantined rows whose missing reference has arrived (every run also does it)"
    )
    replay.set_defaults(func=_cmd_replay)

    days = sub.add_parser("days", help="the order of days: waive a failed day so later days may publish")
    days_sub = days.add_subparsers(dest="days_command", required=True)
    waive = days_sub.add_parser("waive", help="let later days publish although this day is not built")
    waive.add_argument("--date", type=_date, required=True, help="the failed or unbuilt day")
    accountable(waive)
    waive.set_defaults(func=_cmd_waive)

    publish = sub.add_parser("publish", help="published days")
    publish_sub = publish.add_subparsers(dest="publish_command", required=True)
    reissue = publish_sub.add_parser(
        "reissue",
        help="set a published day aside so that its next run decides it afresh against every contact published since",
    )
    reissue.add_argument("--date", type=_date, required=True, help="the published day")
    accountable(reissue)
    reissue.set_defaults(func=_cmd_reissue)

    air = sub.add_parser("airflow", help="run the airflow CLI with this project's environment")
    air.add_argument("airflow_args", nargs=argparse.REMAINDER)
    air.set_defaults(func=_cmd_airflow)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(message)s")
    from telco_mart.contract.operator_profile import ProfileError

    try:
        return args.func(args)
    except ProfileError as bad:  # a profile a person wrote: the reason, not a traceback
        print(f"operator profile: {bad}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

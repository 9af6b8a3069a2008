"""The ``telco-mart`` command: generate data, ingest by hand, run and check the pipeline, run Airflow.

Everything here is a thin shell over the library; the DAG calls the same functions. One
function per command: a new command is a new decorated function (``@app.command()``, or
``@quality.command()`` for a subcommand), with its options documented where they are declared
and examples in its ``epilog``. Errors a person can fix (a bad setting, a missing folder) end
in one line on stderr and a non-zero exit code, never a traceback (``fail``, ``main``).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from telco_mart.config import Settings, SettingsError

#: The demo's scale and dates (Makefile DEMO_*): the generator's defaults are the same.
DEMO_SUBSCRIBERS = 20_000
DEMO_START = date(2026, 1, 1)
DEMO_END = date(2026, 6, 30)
DEMO_SEED = 42
DEMO_EVENTS_PER_SUB_DAY = 5.0

#: Exit codes: 1 the data or a run failed (a gate, a verification); 2 the command or a setting is wrong.
FAILED, MISUSED = 1, 2


def examples(*lines: str) -> str:
    """A command's examples, kept line by line in the help (``\\b`` stops click re-wrapping them)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


app = typer.Typer(
    name="telco-mart",
    help="Marketing data warehouse for mobile operators: generate data, run and check the pipeline, run Airflow.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    epilog=examples(
        "telco-mart run --date 2026-06-30      # one day of operator_daily through Airflow, task by task",
        "telco-mart summary                    # what the warehouse holds",
        "telco-mart targets --date 2026-06-30  # that day's published target lists, verified",
        "telco-mart COMMAND --help             # a command's options, defaults and examples",
    ),
)
quality = typer.Typer(help="The data-quality gate (suites in expectations/).", no_args_is_help=True)
campaigns = typer.Typer(help="The campaign catalog (campaigns/catalog.yml).", no_args_is_help=True)
deliveries = typer.Typer(
    help="Operator corrections of what was delivered, each recorded with who and why.", no_args_is_help=True
)
days = typer.Typer(help="The order of days: waive a failed day so later days may publish.", no_args_is_help=True)
publishing = typer.Typer(help="Published days (they are history: changing one is explicit).", no_args_is_help=True)
app.add_typer(quality, name="quality")
app.add_typer(campaigns, name="campaigns")
app.add_typer(deliveries, name="deliveries")
app.add_typer(days, name="days")
app.add_typer(publishing, name="publish")


def parse_date(text: str | date) -> date:
    if isinstance(text, date):  # a default, already a date
        return text
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from None


def date_option(help_text: str, *names: str, show_default: bool | str = True) -> Any:
    """A YYYY-MM-DD option (``names`` when its flag is not the parameter's name)."""
    return typer.Option(*names, parser=parse_date, metavar="YYYY-MM-DD", help=help_text, show_default=show_default)


def fail(message: str, code: int = MISUSED) -> NoReturn:
    """Stop the command with one line a person can act on."""
    typer.echo(f"telco-mart: {message}", err=True)
    raise typer.Exit(code)


def settings() -> Settings:
    return Settings.from_env()  # a bad value raises SettingsError: one line, exit 2 (main)


def version_callback(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"telco-mart {version('telco-mart')}")
        raise typer.Exit()


@app.callback()
def main_options(
    verbose: Annotated[bool, typer.Option("--verbose/--no-verbose", "-v", help="Debug logging.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Options of every command."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(message)s")


class FileFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"


@app.command(
    epilog=examples(
        "telco-mart generate                       # the demo's data: 20,000 subscribers, 2026-01-01..2026-06-30",
        "telco-mart generate --subscribers 300 --start 2026-01-01 --end 2026-01-04 --out /tmp/landing",
        "telco-mart generate --format csv --defects --out /tmp/bad-landing   # with the defects real feeds carry",
    )
)
def generate(
    subscribers: Annotated[int, typer.Option(min=1, help="Subscribers in the base at the start.")] = DEMO_SUBSCRIBERS,
    start: Annotated[date, date_option("First delivery date.")] = DEMO_START,
    end: Annotated[date, date_option("Last delivery date (inclusive).")] = DEMO_END,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed writes the same files.")] = DEMO_SEED,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Landing folder to write <feed>/<date>/ into.", show_default="$TELCO_MART_LANDING_DIR or data/landing"
        ),
    ] = None,
    file_format: Annotated[FileFormat, typer.Option("--format", help="File format of the feeds.")] = FileFormat.parquet,
    defects: Annotated[
        bool,
        typer.Option("--defects/--no-defects", help="Plant the bad input real feeds carry (CSV only; see _truth/)."),
    ] = False,
    events_per_sub_day: Annotated[
        float, typer.Option(min=0.1, help="Mean usage events per active subscriber per day.")
    ] = DEMO_EVENTS_PER_SUB_DAY,
    dialect: Annotated[
        str | None,
        typer.Option(
            help="Write the CSV files as an operator profile spells them (a bundled name such as "
            "example_operator, or a YAML path); ingest them with TELCO_MART_OPERATOR_PROFILE set to the same.",
            show_default="none: the contract's own spelling",
        ),
    ] = None,
) -> int:
    """Write synthetic operator feeds as daily files, deterministically for a seed."""
    from telco_mart.generate import GeneratorArgumentError
    from telco_mart.generate import generate as write_feeds

    if defects and file_format != FileFormat.csv:
        fail("--defects plants CSV defects: add --format csv")
    target = out or settings().landing_dir
    typer.echo(
        f"generating {subscribers:,} subscribers, {start} .. {end} ({(end - start).days + 1} days) into {target}"
    )
    try:
        summary = write_feeds(
            subscribers=subscribers,
            start=start,
            end=end,
            seed=seed,
            out=target,
            fmt=file_format.value,
            defects=defects,
            events_per_sub_day=events_per_sub_day,
            log=typer.echo,
            dialect=dialect,
        )
    except GeneratorArgumentError as refused:  # checked before anything is written
        fail(str(refused))
    typer.echo(
        f"generated {summary.files_written:,} files in {summary.seconds:.1f}s under {summary.out}: "
        + ", ".join(f"{feed} {rows:,}" for feed, rows in summary.rows_per_feed.items())
    )
    return 0


@app.command(
    epilog=examples(
        "telco-mart ingest --date 2026-06-30        # that day's files (all history on a fresh warehouse)",
        "telco-mart ingest --start 2026-06-01 --end 2026-06-07 --fail-on-rejected",
        "telco-mart ingest --dry-run --profile example_operator --json /tmp/verdicts.json   # nothing written",
    )
)
def ingest(
    run_date: Annotated[
        date | None,
        date_option("Logical date.", "--date", show_default="today"),
    ] = None,
    start: Annotated[
        date | None,
        date_option("First delivery date of an explicit range.", show_default="none: what --date finds"),
    ] = None,
    end: Annotated[
        date | None,
        date_option("Last delivery date of an explicit range.", show_default="--start"),
    ] = None,
    landing: Annotated[
        Path | None, typer.Option(help="Landing folder.", show_default="$TELCO_MART_LANDING_DIR or data/landing")
    ] = None,
    warehouse: Annotated[
        Path | None, typer.Option(help="DuckDB file.", show_default="$TELCO_MART_WAREHOUSE or data/warehouse.duckdb")
    ] = None,
    fail_on_rejected: Annotated[
        bool, typer.Option("--fail-on-rejected/--no-fail-on-rejected", help="Exit 1 when a file was rejected.")
    ] = False,
    profile: Annotated[
        str | None,
        typer.Option(
            help="Operator profile: a bundled name or a YAML path.",
            show_default="$TELCO_MART_OPERATOR_PROFILE or default",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run/--no-dry-run",
            help="Report per file what would load, be normalised and be quarantined, and why; write nothing "
            "(dates: --start/--end, --date, or every delivery date landed).",
        ),
    ] = False,
    verdicts_json: Annotated[
        Path | None,
        typer.Option(
            "--json", help="With --dry-run: also write the verdicts as JSON to this file.", show_default="none"
        ),
    ] = None,
) -> int:
    """Load every landed file up to the date that the warehouse does not hold yet into the raw
    schema, exactly once each (no Airflow); or, with --dry-run, say what it would do."""
    from telco_mart.contract.operator_profile import load_profile
    from telco_mart.ingest import ingest as load
    from telco_mart.warehouse import connect

    config = settings()
    operator_profile = load_profile(profile)
    landing = landing or config.landing_dir
    if not landing.is_dir():
        fail(f"landing folder {landing} does not exist (set TELCO_MART_LANDING_DIR or --landing)")
    dates = None
    if start:
        last = end or start
        if last < start:
            fail(f"--end {last} is before --start {start}")
        dates = [date.fromordinal(d) for d in range(start.toordinal(), last.toordinal() + 1)]
    if dry_run:
        from telco_mart.ingest.dry_run import dry_run as rehearse

        verdicts = rehearse(
            landing,
            dates or ([run_date] if run_date else None),
            warehouse=warehouse or config.warehouse_path,
            profile=operator_profile,
        )
        typer.echo(verdicts.describe())
        if verdicts_json:
            verdicts_json.write_text(json.dumps(verdicts.summary(), indent=2), encoding="utf-8")
            typer.echo(f"verdicts: {verdicts_json}")
        return FAILED if verdicts.totals()["files_would_reject"] and fail_on_rejected else 0
    logical = (dates[-1] if dates else None) or run_date or date.today()
    with connect(warehouse or config.warehouse_path, settings=config) as con:
        report = load(con, landing, logical, dates=dates, progress=typer.echo, profile=operator_profile)
    typer.echo(json.dumps(report.summary(), indent=2))
    return FAILED if report.totals()["files_rejected"] and fail_on_rejected else 0


@app.command(
    epilog=examples(
        "telco-mart contract                               # one line per feed",
        "telco-mart contract --markdown --out docs/raw_contract.md   # what `make docs` runs",
    )
)
def contract(
    markdown: Annotated[
        bool, typer.Option("--markdown/--no-markdown", help="The full contract as Markdown (columns, types, checks).")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Write to this file.", show_default="stdout")] = None,
) -> int:
    """Show the raw contract: every feed's key and columns (plugins/telco_mart/contract/raw_contract.yml)."""
    from telco_mart.contract import load_contract, render_markdown

    loaded = load_contract()
    if markdown:
        text = render_markdown(loaded)
    else:
        rows = [f"raw contract v{loaded.version}: {len(loaded.feeds)} feeds (--markdown for every column)", ""]
        for feed in loaded.feeds.values():
            rows.append(
                f"{feed.name:<20} {feed.kind:<9} key ({', '.join(feed.key)}), {len(feed.columns)} columns, "
                f"{len(feed.required_columns)} required; from {feed.source_system}"
            )
        text = "\n".join(rows) + "\n"
    if out:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")
    else:
        typer.echo(text, nl=False)
    return 0


@app.command(
    epilog=examples(
        "telco-mart summary", "telco-mart summary --run-log .airflow/demo-run.log   # what make demo prints"
    )
)
def summary(
    run_log: Annotated[
        Path | None, typer.Option(help="Log of the run to point the reader at.", show_default="none")
    ] = None,
) -> int:
    """What the warehouse holds: tables and rows, files and quarantine, the latest published lists."""
    from telco_mart.pipeline import table_row_counts
    from telco_mart.warehouse import connect

    config = settings()
    if not config.warehouse_path.is_file():
        fail(f"no warehouse at {config.warehouse_path} (set TELCO_MART_WAREHOUSE, or run make demo)")
    counts = table_row_counts(config)
    with connect(settings=config, read_only=True) as con:
        files = con.execute(
            "select status, count(*), sum(rows_read), sum(rows_loaded), sum(rows_quarantined) "
            "from raw.file_registry group by 1 order by 1"
        ).fetchall()
        reasons = con.execute(
            "select feed, reason, count(*) from raw.quarantine group by all order by 3 desc limit 10"
        ).fetchall()
    print("\n== telco-mart warehouse ==")
    print(f"warehouse file : {config.warehouse_path}")
    print(f"landing folder : {config.landing_dir}")
    if run_log:
        print(f"Airflow run log: {run_log}")
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
    _print_outbox(config)
    explore = f"duckdb.connect('{config.warehouse_path}', read_only=True).sql('show all tables').show()"
    print(f'\nExplore: .venv/bin/python -c "import duckdb; {explore}"')
    print("Browse the runs and their logs: make ui, then http://127.0.0.1:8080")
    return 0


def _print_outbox(config: Settings) -> None:
    """The latest published day, as marketing will find it."""
    days = sorted(p for p in config.outbox_dir.glob("????-??-??") if (p / "_SUCCESS").exists())
    if not days:
        print(f"\noutbox {config.outbox_dir}: nothing published yet")
        return
    manifest = json.loads((days[-1] / "manifest.json").read_text())
    print(f"\noutbox {config.outbox_dir}: {len(days)} published day(s), latest {days[-1].name}:")
    for entry in manifest["files"]:
        print(f"  {entry['name']:<34} {entry['rows']:>9,} rows")
    print(f"  (verify and copy: telco-mart targets --date {days[-1].name} [--copy-to DIR])")


@quality.command(epilog=examples("telco-mart quality scaffold", "telco-mart quality scaffold --check   # in CI"))
def scaffold(
    check: Annotated[
        bool, typer.Option("--check/--no-check", help="Change nothing; exit 1 if a suite is out of date.")
    ] = False,
) -> int:
    """Write the raw suites' contract-derived expectations (hand-written ones are kept)."""
    from telco_mart.contract import load_contract
    from telco_mart.gate_settings import expectations_dir
    from telco_mart.quality.scaffold import scaffold as write_suites

    changed = write_suites(load_contract(), expectations_dir(), write=not check)
    for path in changed:
        typer.echo(f"{'out of date' if check else 'wrote'}: {path}")
    return FAILED if check and changed else 0


class Stage(StrEnum):
    raw = "raw"
    marts = "marts"
    publish = "publish"


@quality.command(
    epilog=examples(
        "telco-mart quality check --date 2026-06-30                       # raw, the run date's deliveries",
        "telco-mart quality check --date 2026-06-30 --start 2026-06-01    # raw, a range of delivery dates",
        "telco-mart quality check --stage marts --date 2026-06-30         # after dbt",
        "telco-mart quality check --stage publish --date 2026-06-30       # the day's target lists",
    )
)
def check(
    ctx: typer.Context,
    run_date: Annotated[
        date,
        date_option("Run date (the report goes under it).", "--date"),
    ],
    stage: Annotated[
        Stage,
        typer.Option(
            help="raw: the raw feeds after ingest; marts: the public marts after dbt; "
            "publish: the day's target lists before the outbox."
        ),
    ] = Stage.raw,
    start: Annotated[
        date | None,
        date_option("Raw only: first delivery date to validate.", show_default="--date"),
    ] = None,
    end: Annotated[
        date | None,
        date_option("Raw only: last delivery date to validate.", show_default="--date"),
    ] = None,
) -> int:
    """Rerun a stage of the gate on the warehouse, as the DAG's task for that stage does (exit 1 on a fail)."""
    from telco_mart import pipeline
    from telco_mart.quality import QualityGateFailed

    if stage != Stage.raw and (given := [f for f, v in (("--start", start), ("--end", end)) if v]):
        ctx.fail(
            f"{' and '.join(given)} {'apply' if len(given) > 1 else 'applies'} only to --stage raw (a range "
            f"of delivery dates); --stage {stage} checks the run date's slice: give --date only"
        )
    if (end or run_date) < (start or run_date):
        ctx.fail("the delivery dates --start..--end (each --date when not given) run backwards")
    delivery_dates = {"start": start, "end": end} if stage == Stage.raw else {}
    try:
        outcome = pipeline.run_quality_gate(stage.value, run_date, **delivery_dates)
    except QualityGateFailed as failed:
        typer.echo(str(failed), err=True)  # names the failures and ends with the report's path
        return FAILED
    typer.echo(json.dumps(outcome, indent=2))
    typer.echo(f"report: {outcome['report']}", err=True)
    return 0


@campaigns.command(
    epilog=examples("telco-mart campaigns validate", "telco-mart campaigns validate --catalog /tmp/new-catalog.yml")
)
def validate(
    catalog: Annotated[
        Path | None,
        typer.Option(help="Catalog file.", show_default="$TELCO_MART_CAMPAIGN_CATALOG or campaigns/catalog.yml"),
    ] = None,
) -> int:
    """Check the campaign catalog and list its campaigns (exit 1 with the problems)."""
    from telco_mart.campaigns.catalog import CatalogError, describe, load_catalog

    try:
        loaded = load_catalog(catalog)
    except CatalogError as invalid:
        typer.echo(str(invalid), err=True)
        return FAILED
    typer.echo(describe(loaded))
    return 0


@app.command(
    epilog=examples(
        "telco-mart targets --date 2026-06-30",
        "telco-mart targets --date 2026-06-30 --campaign vip_care --copy-to /tmp/for-marketing",
    )
)
def targets(
    run_date: Annotated[
        date,
        date_option("The day (logical date) of the lists.", "--date"),
    ],
    campaign: Annotated[str | None, typer.Option(help="One campaign only.", show_default="every campaign")] = None,
    copy_to: Annotated[
        Path | None, typer.Option(help="Copy the verified files and manifest to this folder.", show_default="no copy")
    ] = None,
    outbox: Annotated[
        Path | None, typer.Option(help="Outbox folder.", show_default="$TELCO_MART_OUTBOX_DIR or data/outbox")
    ] = None,
) -> int:
    """A published day's target lists: files, row counts, checksums verified against the manifest."""
    from telco_mart.campaigns.publish import PublishError, copy_day, verify_day

    outbox = outbox or settings().outbox_dir
    try:
        manifest, files = verify_day(outbox, run_date, campaign)
    except PublishError as missing:
        typer.echo(str(missing), err=True)
        return FAILED
    typer.echo(
        f"{outbox / run_date.isoformat()}: run {manifest['run_id']}, catalog {manifest['catalog_version']}, "
        f"data up to {manifest['data_watermark']}"
    )
    for f in files:
        status = "ok" if f.ok else f"FAILED: {f.problem}"
        typer.echo(f"  {f.name:<34} {f.rows:>9,} rows  sha256 {f.sha256[:16]}  {status}")
    if any(not f.ok for f in files):
        typer.echo("verification failed: do not send these files; rerun the day's publish", err=True)
        return FAILED
    typer.echo(f"  {'total':<34} {sum(f.rows for f in files):>9,} rows, checksums verified")
    if copy_to:
        try:
            copied = copy_day(outbox, run_date, copy_to, campaign)
        except PublishError as failed:
            typer.echo(str(failed), err=True)
            return FAILED
        typer.echo(f"copied {len(copied)} files to {copy_to}")
    return 0


@app.command(
    epilog=examples(
        "telco-mart init                                   # data/warehouse.duckdb, once",
        "TELCO_MART_WAREHOUSE=/srv/telco/warehouse.duckdb telco-mart init",
    )
)
def init() -> int:
    """Create the warehouse (schemas, raw tables, its id), the only command that does; on an
    existing one, confirm it. A mistyped path elsewhere is refused, never a new empty warehouse."""
    from telco_mart.schema import init_warehouse

    config = settings()
    warehouse_id, created = init_warehouse(config)
    verb = "created" if created else "already exists:"
    typer.echo(f"warehouse {verb} {config.warehouse_path} (id {warehouse_id})")
    return 0


@app.command(
    "spark-sources",
    epilog=examples(
        "telco-mart spark-sources",
        "TELCO_MART_SPARK_DIR=data/warehouse.spark dbt build --target spark --project-dir dbt_project "
        "--profiles-dir dbt_project",
    ),
)
def spark_sources() -> int:
    """Share the warehouse's raw sources with the dbt project's Spark target (docs/spark.md):
    links to the Parquet-stored feeds' files, a Parquet copy of every other source table, in
    `<warehouse>.spark/sources/`. Run after ingestion, before `dbt ... --target spark`."""
    from telco_mart.spark_engine import share_sources_with_spark
    from telco_mart.warehouse import connect

    config = settings()
    spark_dir = config.spark_dir
    with connect(read_only=True, settings=config) as con:
        shared = share_sources_with_spark(con, spark_dir)
    for table, rows in shared.items():
        typer.echo(f"{table:<30} {rows:>12,} rows")
    typer.echo(f"shared in {spark_dir / 'sources'}; for dbt: TELCO_MART_SPARK_DIR={spark_dir}")
    return 0


By = Annotated[str, typer.Option("--by", help="Who decides this (recorded).")]
Reason = Annotated[str, typer.Option("--reason", help="Why (recorded).")]


def _operator_command(run: Any) -> int:
    """An operator command against the warehouse: a refusal is one line and exit 1, the record JSON."""
    from telco_mart.campaigns.publish import PublishError
    from telco_mart.ingest import RetractError
    from telco_mart.ledger import LedgerError
    from telco_mart.warehouse import WarehouseBusy, WarehouseMissing

    try:
        result = run()
    except (LedgerError, RetractError, PublishError, WarehouseMissing, WarehouseBusy) as refused:
        fail(f"refused: {refused}", FAILED)
    typer.echo(json.dumps(result, indent=2, default=str))
    return 0


@deliveries.command(
    "declare-empty",
    epilog=examples(
        'telco-mart deliveries declare-empty --feed opt_outs --date 2026-06-12 --by "J. Doe" '
        '--reason "no opt-outs that day (CRM export log #123)"',
        "telco-mart deliveries declare-empty --feed contact_history --date 2026-06-12 --end 2026-06-14 --by ... "
        "--reason ...",
    ),
)
def declare_empty(
    feed: Annotated[str, typer.Option(help="The feed, e.g. opt_outs.")],
    first: Annotated[date, date_option("The delivery date.", "--date")],
    by: By,
    reason: Reason,
    last: Annotated[date | None, date_option("Last delivery date of a range.", "--end", show_default="--date")] = None,
) -> int:
    """Record that a feed rightly delivered nothing for a date (range): its due-delivery checks
    and the publish gate's consent check accept the date from then on."""
    from telco_mart.ledger import days_between
    from telco_mart.ledger import declare_empty as record
    from telco_mart.warehouse import connect

    def run() -> dict[str, Any]:
        with connect(settings=settings()) as con:
            recorded = record(con, feed, days_between(first, last or first), by, reason)
        return {"feed": feed, "declared_empty": [d.isoformat() for d in recorded], "by": by}

    return _operator_command(run)


@deliveries.command(
    epilog=examples(
        "telco-mart deliveries retract --file usage_events/2026-06-12/usage_events_2026-06-12.csv "
        '--by "J. Doe" --reason "sent twice by mediation; the _correction file stands"',
    )
)
def retract(
    file: Annotated[str, typer.Option(help="The file as registered: <feed>/<YYYY-MM-DD>/<name>.")],
    by: By,
    reason: Reason,
) -> int:
    """Take back a delivery: its rows, quarantine entries and registry entry, in one transaction;
    its date is rebuilt by the next run, and the other files of its feed and date are read afresh."""
    from telco_mart.ingest import retract_delivery
    from telco_mart.warehouse import connect

    def run() -> dict[str, Any]:
        with connect(settings=settings()) as con:
            return retract_delivery(con, file, by, reason)

    return _operator_command(run)


@deliveries.command(epilog=examples("telco-mart deliveries replay"))
def replay() -> int:
    """Load the quarantined rows whose missing subscriber, plan or cell has arrived since (every
    run also does this at the end of its ingest)."""
    from telco_mart.contract import load_contract
    from telco_mart.ingest import replay_quarantine
    from telco_mart.warehouse import connect

    def run() -> dict[str, Any]:
        with connect(settings=settings()) as con:
            replayed = replay_quarantine(con, load_contract(), progress=typer.echo)
        return {"rows_loaded_per_delivery_date": {d.isoformat(): n for d, n in replayed.items()}}

    return _operator_command(run)


@days.command(
    epilog=examples(
        'telco-mart days waive --date 2026-06-12 --by "J. Doe" --reason "mediation resend under investigation"'
    )
)
def waive(day: Annotated[date, date_option("The failed or unbuilt day.", "--date")], by: By, reason: Reason) -> int:
    """Let later days publish although this day is not built (its data is taken as it stands)."""
    from telco_mart.ledger import waive_day
    from telco_mart.warehouse import connect

    def run() -> dict[str, Any]:
        with connect(settings=settings()) as con:
            waive_day(con, day, by, reason)
        return {"waived": day.isoformat(), "by": by, "reason": reason}

    return _operator_command(run)


@publishing.command(
    epilog=examples(
        'telco-mart publish reissue --date 2026-06-28 --by "J. Doe" --reason "late opt-out file; list not sent yet"',
    )
)
def reissue(day: Annotated[date, date_option("The published day.", "--date")], by: By, reason: Reason) -> int:
    """Set a published day aside (its list to .superseded/, its contacts out of contact history,
    with who and why) so that its next run (`telco-mart run --date D`) decides it against every
    contact published since."""
    from telco_mart.campaigns.publish import reissue_day

    return _operator_command(lambda: reissue_day(day, by, reason, settings()))


def yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


@app.command(
    epilog=examples(
        "telco-mart run --date 2026-06-30                      # a day of the demo's data (make demo runs this)",
        "telco-mart run                                        # yesterday, as the schedule would",
        "telco-mart run --date 2026-06-30 --log /tmp/day.log",
    )
)
def run(
    run_date: Annotated[
        date | None,
        date_option("Logical (delivery) date to run.", "--date", show_default="yesterday, UTC"),
    ] = None,
    log: Annotated[
        Path | None,
        typer.Option(help="File that gets every line of the run.", show_default="$AIRFLOW_HOME/runs/<date>.log"),
    ] = None,
) -> int:
    """Run operator_daily for one day through Airflow's scheduler, following each task as it starts and ends.

    Uses the scheduler `make ui` runs if there is one, else starts Airflow for the run and
    stops it afterwards. The run, its task logs and its real duration stay in the UI. Exit 0 when
    the run succeeded (a day with nothing delivered is skipped, and succeeds), 1 when it failed.
    """
    from telco_mart.runtime import airflow_environment
    from telco_mart.scheduled_run import RunError, run_day

    day = run_date or yesterday()
    home = Path(airflow_environment()["AIRFLOW_HOME"])
    log = log or home / "runs" / f"{day}.log"
    typer.echo(f"operator_daily for {day}: every line of the run goes to {log}")
    try:
        outcome = run_day(day, log, say=typer.echo)
    except RunError as failed:
        fail(str(failed), FAILED)
    if not outcome.ok:
        typer.echo(f"the run failed: the failed task's log is in {log} and in the UI (make ui)", err=True)
    return 0 if outcome.ok else FAILED


@app.command(
    epilog=examples(
        "telco-mart ui                                        # then http://127.0.0.1:8080, user admin",
        "AIRFLOW__API__PORT=8081 telco-mart ui                # another port",
    )
)
def ui() -> int:
    """Airflow's UI, scheduler, DAG processor and API server on http://127.0.0.1:8080 (make ui); Ctrl-C stops them.

    Listens on loopback only unless AIRFLOW__API__HOST says otherwise. The admin password is
    printed at the first start and kept in $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated.
    """
    from telco_mart.scheduled_run import serve

    return serve(say=typer.echo)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
    epilog=examples(
        "telco-mart airflow dags test operator_daily 2026-06-30",
        "telco-mart airflow backfill create --dag-id operator_daily --from-date 2026-06-24 --to-date 2026-06-30",
        "telco-mart airflow standalone                          # Airflow in one process tree (make ui: telco-mart ui)",
        "telco-mart airflow --help                              # Airflow's own help",
    ),
)
def airflow(ctx: typer.Context) -> int:
    """Run the airflow CLI with this project's environment (AIRFLOW_HOME=.airflow, DAG folder, no telemetry)."""
    import os

    from telco_mart.runtime import airflow_environment

    if not ctx.args:  # nothing for Airflow to do: this command's own help, with its examples
        typer.echo(ctx.get_help())
        return 0
    env = airflow_environment()
    command = Path(sys.executable).with_name("airflow")
    os.execve(str(command), [str(command), *ctx.args], env)
    return 0  # pragma: no cover - execve does not return


def main(argv: list[str] | None = None) -> int:
    """The console script: the command's exit code; one line and code 2 for a bad setting."""
    from telco_mart.contract.operator_profile import ProfileError
    from telco_mart.warehouse import WarehouseBusy, WarehouseMissing

    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="telco-mart", standalone_mode=False)
    except typer.Abort:
        typer.echo("aborted", err=True)
        return FAILED
    except typer.TyperException as problem:  # click's errors (typer's copy): usage, bad parameter
        problem.show()  # type: ignore[attr-defined]
        raise SystemExit(getattr(problem, "exit_code", MISUSED)) from None
    except SettingsError as bad:
        typer.echo(f"telco-mart: {bad}", err=True)
        return MISUSED
    except ProfileError as bad:  # a profile a person wrote: the reason, not a traceback
        typer.echo(f"telco-mart: operator profile: {bad}", err=True)
        return MISUSED
    except WarehouseMissing as missing:  # a mistyped path, or a warehouse nobody made with init
        typer.echo(f"telco-mart: {missing}", err=True)
        return MISUSED
    except WarehouseBusy as busy:  # another writer kept the warehouse past the wait
        typer.echo(f"telco-mart: {busy}", err=True)
        return FAILED
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The dbt sources and staging layer agree with the raw contract.

Static checks only (PyYAML and file reads, no dbt invocation), so they run in milliseconds:
- every contract feed is a source table of its source system, in schema `raw`, with exactly
  the contract's columns (and their types and PII flags where the source yml states them);
- every source table has a staging model `models/staging/<source>/stg_<source>__*.sql`
  that selects from it with `source()`;
- `source()` is called in the staging layer only;
- the value sets tested on staging columns are the contract's value sets.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
import yaml

from telco_mart.contract import load_contract

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT = REPO_ROOT / "dbt_project"
MODELS_DIR = DBT_PROJECT / "models"
STAGING_DIR = MODELS_DIR / "staging"

SOURCE_CALL = re.compile(r"""\bsource\s*\(\s*['"](\w+)['"]\s*,\s*['"](\w+)['"]\s*\)""")
ANY_SOURCE_CALL = re.compile(r"\bsource\s*\(")
JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
SQL_LINE_COMMENT = re.compile(r"--[^\n]*")

CONTRACT = load_contract()
#: Sources that are not operator feeds: tables the warehouse writes for itself (the campaign
#: catalog loaded by the DAG's first task, the contacts the publish task sends, ingestion's
#: record of the raw files it stores, read by a key test).
WAREHOUSE_SOURCES: dict[str, set[str]] = {
    "campaign_catalog": {"campaign_policy", "campaigns", "campaign_eligibility_rules"},
    "outbox": {"published_contacts", "published_days"},
    "ingestion": {"stored_files"},
}
#: Sources declared only so that exposures can name what they read (marts/_exposures.yml): no
#: model reads them, and they live beside the marts, not in raw.
EXPOSURE_SOURCES: dict[str, set[str]] = {"quality_gate": {"dq_results"}}
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def _yaml(path: Path) -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}


def _code(path: Path) -> str:
    """SQL of a model without comments, so a comment mentioning source() does not count."""
    text = JINJA_COMMENT.sub("", path.read_text(encoding="utf-8"))
    return SQL_LINE_COMMENT.sub("", text)


def _load_sources() -> dict[str, dict]:
    """Source name -> {"file": path, "spec": source dict} over every *sources.yml."""
    found: dict[str, dict] = {}
    for path in sorted(MODELS_DIR.rglob("*.yml")):
        doc = _yaml(path)
        for source in doc.get("sources") or []:
            name = source["name"]
            assert name not in found, f"source {name!r} defined twice: {found.get(name, {}).get('file')}, {path}"
            found[name] = {"file": path, "spec": source}
    return found


def _staging_models() -> dict[str, Path]:
    return {p.stem: p for p in sorted(STAGING_DIR.rglob("*.sql"))}


ALL_SOURCES = _load_sources()
SOURCES = {name: found for name, found in ALL_SOURCES.items() if name not in EXPOSURE_SOURCES}


def test_exposure_only_sources_are_read_by_no_model() -> None:
    declared = {
        name: {t["name"] for t in found["spec"].get("tables") or []}
        for name, found in ALL_SOURCES.items()
        if name in EXPOSURE_SOURCES
    }
    assert declared == EXPOSURE_SOURCES
    for path in sorted(MODELS_DIR.rglob("*.sql")):
        for system, _table in SOURCE_CALL.findall(_code(path)):
            assert system not in EXPOSURE_SOURCES, f"{path.name} reads the exposure-only source {system!r}"


def _source_table(system: str, feed: str) -> dict:
    assert system in SOURCES, f"no dbt source {system!r} (source_system of feed {feed!r})"
    tables = {t["name"]: t for t in SOURCES[system]["spec"].get("tables") or []}
    assert feed in tables, f"source {system!r} has no table {feed!r}"
    return tables[feed]


def test_sources_exist_and_are_the_contract_systems() -> None:
    systems = {feed.source_system for feed in CONTRACT.feeds.values()} | set(WAREHOUSE_SOURCES)
    assert set(SOURCES) == systems, (
        f"dbt sources {sorted(SOURCES)} differ from the contract's source systems {sorted(systems)}"
    )
    for name, found in SOURCES.items():
        expected = STAGING_DIR / name / f"_{name}__sources.yml"
        assert found["file"] == expected, f"source {name!r} is defined in {found['file']}, expected {expected}"
        assert found["spec"].get("schema") == "raw", f"source {name!r} must read schema raw"


def test_source_tables_are_exactly_the_contract_feeds() -> None:
    declared = {
        (system, table["name"])
        for system, found in SOURCES.items()
        if system not in WAREHOUSE_SOURCES
        for table in found["spec"].get("tables") or []
    }
    expected = {(feed.source_system, feed.name) for feed in CONTRACT.feeds.values()}
    assert not expected - declared, f"contract feeds missing from the dbt sources: {sorted(expected - declared)}"
    assert not declared - expected, f"dbt source tables not in the contract: {sorted(declared - expected)}"


@pytest.mark.parametrize("feed_name", sorted(CONTRACT.feeds))
def test_source_columns_match_the_contract(feed_name: str) -> None:
    feed = CONTRACT.feed(feed_name)
    table = _source_table(feed.source_system, feed.name)
    columns = {c["name"]: c for c in table.get("columns") or []}
    missing = [c for c in feed.column_names if c not in columns]
    extra = [c for c in columns if c not in feed.column_names]
    assert not missing and not extra, (
        f"{feed.source_system}.{feed.name}: columns missing from the source yml {missing}, not in the contract {extra}"
    )
    for col in feed.columns:
        spec = columns[col.name]
        assert spec.get("description"), f"{feed.name}.{col.name} has no description"
        if "data_type" in spec:
            assert spec["data_type"] == col.duckdb_type, (
                f"{feed.name}.{col.name}: data_type {spec['data_type']!r}, contract says {col.duckdb_type!r}"
            )
        meta = (spec.get("config") or {}).get("meta") or spec.get("meta") or {}
        assert bool(meta.get("pii")) == col.pii, f"{feed.name}.{col.name}: meta.pii should be {col.pii}"


@pytest.mark.parametrize("feed_name", sorted(CONTRACT.feeds))
def test_every_source_table_has_a_staging_model(feed_name: str) -> None:
    feed = CONTRACT.feed(feed_name)
    system = feed.source_system
    callers = [
        path
        for path in sorted((STAGING_DIR / system).glob(f"stg_{system}__*.sql"))
        if (system, feed.name) in SOURCE_CALL.findall(_code(path))
    ]
    assert callers, (
        f"no staging model models/staging/{system}/stg_{system}__*.sql selects from source('{system}', '{feed.name}')"
    )


def test_warehouse_sources_match_the_tables_the_warehouse_creates() -> None:
    import duckdb

    from telco_mart.schema import ensure_raw_schema

    con = duckdb.connect()
    ensure_raw_schema(con)
    for system, tables in WAREHOUSE_SOURCES.items():
        declared = {t["name"]: t for t in SOURCES[system]["spec"].get("tables") or []}
        assert set(declared) == tables, system
        for table, spec in declared.items():
            actual = con.execute(
                "select column_name, lower(data_type) from information_schema.columns "
                "where table_schema = 'raw' and table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
            documented = [(c["name"], c["data_type"]) for c in spec["columns"]]
            assert documented == actual, f"{system}.{table}: the source yml says {documented}, the DDL {actual}"
    con.close()


def test_staging_models_only_read_known_sources() -> None:
    known = {(feed.source_system, feed.name) for feed in CONTRACT.feeds.values()} | {
        (system, table) for system, tables in WAREHOUSE_SOURCES.items() for table in tables
    }
    for name, path in _staging_models().items():
        for call in SOURCE_CALL.findall(_code(path)):
            assert call in known, f"{name} reads source{call}, which is not a contract feed"


def test_only_staging_models_call_source() -> None:
    offenders = [
        str(path.relative_to(DBT_PROJECT))
        for path in sorted(MODELS_DIR.rglob("*.sql"))
        if STAGING_DIR not in path.parents and ANY_SOURCE_CALL.search(_code(path))
    ]
    assert not offenders, f"only models/staging/ may call source(): {offenders}"


@cache
def _staging_accepted_values() -> dict[tuple[str, str], set[str]]:
    """(model, column) -> the values of its accepted_values test, over the staging yml files."""
    found: dict[tuple[str, str], set[str]] = {}
    for path in sorted(STAGING_DIR.rglob("*.yml")):
        doc = _yaml(path)
        for model in doc.get("models") or []:
            for column in model.get("columns") or []:
                for test in column.get("data_tests") or column.get("tests") or []:
                    if isinstance(test, dict) and "accepted_values" in test:
                        spec = test["accepted_values"] or {}
                        values = (spec.get("arguments") or spec).get("values") or []
                        found[(model["name"], column["name"])] = {str(v) for v in values}
    return found


@pytest.mark.parametrize("feed_name", sorted(CONTRACT.feeds))
def test_staging_value_sets_match_the_contract(feed_name: str) -> None:
    """A contract column with a value set keeps its name in staging and is tested against it."""
    feed = CONTRACT.feed(feed_name)
    system = feed.source_system
    accepted = _staging_accepted_values()
    models = [
        path.stem
        for path in sorted((STAGING_DIR / system).glob(f"stg_{system}__*.sql"))
        if (system, feed.name) in SOURCE_CALL.findall(_code(path))
    ]
    for col in feed.columns:
        if not col.values:
            continue
        for model in models:
            assert (model, col.name) in accepted, f"{model}.{col.name} has no accepted_values test"
            assert accepted[(model, col.name)] == set(col.values), (
                f"{model}.{col.name}: accepted_values {sorted(accepted[(model, col.name)])}, "
                f"contract says {sorted(col.values)}"
            )

"""The raw contract: loads, orders feeds for reference checks, refuses malformed entries."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from telco_mart.contract import ContractError, load_contract, parse_contract, render_markdown

REPO_ROOT = Path(__file__).resolve().parents[3]
FEEDS = {
    "subscribers", "plans", "usage_events", "recharges", "bills", "adjustments", "broadband_contracts",
    "vas_subscriptions", "cells", "cell_kpis_daily", "complaints", "nps_responses", "contact_history", "opt_outs",
}  # fmt: skip


def test_contract_has_every_feed_of_the_issue() -> None:
    assert set(load_contract().feeds) == FEEDS


def test_referenced_feeds_load_before_the_feeds_that_use_them() -> None:
    contract = load_contract()
    order = contract.load_order()
    for feed in contract.feeds.values():
        for column in feed.columns:
            if column.references:
                assert order.index(column.references) < order.index(feed.name), (feed.name, column.name)


def test_every_key_column_is_required() -> None:
    for feed in load_contract().feeds.values():
        for key in feed.key:
            assert feed.column(key).required, (feed.name, key)


def _minimal(columns: dict, **feed: object) -> dict:
    spec = {"source_system": "s", "kind": "event", "cadence": "daily", "key": ["id"], "columns": columns, **feed}
    return {"feeds": {"f": spec}}


def test_a_stray_attribute_is_refused() -> None:
    # `{description: Data, MB}` in YAML flow style silently becomes a key named MB.
    data = yaml.safe_load("feeds: {f: {source_system: s, kind: event, key: [id], columns: {id: {type: string, "
                          "description: Data, MB}}}}")  # fmt: skip
    with pytest.raises(ContractError, match="unknown attributes"):
        parse_contract(data)


def test_unknown_type_and_dangling_reference_are_refused() -> None:
    with pytest.raises(ContractError, match="type"):
        parse_contract(_minimal({"id": {"type": "money"}}))
    with pytest.raises(ContractError, match="references unknown feed"):
        parse_contract(_minimal({"id": {"type": "string", "required": True, "references": "nope"}}))


def test_a_feed_states_when_it_is_due() -> None:
    id_column = {"id": {"type": "string", "required": True}}
    with pytest.raises(ContractError, match="cadence must be one of"):
        parse_contract(_minimal(id_column, cadence=None))
    with pytest.raises(ContractError, match="due_day_of_month"):
        parse_contract(_minimal(id_column, cadence="monthly"))
    monthly = parse_contract(_minimal(id_column, cadence="monthly", due_day_of_month=1)).feed("f")
    assert [monthly.is_due(date(2026, 2, d)) for d in (1, 2)] == [True, False]
    assert not parse_contract(_minimal(id_column, cadence="on_change")).feed("f").is_due(date(2026, 2, 1))
    governing = {name for name, feed in load_contract().feeds.items() if feed.governs_contact}
    assert governing == {"opt_outs", "contact_history", "subscribers"}


def test_rendered_docs_are_in_sync_with_the_contract() -> None:
    rendered = render_markdown(load_contract())
    on_disk = (REPO_ROOT / "docs" / "raw_contract.md").read_text(encoding="utf-8")
    assert on_disk == rendered, "docs/raw_contract.md is stale: run `make docs`"

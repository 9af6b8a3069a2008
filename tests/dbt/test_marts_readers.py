"""dbt knows who owns and who reads the marts (models/marts/_groups.yml, _exposures.yml).

Read from the parsed manifest (``make dbt-parse``), and held against what the readers
really read: the Superset dashboards in bi/assets/ and the served copy's tables.
"""

from __future__ import annotations

import yaml

from telco_mart import bi
from telco_mart.config import SERVING_EXCLUDE
from tests.conftest import REPO_ROOT


def mart_models(manifest: dict) -> dict[str, dict]:
    return {
        n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["schema"] == "marts"
    }


def depends_on(manifest: dict, exposure: dict) -> set[str]:
    """The marts relations an exposure names, as marts.<table>."""
    nodes = {**manifest["nodes"], **manifest["sources"]}
    named = [nodes[u] for u in exposure["depends_on"]["nodes"]]
    return {f"{n['schema']}.{n.get('identifier') or n['name']}" for n in named}


def test_every_public_mart_has_an_owner_and_a_description(manifest: dict) -> None:
    groups = {g["name"]: g for g in manifest["groups"].values()}
    for name, node in mart_models(manifest).items():
        assert node["group"] in groups, f"{name} has no group (owner)"
        assert groups[node["group"]]["owner"].get("name") or groups[node["group"]]["owner"].get("email"), name
        assert len(node["description"].split()) >= 10, f"{name} has no real description"
    for source in manifest["sources"].values():
        if source["schema"] == "marts":
            assert source["description"] and source["meta"].get("owner"), source["name"]


def test_each_dashboard_has_an_exposure_naming_the_marts_it_reads(manifest: dict) -> None:
    exposures = {e["url"]: e for e in manifest["exposures"].values() if e["type"] == "dashboard"}
    datasets = {}
    for path in (bi.ASSETS_DIR / "datasets").rglob("*.yaml"):
        dataset = yaml.safe_load(path.read_text())
        datasets[dataset["uuid"]] = dataset
    charts = [yaml.safe_load(p.read_text()) for p in (bi.ASSETS_DIR / "charts").glob("*.yaml")]
    chart_tables = {}
    for chart in charts:
        dataset = datasets[chart["dataset_uuid"]]
        tables = {f"{dataset['schema']}.{dataset['table_name']}"}
        if dataset["sql"]:  # a virtual dataset: the marts its SQL reads
            tables = {f"marts.{m}" for m in mart_models(manifest) if f"marts.{m}" in dataset["sql"]}
        chart_tables[chart["uuid"]] = tables - {"serving.snapshot"}  # the copy's own record, not a mart
    slugs = set()
    for path in (bi.ASSETS_DIR / "dashboards").glob("*.yaml"):
        dashboard = yaml.safe_load(path.read_text())
        slugs.add(dashboard["slug"])
        exposure = exposures.get(f"http://127.0.0.1:8088/superset/dashboard/{dashboard['slug']}/")
        assert exposure, f"dashboard {dashboard['slug']} has no exposure in _exposures.yml"
        read = set().union(
            *(
                chart_tables[item["meta"]["uuid"]]
                for item in dashboard["position"].values()
                if isinstance(item, dict) and item.get("type") == "CHART"
            )
        )
        assert depends_on(manifest, exposure) == read, dashboard["slug"]
    assert len(exposures) == len(slugs) == 6


def test_the_outbox_gates_and_served_copy_are_exposures_too(manifest: dict) -> None:
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert depends_on(manifest, exposures["campaign_outbox"]) >= {"marts.campaign_targets_daily"}
    suites = [REPO_ROOT / "expectations" / stage for stage in ("marts", "publish")]
    gated = {path.stem for folder in suites for path in folder.glob("*.json")}
    assert depends_on(manifest, exposures["quality_gates"]) == {f"marts.{t}" for t in gated}
    served = {
        f"marts.{m}"
        for m, node in mart_models(manifest).items()
        if m not in SERVING_EXCLUDE and node["config"]["materialized"] != "ephemeral"  # no table to serve
    } | {"marts.dq_results"}
    assert depends_on(manifest, exposures["served_marts"]) == served

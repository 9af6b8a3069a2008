"""Superset's set-up from the repository (telco_mart.bi) and the YAML under bi/assets/.

Logic and consistency only, no Superset: the real server on a served copy, looked at in a
browser, is tests/bi/test_superset_dashboards.py.
"""

from __future__ import annotations

import io
import json
import stat
import zipfile
from pathlib import Path

import pytest
import yaml

from telco_mart import bi
from telco_mart.config import SERVING_EXCLUDE
from tests.conftest import REPO_ROOT


def load_assets() -> dict[str, list[dict]]:
    return {
        kind: [yaml.safe_load(p.read_text()) for p in sorted((bi.ASSETS_DIR / kind).rglob("*.yaml"))]
        for kind in ("databases", "datasets", "charts", "dashboards")
    }


def test_the_bundle_points_at_the_served_copy_read_only(tmp_path: Path) -> None:
    served = tmp_path / "serving" / "telco_mart.duckdb"
    bundle = zipfile.ZipFile(io.BytesIO(bi.bundle_assets(served)))
    names = bundle.namelist()
    assert all(name.startswith(f"{bi.BUNDLE_ROOT}/") for name in names)
    assert f"{bi.BUNDLE_ROOT}/metadata.yaml" in names
    databases = [yaml.safe_load(bundle.read(n)) for n in names if n.startswith(f"{bi.BUNDLE_ROOT}/databases/")]
    assert [d["sqlalchemy_uri"] for d in databases] == [f"duckdb:///{served}?access_mode=read_only"]
    assert not any(bi.SERVING_URI_PLACEHOLDER in bundle.read(n).decode() for n in names)


def test_the_repository_yaml_holds_no_deployment_path() -> None:
    for path in bi.ASSETS_DIR.rglob("*.yaml"):
        text = path.read_text()
        assert "duckdb:///" not in text and "/tmp/" not in text and str(REPO_ROOT) not in text, path
    (database,) = load_assets()["databases"]
    assert database["sqlalchemy_uri"] == bi.SERVING_URI_PLACEHOLDER
    assert not database["allow_dml"] and not database["allow_ctas"] and not database["allow_cvas"]


def test_an_export_comes_back_as_the_repository_files(tmp_path: Path) -> None:
    served = tmp_path / "telco_mart.duckdb"
    exported = io.BytesIO()
    with zipfile.ZipFile(exported, "w") as bundle:
        bundle.writestr("dashboard_export_20261204T000000/metadata.yaml", "version: 1.0.0\n")
        bundle.writestr(
            "dashboard_export_20261204T000000/databases/telco-mart_served_marts.yaml",
            f"sqlalchemy_uri: {bi.serving_uri(served)}\n",
        )
        bundle.writestr("dashboard_export_20261204T000000/charts/Monthly_churn_rate_17.yaml", "slice_name: x\n")
    assets = tmp_path / "assets"
    (assets / "charts").mkdir(parents=True)
    (assets / "charts" / "Dropped_chart.yaml").write_text("slice_name: gone\n")
    written = bi.unbundle_export(exported.getvalue(), served, assets)
    assert sorted(p.relative_to(assets).as_posix() for p in written) == [
        "charts/Monthly_churn_rate.yaml",  # no id of the exporting deployment in the name
        "databases/telco-mart_served_marts.yaml",
        "metadata.yaml",
    ]
    assert not (assets / "charts" / "Dropped_chart.yaml").exists()  # a chart deleted in Superset goes
    database = (assets / "databases" / "telco-mart_served_marts.yaml").read_text()
    assert database == f"sqlalchemy_uri: {bi.SERVING_URI_PLACEHOLDER}\n"


def test_every_chart_reads_a_dataset_and_every_dashboard_chart_exists() -> None:
    assets = load_assets()
    (database,) = assets["databases"]
    datasets = {d["uuid"]: d for d in assets["datasets"]}
    charts = {c["uuid"]: c for c in assets["charts"]}
    assert {d["database_uuid"] for d in datasets.values()} == {database["uuid"]}
    assert {c["dataset_uuid"] for c in charts.values()} <= set(datasets)
    laid_out = set()
    for dashboard in assets["dashboards"]:
        items = [i for i in dashboard["position"].values() if isinstance(i, dict) and i.get("type") == "CHART"]
        assert items, dashboard["slug"]
        laid_out |= {i["meta"]["uuid"] for i in items}
    assert laid_out == set(charts), "a chart on no dashboard, or a dashboard chart without its YAML"


def test_the_datasets_read_served_marts_that_dbt_builds() -> None:
    """A mart renamed or dropped in dbt breaks a dashboard: this says which one."""
    manifest = json.loads((REPO_ROOT / "dbt_project" / "target" / "manifest.json").read_text())
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["schema"] == "marts"}
    served_elsewhere = {("marts", "dq_results"), ("serving", "snapshot")}  # the gate's table, the copy's record
    for dataset in load_assets()["datasets"]:
        if dataset["sql"]:
            continue  # a virtual dataset: its SQL names its marts, checked by the browser test
        relation = (dataset["schema"], dataset["table_name"])
        assert relation in served_elsewhere or (relation[0] == "marts" and relation[1] in models), relation
        assert relation[1] not in SERVING_EXCLUDE, f"{relation} holds personal data and is not served"


def test_secrets_are_generated_once_and_private(tmp_path: Path) -> None:
    settings = bi.BiSettings(home=tmp_path / "home", venv=tmp_path / "venv", port=8088, serving_path=tmp_path / "x")
    password = bi.ensure_secrets(settings)
    assert bi.ensure_secrets(settings) == password and len(password) >= 12
    for name in (bi.PASSWORD_FILE, bi.SECRET_KEY_FILE):
        mode = (settings.home / name).stat().st_mode
        assert not mode & (stat.S_IRWXG | stat.S_IRWXO), name
    assert password in bi.banner(settings, password) and "127.0.0.1" in bi.banner(settings, password)


def test_superset_runs_on_loopback_with_its_own_environment(tmp_path: Path) -> None:
    settings = bi.BiSettings(home=tmp_path / "home", venv=tmp_path / "venv", port=18088, serving_path=tmp_path / "x")
    command = bi.server_command(settings)
    assert command[0] == str(tmp_path / "venv" / "bin" / "gunicorn")
    assert command[command.index("--bind") + 1] == "127.0.0.1:18088"
    env = bi.superset_environment(settings, base={"PATH": "/usr/bin", "PYTHONPATH": "/somewhere"})
    assert "PYTHONPATH" not in env
    assert env["SUPERSET_CONFIG_PATH"] == str(bi.SUPERSET_CONFIG) and env["SUPERSET_HOME"] == str(settings.home)
    assert env["PATH"].startswith(str(tmp_path / "venv" / "bin")) and env["SCARF_ANALYTICS"] == "false"


def test_initialise_refuses_without_a_served_copy(tmp_path: Path) -> None:
    settings = bi.BiSettings(
        home=tmp_path / "home", venv=tmp_path / "venv", port=8088, serving_path=tmp_path / "none.duckdb"
    )
    with pytest.raises(FileNotFoundError, match="make demo"):
        bi.initialise(settings)
    assert not settings.home.exists()


def test_bi_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TELCO_MART_BI_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("TELCO_MART_BI_PORT", "9099")
    monkeypatch.setenv("TELCO_MART_SERVING_PATH", str(tmp_path / "s.duckdb"))
    settings = bi.BiSettings.from_env()
    assert (settings.home, settings.port, settings.serving_path) == (tmp_path / "h", 9099, tmp_path / "s.duckdb")
    assert settings.url == "http://127.0.0.1:9099"

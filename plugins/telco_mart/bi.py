"""Apache Superset for the analysts, set up from files in the repository (``make bi``).

Superset pins an older SQLAlchemy, pandas and DuckDB than Airflow, so it lives in its own
virtual environment (``.venv-bi/``, from ``requirements-bi.lock``) and this module, which
runs in the project's environment, drives it through its command line:

- ``initialise``: the metadata database (SQLite under SUPERSET_HOME), the admin user with a
  generated password (kept in ``admin_password.generated``, printed at start as Airflow
  prints its own), Superset's roles, then the analysts' dashboards imported from
  ``bi/assets/`` (Superset's own YAML export format: database, datasets, charts,
  dashboards), overwriting what an earlier import left, and each dataset's column list
  refreshed from the served copy.
- ``serve``: the web server on 127.0.0.1 only (gunicorn, as Superset runs in production).
- ``export``: the dashboards as they are now in Superset, back into ``bi/assets/``, so a
  change made in the UI becomes a change in the repository.

Superset reads the served copy of the marts (``telco_mart.serving``) read-only, never the
warehouse: the database in ``bi/assets/databases/`` carries a placeholder that the import
replaces with this deployment's served file.

    python -m telco_mart.bi serve    # what `make bi` runs: initialise, then serve
"""

from __future__ import annotations

import argparse
import io
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from telco_mart.config import REPO_ROOT, Settings
from telco_mart.runtime import NO_TELEMETRY

BI_DIR = REPO_ROOT / "bi"
ASSETS_DIR = BI_DIR / "assets"
SUPERSET_CONFIG = BI_DIR / "superset_config.py"
REFRESH_SCRIPT = BI_DIR / "refresh_datasets.py"
#: What the database YAML holds in place of the served copy's URI (it differs per deployment).
SERVING_URI_PLACEHOLDER = "__TELCO_MART_SERVING_URI__"
#: The folder at the root of an import bundle (Superset requires one).
BUNDLE_ROOT = "telco_mart_bi"
ADMIN_USER = "admin"
PASSWORD_FILE = "admin_password.generated"
SECRET_KEY_FILE = "secret_key"


@dataclass(frozen=True)
class BiSettings:
    """Where Superset lives and listens.

    | variable | default | what |
    | --- | --- | --- |
    | TELCO_MART_BI_HOME | `<repo>/.superset` | Superset's metadata database, secret key, admin password |
    | TELCO_MART_BI_VENV | `<repo>/.venv-bi` | Superset's virtual environment (`make bi` creates it) |
    | TELCO_MART_BI_PORT | `8088` | the port on 127.0.0.1 |
    | TELCO_MART_SERVING_PATH | (see telco_mart.config) | the served copy Superset reads |
    """

    home: Path
    venv: Path
    port: int
    serving_path: Path
    host: str = "127.0.0.1"

    @classmethod
    def from_env(cls) -> BiSettings:
        env = os.environ
        return cls(
            home=Path(env.get("TELCO_MART_BI_HOME", REPO_ROOT / ".superset")).expanduser().resolve(),
            venv=Path(env.get("TELCO_MART_BI_VENV", REPO_ROOT / ".venv-bi")).expanduser().resolve(),
            port=int(env.get("TELCO_MART_BI_PORT", "8088")),
            serving_path=Settings.from_env().serving_path,
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def password_file(self) -> Path:
        return self.home / PASSWORD_FILE


def serving_uri(served: Path) -> str:
    """The SQLAlchemy URI of the served copy: DuckDB, read-only (it takes no lock a writer
    could wait for, and the file is read-only on disk anyway)."""
    return f"duckdb:///{served}?access_mode=read_only"


def superset_environment(bi: BiSettings, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every Superset process: its config, its home, telemetry off."""
    env = dict(os.environ if base is None else base)
    env.pop("PYTHONPATH", None)  # Superset's environment, not the project's
    env.update(NO_TELEMETRY)
    env.update(
        SUPERSET_HOME=str(bi.home),
        SUPERSET_CONFIG_PATH=str(SUPERSET_CONFIG),
        FLASK_APP="superset.app:create_app()",
        SCARF_ANALYTICS="false",
        PATH=os.pathsep.join([str(bi.venv / "bin"), env.get("PATH", "")]),
    )
    return env


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text + "\n")


def ensure_secrets(bi: BiSettings) -> str:
    """Superset's secret key and the admin password, generated once; return the password."""
    key = bi.home / SECRET_KEY_FILE
    if not key.exists():
        _write_private(key, secrets.token_urlsafe(48))
    if not bi.password_file.exists():
        _write_private(bi.password_file, secrets.token_urlsafe(12))
    return bi.password_file.read_text().strip()


def bundle_assets(served: Path, assets: Path = ASSETS_DIR) -> bytes:
    """The import bundle Superset takes: ``assets`` zipped under one root folder, the
    served copy's URI in place of the placeholder."""
    files = sorted(p for p in assets.rglob("*.yaml") if p.is_file())
    if not files:
        raise FileNotFoundError(f"no Superset YAML under {assets}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in files:
            text = path.read_text(encoding="utf-8").replace(SERVING_URI_PLACEHOLDER, serving_uri(served))
            bundle.writestr(f"{BUNDLE_ROOT}/{path.relative_to(assets).as_posix()}", text)
    return buffer.getvalue()


def asset_path(exported_name: str) -> Path:
    """Where an exported file goes under ``assets``: the export's root folder dropped, and the
    ``_<id>`` Superset appends to each name (an id of this deployment's metadata database)."""
    relative = Path(*Path(exported_name).parts[1:])
    return relative.with_name(re.sub(r"_\d+$", "", relative.stem) + relative.suffix)


def unbundle_export(exported: bytes, served: Path, assets: Path = ASSETS_DIR) -> list[Path]:
    """Write Superset's export zip into ``assets`` (replacing it), the served copy's URI
    turned back into the placeholder, so the files hold nothing of this deployment."""
    uri = serving_uri(served)
    written = []
    with zipfile.ZipFile(io.BytesIO(exported)) as bundle:
        names = [n for n in bundle.namelist() if n.endswith(".yaml")]
        if not names:
            raise ValueError("the export holds no YAML")
        shutil.rmtree(assets, ignore_errors=True)
        for name in names:
            target = assets / asset_path(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(bundle.read(name).decode("utf-8").replace(uri, SERVING_URI_PLACEHOLDER))
            written.append(target)
    return written


def superset(bi: BiSettings, *args: str, capture: bool = True) -> str:
    """Run Superset's command line; raise with its output when it fails."""
    executable = bi.venv / "bin" / "superset"
    if not executable.exists():
        raise FileNotFoundError(f"{executable} not found: `make bi-venv` installs Superset from requirements-bi.lock")
    proc = subprocess.run(
        [str(executable), *args], env=superset_environment(bi), capture_output=capture, text=True, check=False
    )
    if proc.returncode != 0:
        output = f"{proc.stdout}\n{proc.stderr}"[-8000:]
        raise RuntimeError(f"superset {' '.join(args)} failed ({proc.returncode}):\n{output}")
    return (proc.stdout or "") + (proc.stderr or "")


def initialise(bi: BiSettings, log=print) -> str:
    """Metadata, admin, roles and the repository's dashboards; return the admin password."""
    if not bi.serving_path.exists():
        raise FileNotFoundError(
            f"no served copy of the marts at {bi.serving_path}: run the DAG first (`make demo`), "
            "whose last task `serve` writes it"
        )
    password = ensure_secrets(bi)
    log(f"superset: metadata database in {bi.home}")
    superset(bi, "db", "upgrade")
    users = superset(bi, "fab", "list-users")
    if not re.search(rf"^username:{ADMIN_USER} \|", users, re.MULTILINE):  # a line of `fab list-users`
        superset(
            bi,
            *("fab", "create-admin", "--username", ADMIN_USER, "--firstname", "telco-mart"),
            *("--lastname", "admin", "--email", "admin@localhost", "--password", password),
        )
    else:
        superset(bi, "fab", "reset-password", "--username", ADMIN_USER, "--password", password)
    superset(bi, "init")
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "telco_mart_bi.zip"
        bundle.write_bytes(bundle_assets(bi.serving_path))
        superset(bi, "import-dashboards", "--path", str(bundle), "--username", ADMIN_USER)
    refreshed = _run_in_superset(bi, REFRESH_SCRIPT)
    log(f"superset: dashboards imported from {ASSETS_DIR.relative_to(REPO_ROOT)}; {refreshed.strip()}")
    return password


def _run_in_superset(bi: BiSettings, script: Path) -> str:
    proc = subprocess.run(
        [str(bi.venv / "bin" / "python"), str(script)],
        env=superset_environment(bi),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{script.name} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
    return proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""


def server_command(bi: BiSettings, workers: int = 1, threads: int = 8) -> list[str]:
    """gunicorn serving Superset on 127.0.0.1 only."""
    return [
        str(bi.venv / "bin" / "gunicorn"),
        *("--bind", f"{bi.host}:{bi.port}"),
        *("--workers", str(workers), "--threads", str(threads), "--worker-class", "gthread"),
        *("--timeout", "300", "--limit-request-line", "0", "--limit-request-field_size", "0"),
        "--no-control-socket",  # else one shared socket in the user's home for every gunicorn
        "superset.app:create_app()",
    ]


def banner(bi: BiSettings, password: str) -> str:
    return (
        f"\nSuperset for telco-mart: {bi.url}/ (listening on {bi.host} only)\n"
        f"Login with username: {ADMIN_USER}  password: {password}\n"
        f"(the password is kept in {bi.password_file})\n"
        f"Dashboards read {bi.serving_path}, swapped in by the DAG's last task.\n"
    )


def export(bi: BiSettings) -> list[Path]:
    """The dashboards as Superset holds them now, written back into bi/assets/."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "export.zip"
        superset(bi, "export-dashboards", "--dashboard-file", str(out))
        return unbundle_export(out.read_bytes(), bi.serving_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m telco_mart.bi", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("init", "serve", "export"))
    args = parser.parse_args(argv)
    bi = BiSettings.from_env()
    if args.command == "export":
        for path in export(bi):
            print(f"wrote {path.relative_to(REPO_ROOT)}")
        return 0
    password = initialise(bi)
    if args.command == "init":
        print(banner(bi, password))
        return 0
    print(banner(bi, password), flush=True)
    command = server_command(bi)
    os.execve(command[0], command, superset_environment(bi))
    return 0  # pragma: no cover - execve does not return


if __name__ == "__main__":
    sys.exit(main())

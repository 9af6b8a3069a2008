"""Where the suites live and the thresholds they share (``expectations/gate.yml``).

Suites say what is checked and how severe a failure is; the shared thresholds live in one
YAML file so that tuning the quarantine rate or the volume band is a one-line change that a
reviewer sees, not an edit of thirteen suites.

gate.yml's values are tuned to the generated world. An operator whose data differs (another
service mix, another segment balance) sets its own in the ``gate:`` section of its operator
profile, which has gate.yml's shape and is laid over it (:meth:`GateConfig.overlaid`), so one
operator's tuning never edits the defaults every other operator and the tests share.

The settings themselves (their names and types, and the one parser of a gate document) are
in :mod:`telco_mart.gate_settings`, which the operator profile reads its ``gate:`` with.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from telco_mart.config import REPO_ROOT
from telco_mart.contract.operator_profile import OperatorProfile
from telco_mart.gate_settings import GateConfig, QualityConfigError, parse_gate_config

GATE_CONFIG_FILE = "gate.yml"


def expectations_dir() -> Path:
    """The folder of suites and gate.yml: ``$TELCO_MART_EXPECTATIONS_DIR`` or ``<repo>/expectations``."""
    value = os.environ.get("TELCO_MART_EXPECTATIONS_DIR")
    return Path(value).expanduser().resolve() if value else REPO_ROOT / "expectations"


def load_gate_config(directory: Path | None = None, profile: OperatorProfile | None = None) -> GateConfig:
    """Read and check gate.yml, so that a typo fails the gate loudly instead of loosening it,
    with the operator ``profile``'s ``gate:`` section laid over it (:meth:`GateConfig.overlaid`)."""
    path = (directory or expectations_dir()) / GATE_CONFIG_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise QualityConfigError(f"{path} is missing: the gate's thresholds live there") from None
    config = parse_gate_config(data, str(path), complete=True)
    return config.overlaid(profile.gate) if profile is not None and profile.gate is not None else config

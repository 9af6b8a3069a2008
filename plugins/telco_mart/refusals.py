"""The errors that retrying cannot fix: a run that must stop, not try again.

Each is raised where its rule lives (the catalog, the warehouse, the run date, the gate, the
publish), and is defined here, in a module that imports nothing, so the DAG file can name
the refusals of each task when Airflow parses it (``@refuse_without_retry(...)`` in
:mod:`telco_mart.orchestration`) without loading the pipeline's modules at every parse.
The modules that raise them import them from here, so ``telco_mart.warehouse.WarehouseMissing``
and ``telco_mart.quality.QualityGateFailed`` still name the same classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class CatalogError(ValueError):
    """The catalog is not valid; the message names every bad entry and field."""


class PublishError(RuntimeError):
    """The day cannot be published as decided; nothing was changed in the outbox."""


class QualityGateFailed(RuntimeError):
    """An expectation of severity ``fail`` did not hold: nothing downstream may run for the dates.

    ``findings`` are the gate's :class:`telco_mart.quality.results.Finding` records (typed
    loosely here: this module imports no other telco_mart module), ``report`` its HTML report.
    """

    def __init__(self, message: str, findings: list[Any], report: Path) -> None:
        super().__init__(message)
        self.findings = findings
        self.report = report


class RunDateRefused(ValueError):
    """A run date the pipeline must not run for (before the start date); retrying cannot help."""


class WarehouseMissing(FileNotFoundError):
    """The warehouse file does not exist and nobody asked to create one."""

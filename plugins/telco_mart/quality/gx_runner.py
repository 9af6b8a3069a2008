"""Great Expectations, run in memory on pandas frames the gate hands it.

GX's SQL datasource fails on DuckDB (it reads a cursor after its connection closed), and
its pandas datasource over a whole day of usage is slow and heavy (see pushdown.py), so the
gate gives GX small frames: a day's metrics, or a few offending rows. The context is
ephemeral (nothing written to disk), with analytics and progress bars off: the warehouse
runs on networks that forbid phoning home, and progress bars would fill the Airflow task log.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from telco_mart.quality.suites import Check, GateSuite

#: First pass: the verdict only, which costs GX about half of a full result. Second pass, for
#: the expectations that failed: every unexpected row index and value, which the gate maps
#: back to delivery dates (one frame row per date) and to the offending rows it fetched.
VERDICT_FORMAT = {"result_format": "BOOLEAN_ONLY"}
DETAIL_FORMAT = {"result_format": "COMPLETE"}


class ValidationError(RuntimeError):
    """GX could not evaluate an expectation (as opposed to the data failing it)."""


def _raised(exception_info: Any) -> str | None:
    """GX reports an exception either flat or per metric; the message of the first, if any."""
    if not isinstance(exception_info, dict):
        return None
    infos = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    for info in infos:
        if isinstance(info, dict) and info.get("raised_exception"):
            return str(info.get("exception_message") or info.get("exception_traceback"))
    return None


class GxRunner:
    """One ephemeral GX context reused for every validation of a gate run."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        context = gx.get_context(
            mode="ephemeral",
            project_config=DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(),
                analytics_enabled=False,
                progress_bars=ProgressBarsConfig(globally=False),
            ),
        )
        asset = context.data_sources.add_pandas("telco_mart_gate").add_dataframe_asset("frame")
        self._frames = asset.add_batch_definition_whole_dataframe("whole_frame")

    def _run(
        self, suite: GateSuite, checks: tuple[Check, ...], frame: pd.DataFrame, parameters: dict[str, Any], fmt: dict
    ) -> dict[int, dict[str, Any]]:
        batch = self._frames.get_batch(batch_parameters={"dataframe": frame})
        outcome = batch.validate(suite.gx_suite(checks), expectation_parameters=parameters, result_format=fmt)
        results: dict[int, dict[str, Any]] = {}
        for result in outcome.results:
            index = int(result.expectation_config.id)
            if message := _raised(result.exception_info):
                check = next(c for c in checks if c.index == index)
                raise ValidationError(f"{suite.name}: Great Expectations could not evaluate {check.key}: {message}")
            results[index] = {"success": bool(result.success), **(result.result or {})}
        return results

    def validate(
        self, suite: GateSuite, checks: tuple[Check, ...], frame: pd.DataFrame, parameters: dict[str, Any]
    ) -> dict[int, dict[str, Any]]:
        """GX's result of each check (by check index) on ``frame``: ``{"success": True}`` for a
        pass, the complete result for a failure. Raises if GX itself could not evaluate one."""
        if not checks:
            return {}
        results = self._run(suite, checks, frame, parameters, VERDICT_FORMAT)
        failed = tuple(c for c in checks if not results[c.index]["success"])
        if failed:
            results |= self._run(suite, failed, frame, parameters, DETAIL_FORMAT)
        return results

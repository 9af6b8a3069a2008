"""The data-quality gate: Great Expectations suites in ``expectations/``, run in the DAG.

- :mod:`.suites` reads the suite files (severity, batch, description per expectation);
- :mod:`.raw` computes a raw feed's day metrics in DuckDB and has GX judge them and the
  row rules (:mod:`.pushdown`, :mod:`.gx_runner`);
- :mod:`.outputs` validates the run date's slice of an output table, with the metrics of
  an output stage's module (:mod:`.marts`: rates, segment shares, KPI reconciliation;
  :mod:`.publish`: opt-outs, duplicates, caps, control share and list size of the target
  lists, before they are published);
- :mod:`.gate` runs a stage, stores :mod:`.results` in ``marts.dq_results``, writes the
  :mod:`.report` and raises :class:`QualityGateFailed` on a ``fail``;
- :mod:`.scaffold` keeps the contract-derived expectations in step with the raw contract.
"""

from telco_mart.gate_settings import QualityConfigError
from telco_mart.quality.gate import (
    GateOutcome,
    QualityGateFailed,
    run_marts_gate_on,
    run_publish_gate_on,
    run_raw_gate_on,
    run_stage_on,
)

__all__ = [
    "GateOutcome",
    "QualityConfigError",
    "QualityGateFailed",
    "run_marts_gate_on",
    "run_publish_gate_on",
    "run_raw_gate_on",
    "run_stage_on",
]

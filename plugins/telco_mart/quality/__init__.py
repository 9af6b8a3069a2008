"""The data-quality gate: Great Expectations suites in ``expectations/``, run in the DAG.

- :mod:`.suites` reads the suite files (severity, batch, description per expectation);
- :mod:`.raw` computes a raw feed's day metrics in DuckDB and has GX judge them and the
  row rules (:mod:`.pushdown`, :mod:`.gx_runner`);
- :mod:`.gate` runs a stage, stores :mod:`.results` in ``marts.dq_results``, writes the
  :mod:`.report` and raises :class:`QualityGateFailed` on a ``fail``;
- :mod:`.scaffold` keeps the contract-derived expectations in step with the raw contract.
"""

from telco_mart.quality.config import QualityConfigError
from telco_mart.quality.gate import GateOutcome, QualityGateFailed, run_raw_gate_on

__all__ = ["GateOutcome", "QualityConfigError", "QualityGateFailed", "run_raw_gate_on"]

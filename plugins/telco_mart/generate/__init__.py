"""Synthetic operator feeds for the raw contract, with the planted truth beside them.

``generate()`` writes every feed of ``telco_mart.contract`` as daily files a real operator
would deliver, from a population planted with the four customer groups, churners who
decline before leaving, degraded cells, and (on request) the bad input real feeds carry.
The world runs in steady state (``dynamics``): gross adds replace churn and data-driven
new subscribers move on at the 12-month line, so each group keeps its share month after
month. ``out/_truth`` holds what was planted, who was in which group when included, so
tests can check that the warehouse finds it.
"""

from telco_mart.generate.core import (
    GENERATOR_VERSION,
    NOT_GENERATED,
    GenerationSummary,
    GeneratorArgumentError,
    generate,
)
from telco_mart.generate.settings import (
    DEFAULT_SETTINGS,
    GROUP_PROFILES,
    GROUPS,
    GeneratorSettings,
    GroupProfile,
    GroupShares,
)

__all__ = [
    "DEFAULT_SETTINGS",
    "GENERATOR_VERSION",
    "GROUPS",
    "GROUP_PROFILES",
    "NOT_GENERATED",
    "GenerationSummary",
    "GeneratorArgumentError",
    "GeneratorSettings",
    "GroupProfile",
    "GroupShares",
    "generate",
]

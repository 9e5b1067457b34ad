"""Pacing: how many calls an automatic campaign places, from what it observes.

:class:`PredictivePacer` and :class:`ProgressivePacer` keep the :class:`Pacer` interface;
``docs/dialing/pacer.md`` describes its input and output, and
``docs/adr/0006-predictive-pacing.md`` the predictive algorithm.
"""

from callhopper.domain.pacing.model import (
    DEFAULT_ABANDON_TARGET,
    DEFAULT_CONNECT_GRACE_S,
    Pacer,
    PacingDecision,
    PacingObservation,
    PacingTarget,
    ProgressivePacer,
)
from callhopper.domain.pacing.predictive import PredictivePacer

__all__ = [
    "DEFAULT_ABANDON_TARGET",
    "DEFAULT_CONNECT_GRACE_S",
    "Pacer",
    "PacingDecision",
    "PacingObservation",
    "PacingTarget",
    "PredictivePacer",
    "ProgressivePacer",
]

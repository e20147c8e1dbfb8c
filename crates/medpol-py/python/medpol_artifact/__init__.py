"""Load medpol decision artifacts (``medpol.decision/2``) and decide with them.

The artifact crate of medpol, compiled: facts are read and decisions evaluated exactly as
``medpol eval`` does. See the README of ``crates/medpol-py`` for a guide.
"""

from ._native import (
    Artifact,
    DecisionResult,
    Fact,
    FactError,
    LoadError,
    RowError,
    Step,
)

__all__ = [
    "Artifact",
    "DecisionResult",
    "Fact",
    "FactError",
    "LoadError",
    "RowError",
    "Step",
]

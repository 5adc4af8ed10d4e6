"""Scorers, registered by name; importing this package registers the built-ins."""

from harness.scoring import classification
from harness.scoring.base import SCORERS, Output, Score, ScorerInfo, scorer, scorers_for

__all__ = ["SCORERS", "Output", "Score", "ScorerInfo", "classification", "scorer",
           "scorers_for"]

"""Scorers, registered by name; importing this package registers the built-ins."""

from harness.scoring import classification, format, terminology, tone
from harness.scoring.base import (
    SCORERS,
    Output,
    Score,
    ScorerInfo,
    score_all,
    scorer,
    scorer_identities,
    scorers_for,
    scorers_for_task,
    task_scorer,
)

__all__ = ["SCORERS", "Output", "Score", "ScorerInfo", "classification", "format",
           "score_all", "scorer", "scorer_identities", "scorers_for", "scorers_for_task",
           "task_scorer", "terminology", "tone"]

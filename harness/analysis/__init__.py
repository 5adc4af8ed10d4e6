"""Statistics over stored scores: pure functions, seeded, no I/O."""

from harness.analysis.paired import Interval, PairedDiff, bootstrap_mean_ci, paired_difference

__all__ = ["Interval", "PairedDiff", "bootstrap_mean_ci", "paired_difference"]

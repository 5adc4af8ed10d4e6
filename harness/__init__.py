"""tunegate: does fine-tuning beat prompting by enough to pay for itself?"""

from harness.errors import UsageError

__all__ = ["UsageError", "__version__"]
__version__ = "0.1.0"

"""Other libraries' output, through their own switches: no bars, their messages to logging.

The CLI sets :data:`BAR_SWITCHES` in the environment before anything imports
tqdm or the Hugging Face libraries (tqdm reads ``TQDM_*`` when it is first
imported; the Hub and transformers read theirs then too), unless ``-v`` asks
for everything. :func:`adopt_transformers_logging` is called where transformers
is imported: its records then reach the root logger's handlers (the run's log
file; the terminal only with ``-v``) instead of its own handler on stderr.
"""

from __future__ import annotations

import os

BAR_SWITCHES = {"TQDM_DISABLE": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
"""Environment switches that turn off tqdm's and the Hugging Face libraries' bars."""


def bars_disabled() -> bool:
    """Whether this process runs with the libraries' progress bars off."""
    return os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS", "").strip() not in ("", "0")


def adopt_transformers_logging() -> None:
    """Route transformers' log records through logging's root handlers; bars as the process says.

    A no-op when transformers is not installed.
    """
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:
        return
    hf_logging.disable_default_handler()
    hf_logging.enable_propagation()
    if bars_disabled():
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    else:
        hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]

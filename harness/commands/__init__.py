"""The ``tunegate`` commands: one function per command, and what they print.

``harness.cli`` parses the command line and calls one of them; each returns
the exit code. Screen and log output live beside them (``screen``, ``logs``,
``feedback``).
"""

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INCONCLUSIVE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
"""Exit codes: 0 ok, 1 gate failed or regression, 2 usage or input error, 3 inconclusive,
130 interrupted (finished work is kept)."""

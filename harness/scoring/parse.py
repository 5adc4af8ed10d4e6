"""The output parsers, under the name the scorers' callers know.

They live in :mod:`harness.answers`, which imports no scorer, so that task
loading checks each gold answer with the very code that parses an output.
"""

from harness.answers import Parsed, first_line, parse_json, parse_output, parse_regex, parse_text

__all__ = ["Parsed", "first_line", "parse_json", "parse_output", "parse_regex", "parse_text"]

r"""A practical subset of Python regular expressions translated to a llama.cpp GBNF grammar.

GBNF (llama.cpp's grammar format, ``grammars/README.md`` in llama.cpp) has
literals, character classes, groups, alternation and the repetitions ``*``,
``+``, ``?`` and ``{m,n}``: exactly what a regular language needs. This
module parses a pattern into those pieces and writes them out.

Supported: literal characters and escapes (``\.``, ``\n``, ``\t``), ``.``
(any character but a newline), classes ``[a-z_]`` and ``[^...]``, ``\d \w
\s \D \W \S`` (ASCII meanings), groups ``(...)``, ``(?:...)`` and
``(?P<name>...)``, alternation ``|``, quantifiers ``* + ? {n} {n,} {n,m}``
(lazy forms match the same strings), and ``^``/``$``/``\A``/``\Z`` at the
ends of the pattern (the grammar always matches the whole answer). Anything
else (look-around, back-references, word boundaries, inline flags, anchors
in the middle) is refused with a message naming it, never approximated.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import UsageError

_CLASSES = {"d": "[0-9]", "w": "[a-zA-Z0-9_]", "s": "[ \\t\\n\\r\\x0B\\x0C]",
            "D": "[^0-9]", "W": "[^a-zA-Z0-9_]", "S": "[^ \\t\\n\\r\\x0B\\x0C]"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "0": "\0"}
_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
            " _.,:;!?'@#%&=+*/<>{}()|$~`")


def gbnf_char(c: str) -> str:
    r"""One character as it may appear inside a GBNF literal or class (escaped when needed).

    >>> gbnf_char("a"), gbnf_char('"'), gbnf_char("-"), gbnf_char("é")
    ('a', '\\x22', '\\x2D', '\\u00E9')
    """
    if c in _SAFE:
        return c
    code = ord(c)
    if code < 0x80:
        return f"\\x{code:02X}"
    if code <= 0xFFFF:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"


def gbnf_literal(text: str) -> str:
    r"""``text`` as a GBNF string literal.

    >>> gbnf_literal('say "hi"')
    '"say \\x22hi\\x22"'
    """
    return '"' + "".join(gbnf_char(c) for c in text) + '"'


def _is_literal(part: str) -> bool:
    return len(part) >= 2 and part[0] == part[-1] == '"' and '"' not in part[1:-1]


@dataclass
class _Parser:
    """Recursive descent over the pattern; each ``_x`` method returns GBNF text."""

    pattern: str
    pos: int = 0

    def fail(self, what: str) -> UsageError:
        return UsageError(f"constrain: regex: {what} (at character {self.pos} of "
                          f"{self.pattern!r}) cannot be turned into a grammar",
                          hint="supported: literals, ., [classes], \\d \\w \\s, groups, |, "
                          "* + ? {m,n}, ^ and $ at the ends")

    def peek(self) -> str:
        return self.pattern[self.pos] if self.pos < len(self.pattern) else ""

    def alternation(self) -> str:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.pos += 1
            branches.append(self.sequence())
        return branches[0] if len(branches) == 1 else "(" + " | ".join(branches) + ")"

    def sequence(self) -> str:
        parts: list[str] = []
        while self.peek() not in ("", "|", ")"):
            atom = self.atom()
            if atom is None:
                continue
            part = self.quantified(atom)
            if parts and _is_literal(part) and _is_literal(parts[-1]):
                parts[-1] = parts[-1][:-1] + part[1:]  # "a" "b" -> "ab"
            else:
                parts.append(part)
        return " ".join(parts) if parts else '""'

    def quantified(self, atom: str) -> str:
        c = self.peek()
        if c in ("*", "+", "?"):
            self.pos += 1
            out = f"{atom}{c}"
        elif c == "{" and self._is_count():
            out = atom + self._count()
        else:
            return atom
        if self.peek() == "?":  # lazy: the same set of strings
            self.pos += 1
        if self.peek() in ("*", "+", "?", "{") and (self.peek() != "{" or self._is_count()):
            raise self.fail("a quantifier after a quantifier")
        return out

    def _is_count(self) -> bool:
        end = self.pattern.find("}", self.pos)
        body = self.pattern[self.pos + 1:end] if end > 0 else ""
        lo, _, hi = body.partition(",")
        return bool(end > 0 and lo.isdigit() and (hi == "" or hi.isdigit()))

    def _count(self) -> str:
        end = self.pattern.index("}", self.pos)
        body = self.pattern[self.pos + 1:end]
        self.pos = end + 1
        lo, comma, hi = body.partition(",")
        if hi and int(hi) < int(lo):
            raise self.fail(f"the count {{{body}}} (max below min)")
        return "{" + lo + ("," + hi if comma else "") + "}"

    def atom(self) -> str | None:
        c = self.peek()
        if c == "(":
            return self.group()
        if c == "[":
            return self.char_class()
        if c == ".":
            self.pos += 1
            return "[^\\n]"
        if c == "\\":
            return self.escape()
        if c in ("^", "$"):
            self.anchor(c)
            return None
        if c in ("*", "+", "?"):
            raise self.fail(f"a quantifier {c!r} with nothing to repeat")
        if c == "{" and self._is_count():
            raise self.fail("a count with nothing to repeat")
        self.pos += 1
        return gbnf_literal(c)

    def anchor(self, c: str) -> None:
        at_start = self.pos == 0 and c == "^"
        at_end = self.pos == len(self.pattern) - 1 and c == "$"
        if not (at_start or at_end):
            raise self.fail(f"the anchor {c!r} inside the pattern")
        self.pos += 1

    def group(self) -> str:
        self.pos += 1
        rest = self.pattern[self.pos:]
        if rest.startswith("?:"):
            self.pos += 2
        elif rest.startswith("?P<"):
            close = rest.find(">")
            if close < 0:
                raise self.fail("an unterminated group name")
            self.pos += close + 1
        elif rest.startswith("?"):
            kinds = {"?=": "a look-ahead", "?!": "a negative look-ahead",
                     "?<=": "a look-behind", "?<!": "a negative look-behind",
                     "?P=": "a named back-reference", "?#": "a comment"}
            name = next((v for k, v in kinds.items() if rest.startswith(k)), "an inline flag")
            raise self.fail(name)
        inner = self.alternation()
        if self.peek() != ")":
            raise self.fail("an unbalanced '('")
        self.pos += 1
        return f"({inner})"

    def escape(self) -> str | None:
        nxt = self.pattern[self.pos + 1:self.pos + 2]
        if not nxt:
            raise self.fail("a trailing backslash")
        if nxt in _CLASSES:
            self.pos += 2
            return _CLASSES[nxt]
        if nxt in ("A", "Z"):
            at_start = self.pos == 0 and nxt == "A"
            at_end = self.pos + 2 == len(self.pattern) and nxt == "Z"
            if not (at_start or at_end):
                raise self.fail(f"the anchor '\\{nxt}' inside the pattern")
            self.pos += 2
            return None
        if nxt.isdigit() and nxt != "0":
            raise self.fail(f"the back-reference '\\{nxt}'")
        if nxt.isalpha() and nxt not in _ESCAPES:
            raise self.fail(f"the escape '\\{nxt}'")
        self.pos += 2
        return gbnf_literal(_ESCAPES.get(nxt, nxt))

    def char_class(self) -> str:
        self.pos += 1
        negate = self.peek() == "^"
        if negate:
            self.pos += 1
        items: list[str] = []
        first = True
        while True:
            c = self.peek()
            if c == "":
                raise self.fail("an unterminated '['")
            if c == "]" and not first:
                self.pos += 1
                break
            first = False
            items.append(self.class_item())
        return "[" + ("^" if negate else "") + "".join(items) + "]"

    def class_item(self) -> str:
        lo = self.class_char()
        if len(lo) == 2:  # \d, \w, \s inside a class
            body = _CLASSES[lo[1]]
            if body.startswith("[^"):
                raise self.fail(f"the negated class escape '{lo}' inside [...]")
            return body[1:-1]
        if self.peek() == "-" and self.pattern[self.pos + 1:self.pos + 2] not in ("]", ""):
            self.pos += 1
            hi = self.class_char()
            if len(hi) == 2 or ord(hi) < ord(lo):
                raise self.fail(f"the range {lo}-{hi}")
            return f"{gbnf_char(lo)}-{gbnf_char(hi)}"
        return gbnf_char(lo)

    def class_char(self) -> str:
        r"""One class member: a character, or a class escape such as ``\d`` (two characters)."""
        c = self.peek()
        if c != "\\":
            self.pos += 1
            return c
        nxt = self.pattern[self.pos + 1:self.pos + 2]
        if not nxt:
            raise self.fail("a trailing backslash")
        self.pos += 2
        if nxt in _CLASSES:
            return "\\" + nxt
        if nxt.isalpha() and nxt not in _ESCAPES:
            raise self.fail(f"the escape '\\{nxt}' inside [...]")
        return _ESCAPES.get(nxt, nxt)


def regex_to_gbnf(pattern: str, leading_space: bool = True) -> str:
    r"""A GBNF grammar whose language is the strings that fully match ``pattern``.

    Args:
        pattern: A Python regular expression (the subset in the module doc).
        leading_space: Also allow one space before the match (a completion
            after ``Answer:`` usually starts with one; the parsers strip it).

    Returns:
        The grammar text, with one rule ``root``.

    Raises:
        UsageError: The pattern uses a construct outside the subset (named).

    >>> regex_to_gbnf(r"[A-Z]{3}-\d+", leading_space=False)
    'root ::= [A-Z]{3} "\\x2D" [0-9]+'
    """
    parser = _Parser(pattern)
    body = parser.alternation()
    if parser.pos != len(pattern):
        raise parser.fail("an unbalanced ')'")
    prefix = '" "? ' if leading_space else ""
    return f"root ::= {prefix}{body}"

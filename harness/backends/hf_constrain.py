"""Constrained decoding on the ``hf:`` backend with lm-format-enforcer.

lm-format-enforcer (https://github.com/noamgat/lm-format-enforcer) limits
each generation step to the tokens that keep the text a prefix of a valid
answer: its ``JsonSchemaParser`` for ``constrain: schema``, its
``RegexParser`` (built on interegular) for ``regex`` and for ``labels`` (an
escaped alternation of the labels). It was chosen over outlines and
xgrammar because it is pure Python with four small dependencies
(interegular, pydantic, pyyaml, packaging) and installs next to the pinned
torch and transformers without touching them; xgrammar requires triton on
Linux x86-64 and outlines pulls a Rust core and many more packages.

Its ``integrations.transformers`` module imports a transformers path that
transformers 5 removed, so the tokenizer table it needs is built here the
same way (each token decoded alone and after a fixed token, to tell
word-start tokens), once per tokenizer, in batches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.backends.constrain import Constraint
from harness.errors import UsageError

PrefixFn = Callable[[int, Any], list[int]]


def _lmfe() -> Any:
    try:
        import lmformatenforcer
    except ImportError:
        raise UsageError("constrain on the hf backend needs lm-format-enforcer",
                         hint="pip install 'tunegate[train]' (it carries "
                         "lm-format-enforcer)") from None
    return lmformatenforcer


def character_parser(constraint: Constraint) -> Any:
    """lm-format-enforcer's parser for ``constraint``.

    Raises:
        UsageError: lm-format-enforcer is missing, or cannot compile the
            schema or regex (its message is kept).
    """
    lmfe = _lmfe()
    try:
        if constraint.kind == "schema":
            return lmfe.JsonSchemaParser(constraint.schema_dict)
        return lmfe.RegexParser(constraint.as_regex())
    except Exception as exc:  # noqa: BLE001 - interegular raises many kinds
        raise UsageError(f"lm-format-enforcer cannot compile constrain: {constraint.kind}: "
                         f"{type(exc).__name__}: {str(exc)[:200]}") from None


class Enforcer:
    """Token filters for one tokenizer; the tokenizer table is built once (its lifetime).

    Args:
        tokenizer: A transformers tokenizer.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tok = tokenizer
        self._data: Any = None

    def tokenizer_data(self) -> Any:
        """lm-format-enforcer's ``TokenEnforcerTokenizerData`` for the tokenizer."""
        if self._data is None:
            lmfe = _lmfe()
            tok = self._tok
            vocab = len(tok)
            special = set(tok.all_special_ids)
            ids = [i for i in range(vocab) if i not in special]
            zero = tok.encode("0", add_special_tokens=False)[-1]
            alone = tok.batch_decode([[i] for i in ids])
            after = [t[1:] for t in tok.batch_decode([[zero, i] for i in ids])]
            regular = [(i, a, len(a) > len(b)) for i, a, b in zip(ids, after, alone,
                                                                   strict=True)]

            def decode(tokens: list[int]) -> str:
                return str(tok.decode(tokens)).rstrip("\ufffd")

            self._data = lmfe.TokenEnforcerTokenizerData(regular, decode, tok.eos_token_id,
                                                         False, vocab)
        return self._data

    def prefix_fn(self, constraint: Constraint) -> PrefixFn:
        """A ``prefix_allowed_tokens_fn`` for ``model.generate`` enforcing ``constraint``."""
        lmfe = _lmfe()
        enforcer = lmfe.TokenEnforcer(self.tokenizer_data(), character_parser(constraint))

        def allowed(batch_id: int, sent: Any) -> list[int]:
            return list(enforcer.get_allowed_tokens(sent.tolist()).allowed_tokens)

        return allowed

"""Constrained decoding on the hf backend (lm-format-enforcer) with a tiny random model.

A random model says anything; under a constraint every sampled answer must
still be valid, whatever the seed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
torch = pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("lmformatenforcer")

from harness.backends import BackendOptions, GenRequest, ModelSpec, create  # noqa: E402
from harness.backends.constrain import Constraint  # noqa: E402
from harness.errors import UsageError  # noqa: E402

# Word-level vocabulary; decoding joins tokens with spaces. "0" is the token
# lm-format-enforcer's table decodes before each token to find word starts.
WORDS = ["<pad>", "<eos>", "<bos>", "<unk>", "0", "Word:", "Category:", "fruit", "animal",
         "colour", "apple", "dog", "{", "}", '"t"', ":", '"A"', '"B"', ",", "7"]


def _save_tiny(root: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)  # joins with spaces
    tok.post_processor = processors.TemplateProcessing(single="<bos> $A",
                                                       special_tokens=[("<bos>", 2)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<bos>", eos_token="<eos>",
                                   pad_token="<pad>", unk_token="<unk>")
    torch.manual_seed(0)
    config = Gemma3TextConfig(vocab_size=len(WORDS), hidden_size=32, intermediate_size=64,
                              num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                              head_dim=16, max_position_embeddings=64, sliding_window=8,
                              layer_types=["sliding_attention", "full_attention"],
                              pad_token_id=0, bos_token_id=2, eos_token_id=1)
    Gemma3ForCausalLM(config).save_pretrained(root)
    fast.save_pretrained(root)
    return root


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tiny = _save_tiny(tmp_path_factory.mktemp("tiny"))
    b = create(ModelSpec("hf", f"{tiny}?device=cpu&dtype=float32"), BackendOptions())
    yield b
    b.close()


def _draws(backend, constraint: Constraint | None, n: int = 6, max_tokens: int = 8
           ) -> list[str]:
    return [backend.generate(GenRequest("Word: apple Category:", max_tokens=max_tokens,
                                        temperature=1.0, seed=s, constraint=constraint)).text
            for s in range(n)]


def test_labels_constraint_gives_only_labels(backend) -> None:
    free = _draws(backend, None)
    assert any(t.strip() not in ("fruit", "animal") for t in free)  # random model: anything
    labels = _draws(backend, Constraint.for_labels(["fruit", "animal"]))
    assert {t.strip() for t in labels} <= {"fruit", "animal"}, labels


def test_regex_constraint_matches_fully(backend) -> None:
    import re

    pattern = "(fruit|animal) (apple|dog)"
    out = _draws(backend, Constraint.for_regex(pattern))
    assert all(re.fullmatch(pattern, t.strip()) for t in out), out


def test_schema_constraint_gives_valid_json(backend) -> None:
    schema = {"type": "object", "properties": {"t": {"enum": ["A", "B"]}}, "required": ["t"],
              "additionalProperties": False}
    out = _draws(backend, Constraint.for_schema(schema), max_tokens=8)
    parsed = [json.loads(t) for t in out]
    assert all(p in ({"t": "A"}, {"t": "B"}) for p in parsed), out


def test_capabilities_and_bad_regex(backend) -> None:
    assert backend.capabilities.constrain == frozenset({"schema", "labels", "regex"})
    with pytest.raises(UsageError, match="lm-format-enforcer cannot compile"):
        backend.check_constraint(Constraint.for_regex("(unclosed"))

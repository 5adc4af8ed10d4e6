"""The hf backend on a tiny random gemma-3 saved to disk (no download)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from harness.backends import BackendOptions, GenRequest, ModelSpec, ScoreRequest, create  # noqa: E402
from harness.errors import UsageError  # noqa: E402

WORDS = ["<pad>", "<eos>", "<bos>", "<unk>", "Word:", "Category:", "apple", "dog", "red",
         "fruit", "animal", "colour", "\n"]


def _save_tiny(root: Path) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig, PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
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
    model = Gemma3ForCausalLM(config)
    model.save_pretrained(root)
    fast.save_pretrained(root)
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _save_tiny(tmp_path_factory.mktemp("tiny"))


def _reference(root: Path, prompt: list[int], cont: list[int], adapter: Path | None = None
               ) -> float:
    """Naive: full logits over prompt + continuation, one sequence, no batching."""
    from transformers import AutoModelForCausalLM

    model: Any = AutoModelForCausalLM.from_pretrained(str(root), attn_implementation="eager",
                                                      dtype=torch.float32)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter))
    ids = torch.tensor([prompt + cont])
    with torch.no_grad():
        logp = torch.log_softmax(model(input_ids=ids).logits[0].double(), -1)
    return float(sum(logp[len(prompt) - 1 + j, t] for j, t in enumerate(cont)))


def test_batched_label_scores_equal_a_naive_reference(tiny: Path) -> None:
    backend = create(ModelSpec("hf", f"{tiny}?device=cpu&dtype=float32"), BackendOptions())
    got = backend.score(ScoreRequest("Word: apple Category:", (" fruit", " animal dog", " red")))
    assert got.prompt_tokens == 4 and got.token_counts == (1, 2, 1)
    prompt = [2, 4, 6, 5]
    for cont, lp in zip(([9], [10, 7], [8]), got.logprobs, strict=True):
        assert lp == pytest.approx(_reference(tiny, prompt, cont), abs=1e-5)
    assert backend.capabilities.logprobs and backend.count_tokens("Word: dog") == 2
    assert backend.identity["backend"] == "hf" and backend.identity["adapter"] is None
    backend.close()


def test_generate_counts_tokens_and_cuts_at_stop(tiny: Path) -> None:
    backend = create(ModelSpec("hf", str(tiny)), BackendOptions())
    resp = backend.generate(GenRequest("Word: dog Category:", max_tokens=4, stop=("\n",)))
    assert resp.prompt_tokens == 4 and 1 <= resp.completion_tokens <= 4
    assert "\n" not in resp.text
    backend.close()


def _peft_adapter(tiny: Path, out: Path, seed: int) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(tiny))
    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj"],
                                                  init_lora_weights=False))
    peft_model.save_pretrained(str(out))
    return out


def test_adapter_changes_scores_and_its_digest_is_in_the_identity(tiny: Path,
                                                                  tmp_path: Path) -> None:
    one = _peft_adapter(tiny, tmp_path / "one", 1)
    two = _peft_adapter(tiny, tmp_path / "two", 2)
    request = ScoreRequest("Word: apple Category:", (" fruit", " animal"))
    base = create(ModelSpec("hf", str(tiny)), BackendOptions())
    a = create(ModelSpec("hf", f"{tiny}?dtype=float32", str(one)), BackendOptions())
    b = create(ModelSpec("hf", str(tiny), str(two)), BackendOptions())
    ids = {x.identity["adapter"] for x in (base, a, b)}
    assert len(ids) == 3 and None in ids
    assert a.score(request).logprobs != base.score(request).logprobs
    assert a.score(request).logprobs[0] == pytest.approx(
        _reference(tiny, [2, 4, 6, 5], [9], one), abs=1e-5)


def test_bad_specs_and_adapters(tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no config.json"):
        create(ModelSpec("hf", str(tmp_path)), BackendOptions())
    with pytest.raises(UsageError, match="bad option"):
        create(ModelSpec("hf", f"{tiny}?device=tpu"), BackendOptions())
    with pytest.raises(UsageError, match="peft adapter directory not found"):
        create(ModelSpec("hf", str(tiny), str(tmp_path / "none")), BackendOptions())
    adapter = _peft_adapter(tiny, tmp_path / "ad", 1)
    (tmp_path / "training.json").write_text(json.dumps(
        {"base": {"name": "other-model", "sha256": "c" * 64}}))
    with pytest.raises(UsageError, match="trained for base other-model"):
        create(ModelSpec("hf", str(tiny), str(adapter)), BackendOptions())


def test_context_size_is_an_option_up_to_max_position_embeddings(tiny: Path) -> None:
    from harness.errors import ExampleError

    # The tiny model's config says max_position_embeddings 64: the default 2048 is
    # capped there, and asking for more is refused.
    assert create(ModelSpec("hf", str(tiny)), BackendOptions()).capabilities.n_ctx == 64
    with pytest.raises(UsageError, match=r"n_ctx=128 is more than this model supports \(64"):
        create(ModelSpec("hf", f"{tiny}?n_ctx=128"), BackendOptions())
    backend = create(ModelSpec("hf", f"{tiny}?n_ctx=32&device=cpu"), BackendOptions())
    assert backend.capabilities.n_ctx == 32
    # "Word:" + 27 x "dog" = 28 tokens + BOS + max_tokens 4 = 33 > 32: this example only.
    with pytest.raises(ExampleError, match=r"prompt \+ max_tokens is 33 tokens, more than "
                       r"the context \(32\)"):
        backend.generate(GenRequest("Word:" + " dog" * 27, max_tokens=4))
    # 26 x "dog": 27 + 1 + 4 = 32 fits.
    assert backend.generate(GenRequest("Word:" + " dog" * 26, max_tokens=4)).prompt_tokens == 28
    backend.close()

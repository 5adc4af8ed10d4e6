"""The training loop on a tiny random gemma-3 model: answer-only logits, LoRA, seeds, early stop."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from harness.training.data import Encoded, collate  # noqa: E402
from harness.training.options import TrainOptions  # noqa: E402
from harness.training.trainer import (  # noqa: E402
    add_lora,
    answer_loss,
    fit,
    full_logits_loss,
    mean_loss,
)

PAD = 0


def tiny_model(seed: int = 0) -> Any:
    """A 2-layer gemma-3 text model with a 97-token vocabulary, random weights, eager attention."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(seed)
    config = Gemma3TextConfig(vocab_size=97, hidden_size=32, intermediate_size=64,
                              num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                              head_dim=16, max_position_embeddings=64, sliding_window=8,
                              layer_types=["sliding_attention", "full_attention"],
                              pad_token_id=PAD, bos_token_id=1, eos_token_id=2)
    config._attn_implementation = "eager"
    return Gemma3ForCausalLM(config).eval()


def examples(n: int, answer: dict[int, int], offset: int = 0) -> list[Encoded]:
    """Prompts of varying length whose answer token depends on the last prompt token."""
    out = []
    for i in range(n):
        key = 10 + (i + offset) % 3
        prompt = (1,) + tuple(20 + (i * 7 + j) % 30 for j in range(i % 5)) + (key,)
        out.append(Encoded(f"e{i}", prompt, (answer[key], 3)))
    return out


TRUE = {10: 60, 11: 61, 12: 62}
OPTS = TrainOptions(rank=4, alpha=8, epochs=3, lr=5e-3, batch_size=4, seed=5,
                    target_modules=("q_proj", "v_proj"))


def test_answer_only_logits_equal_the_full_logits_loss() -> None:
    model = tiny_model()
    batch = collate(examples(7, TRUE), PAD)
    with torch.no_grad():
        fast, full = answer_loss(model, batch), full_logits_loss(model, batch)
    assert float(fast) == pytest.approx(float(full), rel=1e-5)
    # Padding is invisible: the same example alone or in a padded batch has the same loss.
    one = collate(examples(7, TRUE)[:1], PAD)
    short = Encoded("s", (1, 10), (60, 3))
    with torch.no_grad():
        alone = answer_loss(model, collate([short], PAD))
        padded = torch.nn.functional.cross_entropy(
            _rows(model, collate([short, *examples(5, TRUE)], PAD))[:2], torch.tensor([60, 3]))
    assert float(alone) == pytest.approx(float(padded), rel=1e-5)
    assert one.input_ids.shape[0] == 1


def _rows(model: Any, batch: Any) -> Any:
    from harness.training.trainer import answer_logits

    return answer_logits(model, batch)


def test_lora_weights_are_fp32_and_the_only_trainable_ones() -> None:
    model = add_lora(tiny_model().to(torch.bfloat16), OPTS)
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    assert all(p.dtype == torch.float32 for p in trainable.values())
    frozen = [p for n, p in model.named_parameters() if not p.requires_grad]
    assert any(p.dtype == torch.bfloat16 for p in frozen)
    assert {n.split(".")[-4] for n in trainable} <= {"q_proj", "v_proj"}


def _train(seed: int, train: list[Encoded], dev: list[Encoded], opts: TrainOptions) -> Any:
    opts = replace(opts, seed=seed)
    base = tiny_model()
    torch.manual_seed(seed)  # as train_adapter does: LoRA init and data order from the seed
    model = add_lora(base, opts)
    result = fit(model, train, dev, opts, PAD, "cpu")
    state = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    return model, result, state


def test_training_lowers_the_loss() -> None:
    train = examples(24, TRUE)
    model, result, _ = _train(5, train, [], OPTS)
    assert result.train_loss[-1] < result.train_loss[0]
    assert result.steps == 3 * 6 and result.answer_tokens == 3 * 24 * 2
    assert result.tokens_trained == 3 * sum(e.length for e in train)
    base = add_lora(tiny_model(), OPTS)
    assert mean_loss(model, train, 8, PAD, "cpu") < mean_loss(base, train, 8, PAD, "cpu")


def test_same_seed_gives_identical_lora_weights_and_another_seed_does_not() -> None:
    train = examples(12, TRUE)
    _, r1, a = _train(5, train, [], OPTS)
    _, r2, b = _train(5, train, [], OPTS)
    assert r1.train_loss == r2.train_loss
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    _, _, c = _train(6, train, [], OPTS)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_early_stop_keeps_the_best_dev_epoch() -> None:
    # Dev contradicts train: learning train makes dev worse, so epoch 1 (or 2) is best.
    wrong = {10: 61, 11: 62, 12: 60}
    train, dev = examples(24, TRUE), examples(6, wrong, offset=1)
    opts = replace(OPTS, epochs=8, lr=2e-2, early_stop_on_dev=True)
    model, result, _ = _train(5, train, dev, opts)
    assert result.stopped_early and len(result.train_loss) < 8
    assert result.best_epoch == 1 + result.dev_loss.index(min(result.dev_loss))
    # The weights kept are the best epoch's: its dev loss, not the last one's.
    assert mean_loss(model, dev, 4, PAD, "cpu") == pytest.approx(min(result.dev_loss), rel=1e-4)
    assert min(result.dev_loss) < result.dev_loss[-1]

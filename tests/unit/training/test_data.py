"""Training data: rendering, tokens, digests, seeded batches and padded collation."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.tasks import Example, load_task
from harness.training.data import (
    Encoded,
    Pair,
    answer_text,
    data_digest,
    encode_pairs,
    epoch_order,
    eval_order,
    render_pairs,
    stable_subset,
)

BOS, EOS = 1, 2


def char_tokens(text: str, bos: bool) -> list[int]:
    """A character-level tokenizer: one id per character, BOS = 1."""
    return ([BOS] if bos else []) + [ord(c) for c in text]


def test_render_pairs_uses_the_template_and_the_reference_answer(project) -> None:  # type: ignore[no-untyped-def]
    task = load_task(project.task)
    pairs = render_pairs(task, "train", "Message: {{ input }}\nAnswer:")
    assert len(pairs) == len(task.split("train"))
    first = task.split("train")[0]
    assert pairs[0] == Pair(first.id, f"Message: {first.input}\nAnswer:", " " + first.target)


def test_broken_template_is_a_usage_error(project) -> None:  # type: ignore[no-untyped-def]
    task = load_task(project.task)
    with pytest.raises(UsageError, match="template error"):
        render_pairs(task, "train", "{{ input }} {{ nothing_here }}")


@pytest.mark.parametrize(("prompt", "target", "answer"), [
    ("Answer:", "X", " X"), ("Answer: ", "X", "X"), ("Answer:\n", "X", "X"), ("", "X", "X"),
    ("Q:", '{"a": 1}', ' {"a": 1}'),
])
def test_answer_text_spacing(prompt: str, target: str, answer: str) -> None:
    assert answer_text(prompt, Example("i", "in", target, "train")) == answer


def test_encode_single_line_answer_ends_with_newline() -> None:
    enc = encode_pairs([Pair("a", "Q:", " yes")], char_tokens, EOS, 64)[0]
    assert enc.prompt_ids == (BOS, ord("Q"), ord(":"))
    assert enc.answer_ids == tuple(ord(c) for c in " yes\n")


def test_encode_multi_line_answer_ends_with_eos() -> None:
    enc = encode_pairs([Pair("a", "Q:", " one\ntwo")], char_tokens, EOS, 64)[0]
    assert enc.answer_ids[-1] == EOS
    assert enc.answer_ids[:-1] == tuple(ord(c) for c in " one\ntwo")


def test_too_long_examples_lose_the_start_of_the_prompt_never_bos_or_answer() -> None:
    prompt = "0123456789" * 3
    enc = encode_pairs([Pair("a", prompt, " ok")], char_tokens, EOS, 12)[0]
    assert enc.length == 12
    assert enc.prompt_ids[0] == BOS
    assert enc.prompt_ids[-1] == ord("9")  # the end of the prompt, next to the answer, stays
    assert enc.answer_ids == tuple(ord(c) for c in " ok\n")


def test_empty_prompt_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="empty prompt"):
        encode_pairs([Pair("a", "", "x")], lambda t, b: [ord(c) for c in t], EOS, 64)


def test_data_digest_is_order_free_and_sees_every_change() -> None:
    a, b = Pair("1", "p1", " A"), Pair("2", "p2", " B")
    base = data_digest([a, b], [], "T")
    assert data_digest([b, a], [], "T") == base
    assert data_digest([a, Pair("2", "p2", " A")], [], "T") != base
    assert data_digest([a, b], [], "T2") != base
    assert data_digest([a], [b], "T") != base  # moving an example to dev changes it


def _examples(n: int) -> list[Encoded]:
    return [Encoded(str(i), (BOS,) + (5,) * (i % 7), (9, 10)) for i in range(n)]


def test_epoch_order_is_seeded_complete_and_length_grouped() -> None:
    items = _examples(50)
    one = epoch_order(items, 4, seed=3, epoch=1)
    assert one == epoch_order(items, 4, seed=3, epoch=1)
    assert one != epoch_order(items, 4, seed=3, epoch=2)
    assert one != epoch_order(items, 4, seed=4, epoch=1)
    flat = [e.id for batch in one for e in batch]
    assert sorted(flat) == sorted(e.id for e in items)
    assert all(1 <= len(b) <= 4 for b in one)
    # Sorting windows by length keeps padding small: most batches span <= 2 lengths.
    spans = [max(e.length for e in b) - min(e.length for e in b) for b in one]
    assert sum(s <= 2 for s in spans) >= len(spans) * 0.7


def test_eval_order_is_sorted_and_complete() -> None:
    items = _examples(10)
    batches = eval_order(items, 3)
    lengths = [e.length for b in batches for e in b]
    assert lengths == sorted(lengths) and len(lengths) == 10


def test_collate_pads_right_and_indexes_answer_positions() -> None:
    torch = pytest.importorskip("torch")
    from harness.training.data import collate

    exs = [Encoded("a", (BOS, 7, 8), (20, 21)), Encoded("b", (BOS, 7), (30,))]
    batch = collate(exs, pad_id=0)
    assert batch.input_ids.tolist() == [[BOS, 7, 8, 20, 21], [BOS, 7, 30, 0, 0]]
    assert batch.attention_mask.tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert batch.targets.tolist() == [20, 21, 30]
    # The hidden state at (row, col) predicts the token at col + 1.
    assert batch.input_ids[batch.rows, batch.cols + 1].tolist() == batch.targets.tolist()
    assert batch.cols.tolist() == [2, 3, 1]
    assert batch.tokens == 8
    assert batch.input_ids.dtype == torch.long


def test_task_without_train_split_cannot_train(project, edit, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from harness.finetune import train_adapter
    from harness.training import TrainOptions

    edit(project.task, "    train: data/train.jsonl\n", "")
    task = load_task(project.task)
    with pytest.raises(UsageError, match="no train split"):
        train_adapter(task, out_dir=tmp_path / "out", options=TrainOptions())
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["support_routing", "support_record", "house_tone",
                                  "ops_acronyms"])
def test_every_family_trains_on_its_reference_answer(root: Path, name: str) -> None:
    task = load_task(root / "tasks" / f"{name}.yaml")
    pairs = render_pairs(task, "train", "In: {{ input }}\nOut:")
    assert len(pairs) == len(task.split("train")) > 0
    for pair, ex in zip(pairs, task.split("train"), strict=True):
        assert pair.prompt == f"In: {ex.input}\nOut:" and pair.answer == " " + ex.target
    encoded = encode_pairs(pairs[:5], char_tokens, EOS, 4096)
    assert all(e.answer_ids[:-1] == tuple(ord(c) for c in p.answer)
               for e, p in zip(encoded, pairs, strict=False))


def test_stable_subset_is_seeded_ordered_and_stable_under_growth() -> None:
    pairs = [Pair(f"e{i}", "Q:", " a") for i in range(50)]
    first = stable_subset(pairs, 10, seed=3)
    assert len(first) == 10 and first == sorted(first, key=lambda p: int(p.id[1:]))
    assert stable_subset(pairs, 10, seed=3) == first
    assert stable_subset(pairs, 10, seed=4) != first
    assert stable_subset(pairs, None, seed=3) == pairs == stable_subset(pairs, 99, seed=3)
    grown = stable_subset(pairs + [Pair(f"n{i}", "Q:", " b") for i in range(5)], 10, seed=3)
    assert len({p.id for p in grown} & {p.id for p in first}) >= 5

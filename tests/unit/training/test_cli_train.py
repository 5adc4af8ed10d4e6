"""``tunegate train``: every bad input is one line on stderr and exit 2, before any training."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.cli import main

TINY_GEMMA3 = {"model_type": "gemma3_text", "architectures": ["Gemma3ForCausalLM"],
               "vocab_size": 64, "hidden_size": 16, "intermediate_size": 32,
               "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
               "head_dim": 8, "max_position_embeddings": 512}


def _one_line_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err
    return err


def test_task_without_train_split(project, edit, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    edit(project.task, "    train: data/train.jsonl\n", "")
    err = _one_line_exit_2(capsys, ["train", str(project.task), "--out", str(tmp_path / "o")])
    assert "no train split" in err and str(project.task) in err
    assert not (tmp_path / "o").exists()


def test_existing_out_dir_needs_force(project, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "o"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    err = _one_line_exit_2(capsys, ["train", str(project.task), "--out", str(out)])
    assert "already exists" in err and "--force" in err
    # --force never deletes a directory that is not a tunegate adapter.
    err = _one_line_exit_2(capsys, ["train", str(project.task), "--out", str(out), "--force"])
    assert "not a tunegate adapter" in err
    assert (out / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(("flags", "words"), [
    (["--rank", "0"], "--rank 0 is out of range"),
    (["--rank", "100000"], "--rank 100000 is out of range"),
    (["--lr", "0"], "--lr 0 is out of range"),
    (["--lr", "3"], "--lr 3 is out of range"),
    (["--epochs", "0"], "--epochs 0 is out of range"),
    (["--target-modules", ","], "at least one module name"),
    (["--early-stop"], None),
])
def test_out_of_range_options(project, edit, capsys, tmp_path: Path, flags: list[str],  # type: ignore[no-untyped-def]
                              words: str | None) -> None:
    if words is None:  # early stopping on a task without dev
        edit(project.task, "    dev: data/dev.jsonl\n", "")
        words = "no dev split"
    err = _one_line_exit_2(capsys, ["train", str(project.task), "--out", str(tmp_path / "o"),
                                    *flags])
    assert words in err


def test_missing_template_file(project, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    err = _one_line_exit_2(capsys, ["train", str(project.task), "--template",
                                    str(tmp_path / "nope.j2")])
    assert "template file not found" in err


def test_unknown_model_spec(project, capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("peft")
    err = _one_line_exit_2(capsys, ["train", str(project.task), "--out", str(tmp_path / "o"),
                                    "--model", "openai:gpt-4o-mini"])
    assert "cannot train on model" in err
    err = _one_line_exit_2(capsys, ["train", str(project.task), "--out", str(tmp_path / "o"),
                                    "--model", f"hf:{tmp_path}"])
    assert "no config.json" in err


def test_progress_says_when_the_adapter_is_written(project, capsys, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                   monkeypatch) -> None:
    pytest.importorskip("peft")
    from harness import finetune as train_mod

    record = {"metrics": {"train_loss": [0.5], "dev_loss": [], "wall_s": 12.4,
                          "tokens_trained": 100, "peak_memory_bytes": 1},
              "adapter": {"gguf_bytes": 10}, "base": {"sha256": "abc"},
              "data": {"digest": "d"}}

    def trained(tmp, task, base, options, progress):  # type: ignore[no-untyped-def]
        progress("epoch 1/1: train loss 0.5000 (1.0 s)")
        (tmp / "training.json").write_text("{}")
        return record

    # A real (tiny) base config: the target modules are checked against it before training.
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    (tiny / "config.json").write_text(json.dumps(TINY_GEMMA3))
    monkeypatch.setattr(train_mod, "resolve_base",
                        lambda model, progress=None: SimpleNamespace(hf_dir=tiny))
    monkeypatch.setattr(train_mod, "_train_into", trained)
    out_dir = tmp_path / "o"
    assert main(["train", str(project.task), "--out", str(out_dir), "--epochs", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # One line per epoch, one when the adapter is in place (12.4 s -> "12 s"), then the summary.
    assert lines == ["epoch 1/1: train loss 0.5000 (1.0 s)",
                     f"adapter written: {out_dir} (12 s)",
                     f"adapter: {out_dir} (train loss per epoch 0.5000; 12.4 s, 100 tokens, "
                     "GGUF LoRA 10 bytes)"]

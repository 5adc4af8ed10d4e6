"""Training options checked against the base model's modules (issue 18 case 9).

``--target-modules q_proj,v_prj`` used to train q_proj only (peft ignores a
name that matches nothing while another matches) and record both in
training.json; ``foo_proj`` ended in a peft traceback. The base here is a
real transformers Gemma3 text model, built tiny from its config (no
weights downloaded): the same module names as gemma-3-270m.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("peft")

from harness.cli import main  # noqa: E402
from harness.errors import UsageError  # noqa: E402
from harness.training.modules import (  # noqa: E402
    BaseModules,
    base_modules,
    check_against_base,
    check_target_modules,
)
from harness.training.options import OptionError, TrainOptions  # noqa: E402
from harness.variants.prompt import load_variant  # noqa: E402

TINY = {"model_type": "gemma3_text", "architectures": ["Gemma3ForCausalLM"],
        "vocab_size": 64, "hidden_size": 16, "intermediate_size": 32,
        "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
        "head_dim": 8, "max_position_embeddings": 128}
LINEAR = ["down_proj", "gate_proj", "k_proj", "lm_head", "o_proj", "q_proj", "up_proj",
          "v_proj"]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny-gemma3")
    (path / "config.json").write_text(json.dumps(TINY))
    return path


@pytest.fixture(scope="module")
def tiny(tiny_dir: Path) -> BaseModules:
    return base_modules(tiny_dir)


def test_the_base_model_s_linear_layers_and_positions(tiny: BaseModules) -> None:
    # Gemma3: attention q/k/v/o, MLP gate/up/down, and the output head are linear;
    # q_norm/k_norm and the layer norms are Gemma3RMSNorm.
    assert tiny.leaf_names() == LINEAR
    assert tiny.kinds["model.layers.0.self_attn.q_norm"] == "Gemma3RMSNorm"
    assert tiny.positions == 128


@pytest.mark.parametrize(("names", "line"), [
    (["q_proj", "v_prj"],
     "--target-modules: 'v_prj' is not a module of this model (did you mean v_proj?)"),
    # closest by difflib's ratio: 'o_proj' shares 6 of 8 + 6 characters (0.86)
    (["foo_proj"],
     "--target-modules: 'foo_proj' is not a module of this model (did you mean o_proj?)"),
    (["q_norm"], "--target-modules: 'q_norm' is a Gemma3RMSNorm, not a linear layer LoRA "
     "can adapt (its linear layers: " + ", ".join(LINEAR) + ")"),
    (["q_proj", "mlp"], "--target-modules: 'mlp' is a Gemma3MLP, not a linear layer LoRA "
     "can adapt (its linear layers: " + ", ".join(LINEAR) + ")"),
])
def test_every_name_must_be_a_linear_layer(tiny: BaseModules, names: list[str],
                                           line: str) -> None:
    with pytest.raises(OptionError) as err:
        check_target_modules(names, tiny)
    assert err.value.one_line() == line
    assert err.value.index == len(names) - 1  # the bad one's place in the list


def test_suffixes_and_full_names_are_modules(tiny: BaseModules) -> None:
    # peft targets a module whose name is the target or ends in ".target"
    check_target_modules(["mlp.down_proj", "model.layers.1.self_attn.v_proj", "q_proj"], tiny)


def test_max_length_beyond_the_model_s_positions(tiny: BaseModules) -> None:
    with pytest.raises(OptionError) as err:
        check_against_base(TrainOptions(max_length=256), tiny)
    assert err.value.one_line() == ("--max-length: 256 is longer than this model's 128 "
                                    "positions (use at most 128)")
    check_against_base(TrainOptions(max_length=128), tiny)


def test_in_a_variant_file_the_option_is_named_by_its_key() -> None:
    err = OptionError("target_modules", "'v_prj' is not a module of this model", index=1)
    assert err.in_variant() == ("train.target_modules: 'v_prj' is not a module of this model",
                                ("train", "target_modules", 1))


def test_cli_train_stops_before_training_with_one_line(
        project, tiny_dir: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["train", str(project.task), "--model", f"hf:{tiny_dir}", "--out",
                 str(tmp_path / "ad"), "--target-modules", "q_proj,v_prj"])
    err = capsys.readouterr().err
    assert code == 2
    assert err == ("--target-modules: 'v_prj' is not a module of this model "
                   "(did you mean v_proj?)\n")
    assert not (tmp_path / "ad").exists()


def test_a_variant_s_target_modules_are_located_in_its_file(
        project, tiny_dir: Path, tmp_path: Path,  # type: ignore[no-untyped-def]
        capsys: pytest.CaptureFixture[str]) -> None:
    project.write("lora.yaml", "name: lora\nkind: lora\ntemplate: echo.j2\ntrain:\n"
                  "  epochs: 1\n  target_modules:\n    - q_proj\n    - v_prj\n")
    project.write("run.yaml", f"name: t\ntasks: [task.yaml]\nvariants: [lora.yaml]\n"
                  f"models: ['hf:{tiny_dir}']\n")
    code = main(["run", str(project.config), "--store", str(tmp_path / "st"), "--reports",
                 str(tmp_path / "r")])
    *progress, last = capsys.readouterr().err.splitlines()
    assert code == 2
    # Without a terminal, the run's progress lines (timestamped) may come first.
    assert all(re.match(r"\d\d:\d\d:\d\d ", line) for line in progress), progress
    assert last == (f"{project.root / 'lora.yaml'}:8: train.target_modules: 'v_prj' is not a "
                    "module of this model (did you mean v_proj?)")


@pytest.mark.parametrize(("train", "line", "words"), [
    ("  seed: -1\n", 5, "train.seed"),  # the CLI refused it; the variant file did not
    ("  target_modules: []\n", 5, "at least 1 item"),
    ("  target_modules: [q_proj, 'bad name']\n", 5, "should match pattern"),
])
def test_a_variant_s_train_block_is_checked_at_load(project, train: str, line: int,  # type: ignore[no-untyped-def]
                                                    words: str) -> None:
    path = project.write("lora.yaml", f"name: lora\nkind: lora\ntemplate: echo.j2\ntrain:\n"
                         f"{train}")
    with pytest.raises(UsageError) as err:
        load_variant(path)
    assert err.value.line == line and words in err.value.one_line()


@pytest.mark.parametrize("config", [
    {"model_type": "t5"},  # a real architecture, but not a causal LM
    {"model_type": "no_such_model"},
])
def test_a_base_that_is_not_a_causal_lm_is_one_line(tmp_path: Path,
                                                    config: dict[str, str]) -> None:
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(UsageError) as err:
        base_modules(tmp_path)
    assert err.value.message.startswith("cannot train on this model: ")
    assert err.value.path == str(tmp_path / "config.json")
    assert "\n" not in err.value.one_line()

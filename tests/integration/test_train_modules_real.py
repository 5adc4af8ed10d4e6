"""The target-module check against the real embedded model (gemma-3-270m), issue 18 case 9.

Quick once the HF copy is unpacked (the training tests unpack it; about two
minutes on two cores the first time): the model is built from its
``config.json`` on the meta device, no weights read.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
pytest.importorskip("peft")

from harness.finetune import resolve_base  # noqa: E402
from harness.training.modules import base_modules, check_target_modules  # noqa: E402
from harness.training.options import OptionError  # noqa: E402

pytestmark = pytest.mark.integration


def test_the_embedded_model_s_modules_and_a_misspelt_one() -> None:
    modules = base_modules(resolve_base("embedded").hf_dir)
    # gemma-3-270m: 18 layers x (q, k, v, o, gate, up, down) linear layers, plus lm_head
    assert modules.leaf_names() == ["down_proj", "gate_proj", "k_proj", "lm_head", "o_proj",
                                    "q_proj", "up_proj", "v_proj"]
    assert len(modules.adaptable) == 18 * 7 + 1
    assert modules.positions == 32768  # the GGUF's gemma3.context_length
    check_target_modules(["q_proj", "k_proj", "v_proj", "o_proj"], modules)  # the default
    with pytest.raises(OptionError) as err:
        check_target_modules(["q_proj", "v_prj"], modules)
    assert err.value.one_line() == ("--target-modules: 'v_prj' is not a module of this model "
                                    "(did you mean v_proj?)")

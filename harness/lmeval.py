"""The lm-eval bridge: export a tunegate task as lm-eval YAML, or run it through lm-eval.

:func:`export_lmeval` renders every example's prompt with a variant (its
template and seeded shots) into a JSONL file and writes lm-eval task YAML
that points at it by absolute path, so ``lm_eval --include_path DIR`` runs
exactly the prompts tunegate sends:

- classification -> ``multiple_choice`` (``acc``: the label with the highest
  summed log-likelihood, tunegate's label scoring) and ``generate_until``
  (``exact_match``, case-insensitive, of the label a ``(?i)`` regex filter
  takes from the answer against the gold label, both without surrounding
  punctuation: :func:`harness.textnorm.match_label`'s rule, which a task's
  labels never collide under);
- generation families -> ``generate_until`` with the task's stop strings and
  token budget (``exact_match`` against the reference as a rough proxy;
  :func:`harness.lmeval_run.run_lmeval` scores the generated text with
  tunegate's scorers).

Running an export through lm-eval and importing its samples is
:mod:`harness.lmeval_run`. lm-eval is the optional extra
``tunegate[lmeval]``, imported only by :func:`import_lm_eval` and only when
called, with the Hugging Face offline variables set first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import UsageError
from harness.labels import label_continuations
from harness.plan import SystemPrompt
from harness.tasks import Task
from harness.textnorm import LABEL_PUNCT, label_core
from harness.variants.prompt import Variant, VariantSpec
from harness.variants.shots import ShotSelector

log = logging.getLogger(__name__)
DEFAULT_TEMPLATE = """{{ task.description }}
{% if labels %}
Labels:
{% for label in labels %}- {{ label.name }}{% if label.description %}: {{ label.description }}\
{% endif %}
{% endfor %}{% endif %}
Input: {{ input }}
Answer:"""
PUNCT = f"[\\s{re.escape(LABEL_PUNCT)}]*"


@dataclass(frozen=True)
class Exported:
    """What :func:`export_lmeval` wrote: lm-eval task names, YAML files and data."""

    tasks: tuple[str, ...]
    yaml_files: tuple[Path, ...]
    data_file: Path
    ids: tuple[str, ...]


def default_variant(task: Task) -> Variant:
    """A zero-shot variant (description, labels, input) for export without one."""
    spec = VariantSpec(name="lmeval_default", template="(built in)")
    digest = hashlib.sha256(DEFAULT_TEMPLATE.encode()).hexdigest()[:16]
    return Variant(spec=spec, path=task.path, template_text=DEFAULT_TEMPLATE, digest=digest)


def lm_task_name(task: Task, variant: Variant, kind: str) -> str:
    """``tunegate_<task>_<variant>`` (``_gen`` for the generation form)."""
    suffix = "_gen" if kind == "generate_until" else ""
    return f"tunegate_{task.name}_{variant.name}{suffix}"


def label_regex(labels: list[str]) -> str:
    r"""The ``(?i)`` regex that extracts a strictly matched label from generated text.

    It captures the label's core (:func:`harness.textnorm.label_core`), so ``U.S.`` matches
    the answers ``U.S.`` and ``u.s`` as :func:`harness.textnorm.match_label` does.

    >>> import re
    >>> re.findall(label_regex(["ORCA", "TIDE"]), " tide.")
    ['tide']
    >>> re.findall(label_regex(["ORCA", "TIDE"]), "I think TIDE")
    []
    >>> re.findall(label_regex(["U.S.", "E.U."]), "U.S.")
    ['U.S']
    """
    cores = {label_core(lab) for lab in labels}
    alts = "|".join(re.escape(c) for c in sorted(cores, key=len, reverse=True))
    return f"(?i)^{PUNCT}({alts}){PUNCT}$"


UNEXPORTABLE = ("constrain", "reasoning", "samples")
"""Levers lm-eval's task YAML cannot express (constrained decoding, the final
answer line, majority votes): export refuses a variant that uses them."""


def _check_exportable(variant: Variant) -> None:
    """Refuse a variant whose levers lm-eval cannot reproduce (never export another prompt).

    Raises:
        UsageError: At the line of the first such lever.
    """
    spec = variant.spec
    used = {"constrain": spec.constrain is not None, "reasoning": spec.reasoning,
            "samples": spec.samples > 1}
    for key in UNEXPORTABLE:
        if used[key]:
            raise UsageError(f"variant {variant.name!r} uses {key}, which an lm-eval task "
                             "cannot express", variant.path, variant.line_of(key),
                             hint="export a variant without constrain, reasoning or samples")


def _rows(task: Task, variant: Variant, split: str, seed: int) -> list[dict[str, Any]]:
    _check_exportable(variant)
    source = ShotSelector().source(task, variant, seed)
    # lm-eval sends plain prompts: a system prompt goes before the prompt, as
    # on tunegate's completion backends.
    system = SystemPrompt(variant.render_system(task))
    labels = list(getattr(task.spec, "labels", {}) or {})
    rows = []
    for ex in task.split(split):
        prompt, _ = system.frame(variant.render(task, ex.input, source.for_input(ex.input)))
        row: dict[str, Any] = {"id": ex.id, "prompt": prompt, "target": ex.target}
        if labels:
            row["choices"] = list(label_continuations(prompt, labels))
            row["gold"] = labels.index(ex.target)
            row["target_core"] = label_core(ex.target)
        rows.append(row)
    return rows


def _base(name: str, data: Path, kind: str) -> dict[str, Any]:
    return {"task": name, "dataset_path": "json",
            "dataset_kwargs": {"data_files": {"test": str(data.resolve())}},
            "test_split": "test", "output_type": kind, "doc_to_text": "prompt",
            "metadata": {"version": 1.0, "exported_by": "tunegate"}}


def _mc_yaml(name: str, data: Path) -> dict[str, Any]:
    # The label's leading space is in each choice (as tunegate scores it), so
    # the delimiter is empty and lm-eval scores exactly the same continuations.
    return _base(name, data, "multiple_choice") | {
        "doc_to_choice": "choices", "doc_to_target": "gold", "target_delimiter": "",
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}]}


def _gen_yaml(name: str, data: Path, task: Task, labels: list[str],
              max_gen_toks: int | None) -> dict[str, Any]:
    gen = task.spec.generation
    out = _base(name, data, "generate_until") | {
        "doc_to_target": "target_core" if labels else "target", "target_delimiter": "",
        "generation_kwargs": {"until": list(gen.stop),
                              "max_gen_toks": max_gen_toks or gen.max_tokens,
                              "do_sample": gen.temperature > 0,
                              "temperature": gen.temperature},
        "metric_list": [{"metric": "exact_match", "aggregation": "mean",
                         "higher_is_better": True, "ignore_case": bool(labels)}]}
    if labels:
        out["filter_list"] = [{"name": "strict-match", "filter": [
            {"function": "regex", "regex_pattern": label_regex(labels),
             "group_select": 0, "fallback": "[invalid]"},
            {"function": "take_first"}]}]
    return out


def export_lmeval(task: Task, out_dir: Path, variant: Variant | None = None,
                  split: str = "test", seed: int = 0,
                  max_gen_toks: int | None = None) -> Exported:
    """Write lm-eval task YAML and rendered data for ``task`` under ``out_dir``.

    ``max_gen_toks`` overrides the task's generation budget (tunegate budgets a
    generated label from its tokenized labels, which needs the model's tokenizer).

    Raises:
        UsageError: The split is empty or the directory cannot be written.
    """
    variant = variant or default_variant(task)
    if variant.spec.kind == "rag":
        raise UsageError(f"variant {variant.name!r} is a rag variant; lm-eval cannot "
                         "retrieve, and its prompts depend on retrieval", variant.path,
                         hint="export a prompt variant, or run the rag variant with tunegate")
    if variant.spec.kind != "prompt":
        raise UsageError(f"variant {variant.name!r} is a lora variant; lm-eval gets the "
                         "adapter through its model (e.g. hf with peft=DIR)", variant.path,
                         hint="export with the adapter's prompt variant")
    if variant.spec.calibrate:
        log.warning("lm-eval has no contextual calibration: %s is exported uncalibrated",
                    variant.name)
    rows = _rows(task, variant, split, seed)
    if not rows:
        raise UsageError(f"task {task.name!r} has no {split!r} examples", task.path)
    labels = list(getattr(task.spec, "labels", {}) or {})
    out_dir = out_dir.resolve()
    data = out_dir / "data" / f"{task.name}_{variant.name}_{split}.jsonl"
    docs: list[tuple[str, dict[str, Any]]] = []
    if labels:
        name = lm_task_name(task, variant, "multiple_choice")
        docs.append((name, _mc_yaml(name, data)))
    name = lm_task_name(task, variant, "generate_until")
    docs.append((name, _gen_yaml(name, data, task, labels, max_gen_toks)))
    try:
        data.parent.mkdir(parents=True, exist_ok=True)
        data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                        encoding="utf-8")
        files = []
        for name, doc in docs:
            path = out_dir / f"{name}.yaml"
            path.write_text("# Written by `tunegate export-lmeval`; data paths are absolute.\n"
                            + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True),
                            encoding="utf-8")
            files.append(path)
    except OSError as exc:
        raise UsageError(f"cannot write the lm-eval export: {exc.strerror}", out_dir) from None
    return Exported(tuple(n for n, _ in docs), tuple(files), data,
                    tuple(r["id"] for r in rows))


def import_lm_eval() -> Any:
    """Import ``lm_eval`` offline (the HF variables set first).

    Raises:
        UsageError: lm-eval is not installed.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    try:
        import lm_eval
        import lm_eval.tasks  # noqa: F401
    except ImportError:
        raise UsageError("lm-eval is not installed", hint="pip install 'tunegate[lmeval]'"
                         ) from None
    return lm_eval

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
  :func:`run_lmeval` scores the generated text with tunegate's scorers).

:func:`run_lmeval` runs an exported task through lm-eval's evaluator with
``log_samples`` and imports each per-sample log into the store as a run,
joined to the example on lm-eval's ``doc_id`` (the row index of the data
file, checked against the example id it carries). lm-eval is the optional
extra ``tunegate[lmeval]``, imported only here and only when called, with
the Hugging Face offline variables set first.
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

from harness.answers import parse_output
from harness.errors import UsageError
from harness.labels import label_continuations
from harness.plan import SystemPrompt
from harness.tasks import Task
from harness.textnorm import LABEL_PUNCT, label_core, match_label
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


@dataclass(frozen=True)
class LmevalOptions:
    """How to run a task through lm-eval.

    Attributes:
        model: lm-eval model type (``hf``, ``local-completions``, ``vllm``...).
        model_args: lm-eval's ``key=value,...`` model arguments.
        kind: ``multiple_choice`` (classification only) or ``generate_until``.
        out_dir: Where the export is written.
        limit: Only the first ``limit`` test examples.
        batch_size: lm-eval's batch size.
        seed: Seed for the variant's shots.
    """

    model: str
    model_args: str
    kind: str
    out_dir: Path
    limit: int | None = None
    batch_size: int = 1
    seed: int = 0


@dataclass(frozen=True)
class LmevalRun:
    """A finished lm-eval run imported into the store."""

    run_id: str
    lm_task: str
    metric: str
    value: float
    records: int


def _evaluate(lm_task: str, opts: LmevalOptions) -> dict[str, Any]:
    lm_eval = import_lm_eval()
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(opts.out_dir.resolve()))
    results: dict[str, Any] | None = lm_eval.simple_evaluate(
        model=opts.model, model_args=opts.model_args, tasks=[lm_task], task_manager=manager,
        log_samples=True, limit=opts.limit, batch_size=opts.batch_size,
        random_seed=opts.seed, numpy_random_seed=opts.seed, torch_random_seed=opts.seed)
    if results is None:
        raise UsageError("lm-eval returned no results (not rank 0?)")
    return results


def _sample_output(sample: dict[str, Any], kind: str, labels: list[str], task: Task) -> Any:
    """An lm-eval sample as tunegate's output: a label, or the text read by the task's parser."""
    from harness.scoring.base import Output

    if kind == "multiple_choice":
        lls = [float(r[0]) for r in sample["filtered_resps"]]
        best = labels[max(range(len(lls)), key=lls.__getitem__)]
        detail = {"mode": "lmeval-multiple_choice",
                  "logprobs": {lab: round(v, 4) for lab, v in zip(labels, lls, strict=True)},
                  "doc_id": sample["doc_id"]}
        return Output(best, best, detail)
    text = str(sample["resps"][0][0])
    detail = {"mode": "lmeval-generate_until", "doc_id": sample["doc_id"],
              "filtered": sample["filtered_resps"][0]}
    if labels:
        return Output(text, match_label(text, labels), detail)
    parsed = parse_output(task.spec, task.resources, text)  # as tunegate's own runs read it
    return Output(text, parsed.prediction, {**parsed.detail, **detail})


def _spec(task: Task, variant: Variant, opts: LmevalOptions, lm_task: str) -> dict[str, Any]:
    """The imported run's config spec: a run config's (so the analysis reads it), plus lm-eval's."""
    from harness.config import RunSpec

    spec = RunSpec(name=f"lmeval-{task.name}", seed=opts.seed, tasks=[str(task.path)],
                   variants=[str(variant.path)], models=[f"lmeval:{opts.model}"],
                   splits=["test"]).model_dump(mode="json")
    return {**spec, "lmeval": {"model": opts.model, "model_args": opts.model_args,
                               "kind": opts.kind, "limit": opts.limit, "task": lm_task}}


def run_lmeval(task: Task, store: Any, opts: LmevalOptions,
               variant: Variant | None = None) -> LmevalRun:
    """Run ``task`` through lm-eval and import its per-sample logs as a store run.

    Raises:
        UsageError: lm-eval is missing, the kind does not fit the task, or a
            sample cannot be joined to its example.
    """
    from harness.runner import new_run_id
    from harness.scoring.base import score_all
    from harness.store import Record

    labels = list(getattr(task.spec, "labels", {}) or {})
    if opts.kind not in ("multiple_choice", "generate_until"):
        raise UsageError(f"unknown lm-eval kind {opts.kind!r}",
                         hint="multiple_choice or generate_until")
    if opts.kind == "multiple_choice" and not labels:
        raise UsageError(f"task {task.name!r} has no labels: use generate_until", task.path)
    variant = variant or default_variant(task)
    exported = export_lmeval(task, opts.out_dir, variant, "test", opts.seed)
    lm_task = lm_task_name(task, variant, opts.kind)
    results = _evaluate(lm_task, opts)
    metric = "acc,none" if opts.kind == "multiple_choice" else (
        "exact_match,strict-match" if labels else "exact_match,none")
    value = float(results["results"][lm_task][metric])
    examples = {ex.id: ex for ex in task.split("test")}
    config = {"spec": _spec(task, variant, opts, lm_task),
        "path": str(exported.yaml_files[0]),
        "tasks": [{"name": task.name, "path": str(task.path), "digest": task.digest,
                   "family": task.family, "labels": labels}],
        "variants": [{"name": variant.name, "path": str(variant.path),
                      "digest": variant.digest, "kind": "prompt"}],
        "models": [f"lmeval:{opts.model}"]}
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    run_id = new_run_id(digest)
    store.create_run(run_id, config["path"], digest, config)
    count = 0
    for sample in results["samples"][lm_task]:
        if sample.get("filter") not in (None, "none", "strict-match"):
            continue
        doc_id = int(sample["doc_id"])
        ex_id = exported.ids[doc_id]
        if sample["doc"].get("id") != ex_id:
            raise UsageError(f"lm-eval sample doc_id {doc_id} is {sample['doc'].get('id')!r}, "
                             f"expected {ex_id!r}", exported.data_file)
        example, output = examples[ex_id], _sample_output(sample, opts.kind, labels, task)
        scores = score_all(task, example, output)
        store.put_record(Record(run_id, task.name, task.digest, variant.name,
                                f"lmeval:{opts.model}", "test", ex_id, 0, example.target,
                                {"text": output.text, "prediction": output.prediction,
                                 "detail": dict(output.detail)}, scores, 0, 0, 0.0, False,
                                None))
        count += 1
    store.finish_run(run_id, "done", count)
    return LmevalRun(run_id, lm_task, metric, value, count)


def export_command(task_path: str, out: str, variant_path: str | None = None,
                   split: str = "test", seed: int = 0, run: LmevalOptions | None = None,
                   store_root: str = ".tunegate", reports: str | Path = "reports") -> list[str]:
    """``tunegate export-lmeval``: export, and optionally run and import; lines to print.

    With ``run``, lm-eval is the pipeline's execute stage: its samples are
    imported as a run, which is then analysed and rendered like any other
    (:mod:`harness.pipeline`).

    Raises:
        UsageError: Bad task or variant file, or an lm-eval run that cannot start.
    """
    from harness.tasks import load_task
    from harness.variants.prompt import load_variant

    task = load_task(task_path)
    variant = load_variant(variant_path) if variant_path else None
    exported = export_lmeval(task, Path(out), variant, split, seed)
    lines = [f"wrote {p}" for p in exported.yaml_files] + [f"wrote {exported.data_file}"]
    lines.append(f"run: lm_eval --include_path {Path(out).resolve()} --tasks "
                 f"{exported.tasks[0]} --model hf --model_args pretrained=DIR --log_samples "
                 "--output_path OUT")
    if run is not None:
        from harness.pipeline import render
        from harness.store import Store

        store = Store(store_root)
        try:
            done = run_lmeval(task, store, run, variant)
            report = render(store, done.run_id, reports)
        finally:
            store.close()
        lines.append(f"lm-eval {done.lm_task}: {done.metric} = {done.value:.4f} on "
                     f"{done.records} examples; imported as run {done.run_id}")
        lines.append(f"report: {report / 'report.md'}")
    return lines

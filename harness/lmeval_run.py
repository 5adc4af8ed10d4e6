"""Running an exported task through lm-eval, and importing its samples as a run.

:func:`run_lmeval` runs an export (:func:`harness.lmeval.export_lmeval`)
through lm-eval's evaluator with ``log_samples`` and imports each per-sample
log into the store as a run, joined to the example on lm-eval's ``doc_id``
(the row index of the data file, checked against the example id it carries).
In ``tunegate export-lmeval --run`` lm-eval is the pipeline's execute stage:
the imported run is then analysed and rendered like any other
(:mod:`harness.pipeline`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.answers import parse_output
from harness.errors import UsageError
from harness.lmeval import default_variant, export_lmeval, import_lm_eval, lm_task_name
from harness.tasks import Task
from harness.textnorm import match_label
from harness.variants.prompt import Variant


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


def _sample_prompt(sample: dict[str, Any]) -> str | None:
    """The context lm-eval sent (``arguments[0][0]``, or ``gen_args_0.arg_0``), if logged."""
    args = sample.get("arguments")
    first = args[0] if isinstance(args, list) and args else (
        next(iter(args.values()), None) if isinstance(args, dict) else None)
    text = (first[0] if isinstance(first, list | tuple) and first
            else first.get("arg_0") if isinstance(first, dict) else None)
    return text if isinstance(text, str) else None


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
    from harness.scoring.base import score_all, scorer_identities
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
                                None, input=example.input, fields=dict(example.fields),
                                prompt=_sample_prompt(sample), system="",
                                scorers=scorer_identities(task)))
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

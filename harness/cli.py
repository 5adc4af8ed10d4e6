"""The ``tunegate`` command: parse, call one function, map the result to an exit code.

Exit codes: 0 ok, 1 gate failed or regression, 2 usage or input error,
3 inconclusive, 70 internal error (a bug; the traceback goes to a log file,
see :mod:`harness.crashlog`), 130 interrupted (finished work is kept).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from harness.crashlog import EXIT_INTERNAL, crash_line, write_crash_log
from harness.errors import UsageError
from harness.userfiles import read_text

if TYPE_CHECKING:
    from harness.config import RunConfig
    from harness.store import Store

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INCONCLUSIVE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _out(text: str) -> None:
    print(text, flush=True)


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def cmd_validate(args: argparse.Namespace) -> int:
    """Check task, variant and run files; one line per file."""
    from harness.config import load_config
    from harness.scoring.metrics import check_metric
    from harness.tasks import load_task
    from harness.variants.prompt import load_variant
    from harness.yamlio import load_yaml

    bad = 0
    for path in args.paths:
        try:
            data = load_yaml(path).data
            if "family" in data or "data" in data or "labels" in data:
                task = load_task(path)
                check_metric(task)
                sizes = ", ".join(f"{k} {len(v)}" for k, v in task.examples.items())
                ids = "; no id column: ids generated as file:line" if task.generated_ids else ""
                _out(f"{path}: ok: task {task.name} ({task.family}; {sizes}{ids})")
            elif "template" in data:
                variant = load_variant(path)
                _out(f"{path}: ok: variant {variant.name} ({variant.spec.kind})")
            else:
                cfg = load_config(path)
                _out(f"{path}: ok: run {cfg.spec.name} ({len(cfg.tasks)} tasks x "
                     f"{len(cfg.variants)} variants x {len(cfg.models)} models)")
        except UsageError as exc:
            _err(exc.one_line())
            bad += 1
    return EXIT_USAGE if bad else EXIT_OK


def _progress_bar() -> tuple[Callable[[int, int, str], None], Callable[[], None]]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TimeRemainingColumn,
    )

    bar = Progress("[progress.description]{task.description}", BarColumn(),
                   MofNCompleteColumn(), TimeRemainingColumn(), transient=True,
                   disable=not sys.stderr.isatty())
    ids: dict[str, TaskID] = {}

    def update(done: int, total: int, label: str) -> None:
        if "main" not in ids:
            bar.start()
            ids["main"] = bar.add_task(label, total=total, completed=done - 1)
        bar.update(ids["main"], completed=done, total=total, description=label)

    return update, bar.stop


def cmd_run(args: argparse.Namespace) -> int:
    """Run (or resume) a config, then write its report."""
    from harness.backends.base import BackendOptions
    from harness.config import load_config
    from harness.report import write_report
    from harness.runner import Runner
    from harness.store import Store

    cfg = load_config(args.config)
    store = Store(args.store)
    update, stop = _progress_bar()
    runner = Runner(cfg, store, BackendOptions(seed=cfg.spec.seed), progress=update,
                    fresh=args.fresh)
    try:
        result = runner.run()
    except KeyboardInterrupt:
        stop()
        _err("interrupted: finished examples are kept in the store; run the same command "
             "again to resume")
        return EXIT_INTERRUPTED
    finally:
        stop()
    verb = "resumed" if result.resumed else "ran"
    _out(f"{verb} run {result.run_id}: {result.records} examples scored, "
         f"{result.skipped} already stored, {result.model_calls} model calls, "
         f"{result.cache_hits} cache hits, {result.retries} retries, {result.errors} errors")
    if result.model_calls == 0 and result.records:
        _out("all responses came from the cache: zero model calls")
    out = write_report(store, result.run_id, args.reports)
    _out(f"report: {out / 'report.md'}")
    if cfg.spec.regression is not None and _report_regressions(store, result.run_id, cfg):
        return EXIT_FAIL
    if result.errors:
        _err(f"{result.errors} examples failed after retries; run again to retry them")
        return EXIT_FAIL
    return EXIT_OK


def _report_regressions(store: Store, run_id: str, cfg: RunConfig) -> bool:
    """Print one line per significant regression; True when there is any."""
    from harness.history import regressions

    assert cfg.spec.regression is not None
    regs, notes = regressions(store, run_id, cfg.spec.regression.against,
                              cfg.spec.regression.tolerance, cfg.spec.analysis.confidence,
                              cfg.spec.seed)
    for note in notes:
        _out(f"regression check: {note}")
    for reg in regs:
        _err(reg.line())
    if not regs:
        _out("regression check: no significant regression")
    return bool(regs)


def cmd_history(args: argparse.Namespace) -> int:
    """Print the trend table of test scores across runs."""
    from harness.history import check_since, format_history, history
    from harness.store import Store

    since = check_since(args.since)
    if not (Path(args.store) / "store.sqlite").is_file():
        raise UsageError("no store here", args.store, hint="run `tunegate run CONFIG` first "
                         "or pass --store")
    for line in format_history(history(Store(args.store), args.task, since)):
        _out(line)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """Write per-example records (one run or all) to Parquet or CSV for a warehouse."""
    from harness.export import export_records
    from harness.store import Store

    if not (Path(args.store) / "store.sqlite").is_file():
        raise UsageError("no store here", args.store, hint="pass --store")
    path, n = export_records(Store(args.store), args.run, Path(args.out))
    _out(f"wrote {n} records to {path}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Rebuild a run's report from the store (no model calls)."""
    from harness.report import write_report
    from harness.store import Store

    if not (Path(args.store) / "store.sqlite").is_file():
        raise UsageError("no store here", args.store, hint="run `tunegate run CONFIG` first "
                         "or pass --store")
    out = write_report(Store(args.store), args.run, args.reports)
    _out(f"report: {out / 'report.md'}")
    return EXIT_OK


def cmd_estimate(args: argparse.Namespace) -> int:
    """Print requests, tokens and dollars a run would cost, before anything is sent."""
    from harness.config import load_config
    from harness.estimate import estimate
    from harness.store import Store

    cfg = load_config(args.config)
    rows = estimate(cfg, Store(args.store))
    econ = cfg.spec.economics
    _out(f"{'task':<20} {'variant':<14} {'model':<22} {'requests':>8} {'cached':>7} "
         f"{'prompt tok':>11} {'max out tok':>11}" + ("  cost USD" if econ else ""))
    total = 0.0
    for r in rows:
        uncached = 1 - r.cached / r.requests if r.requests else 0.0
        cost = ((r.prompt_tokens * econ.price_in_per_mtok + r.max_completion_tokens
                 * econ.price_out_per_mtok) / 1e6 * uncached) if econ else 0.0
        total += cost
        _out(f"{r.task:<20} {r.variant:<14} {r.model:<22} {r.requests:>8} {r.cached:>7} "
             f"{r.prompt_tokens:>11} {r.max_completion_tokens:>11}"
             + (f"  {cost:>8.4f}" if econ else ""))
    calls = sum(r.requests - r.cached for r in rows)
    _out(f"total: {calls} model calls to make, {sum(r.cached for r in rows)} cached"
         + (f", about ${total:.4f} at the config's prices (uncached share)" if econ else
            " (add an economics section to price them)"))
    too_long = [t for r in rows for t in r.too_long]
    if too_long:
        _out(f"{len(too_long)} examples do not fit the model's context; the run records each "
             "as failed (raise it with n_ctx, e.g. embedded?n_ctx=8192):")
        for t in too_long:
            _out(f"  {t.describe()}")
    return EXIT_OK


def cmd_gate(args: argparse.Namespace) -> int:
    """Run or reuse a config, decide, write junit.xml and summary.md; exit 0/1/3."""
    from harness.gating import gate

    update, stop = _progress_bar()
    try:
        res = gate(args.config, min_gain=args.min_gain,
                   max_payback_months=args.max_payback_months, require=args.require,
                   store=args.store, reports=args.reports, progress=update)
    except KeyboardInterrupt:
        stop()
        _err("interrupted: finished examples are kept; run the same command to resume")
        return EXIT_INTERRUPTED
    finally:
        stop()
    _out(f"{res.label}: {res.reason}")
    _out(f"junit: {res.junit}")
    _out(f"summary: {res.summary}")
    return res.exit_code


def cmd_compare_base(args: argparse.Namespace) -> int:
    """Old base + adapter vs new base + prompting (+ retrained adapter), paired."""
    from harness.compare_base import compare_base

    update, stop = _progress_bar()
    try:
        res = compare_base(args.config, args.old, args.new, retrain=args.retrain,
                           store=args.store, reports=args.reports, progress=update)
    except KeyboardInterrupt:
        stop()
        _err("interrupted: finished examples are kept; run the same command to resume")
        return EXIT_INTERRUPTED
    finally:
        stop()
    if res.tokenizer_note:
        _out(f"note: {res.tokenizer_note}")
    for d in res.decisions:
        _out(f"{d.task}: {d.label}: {d.reason}")
    _out(f"report: {res.report_dir / 'index.html'}")
    _out(f"summary: {res.report_dir / 'compare_base.md'}")
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    """Train a LoRA adapter on a task's train split and export it (peft, GGUF, Modelfile)."""
    from harness.tasks import load_task
    from harness.training import TrainOptions, train_adapter

    modules = tuple(m.strip() for m in args.target_modules.split(",") if m.strip())
    options = TrainOptions(rank=args.rank, alpha=args.alpha, epochs=args.epochs, lr=args.lr,
                           seed=args.seed, batch_size=args.batch_size, target_modules=modules,
                           early_stop_on_dev=args.early_stop, device=args.device,
                           max_length=args.max_length, max_examples=args.max_examples,
                           template=read_text(args.template, "template file")
                           if args.template else None)
    task = load_task(args.task)
    out = Path(args.out) if args.out else Path("adapters") / task.name
    try:
        res = train_adapter(task, model=args.model, out_dir=out, options=options,
                            force=args.force, progress=_out)
    except KeyboardInterrupt:
        _err("interrupted: no adapter was written (a partial one is never left in place)")
        return EXIT_INTERRUPTED
    losses = ", ".join(f"{x:.4f}" for x in res.train_loss)
    _out(f"adapter: {res.out_dir} (train loss per epoch {losses}; {res.wall_s:.1f} s, "
         f"{res.tokens_trained} tokens, GGUF LoRA {res.adapter_bytes} bytes)")
    return EXIT_OK


def cmd_export_lmeval(args: argparse.Namespace) -> int:
    """Write lm-eval task YAML + data; with --run, run it in lm-eval and import the samples."""
    from harness.lmeval import LmevalOptions, export_command

    run = None
    if args.run:
        run = LmevalOptions(args.run, args.model_args, args.kind, Path(args.out),
                            args.limit, args.batch_size, args.seed)
    for line in export_command(args.task, args.out, args.variant, args.split, args.seed, run,
                               args.store):
        _out(line)
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tunegate", description=__doc__.splitlines()[0])
    p.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = p.add_subparsers(dest="command", required=True)
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--store", default=os.environ.get("TUNEGATE_STORE", ".tunegate"),
                       help="store directory (default .tunegate, or $TUNEGATE_STORE)")
    where.add_argument("--reports", default="reports", help="reports directory")

    v = sub.add_parser("validate", help="check task, variant and run files: YAML syntax, "
                       "unknown or missing keys, types, data files, columns, labels, "
                       "duplicate ids, empty splits, templates")
    v.add_argument("paths", nargs="+")
    v.set_defaults(fn=cmd_validate)
    r = sub.add_parser("run", parents=[where], help="run or resume a config, then report")
    r.add_argument("config")
    r.add_argument("--fresh", action="store_true", help="ignore cached responses (still "
                   "caching new ones): for a nightly job against a model that may change")
    r.set_defaults(fn=cmd_run)
    h = sub.add_parser("history", parents=[where], help="trend table of test scores across runs")
    h.add_argument("--task", default=None)
    h.add_argument("--since", default=None, help="YYYY-MM-DD")
    h.set_defaults(fn=cmd_history)
    x = sub.add_parser("export", parents=[where], help="per-example records to Parquet or CSV")
    x.add_argument("run", nargs="?", default="all", help="run id, 'latest' or 'all'")
    x.add_argument("--out", required=True, help="file ending in .parquet or .csv")
    x.set_defaults(fn=cmd_export)
    rep = sub.add_parser("report", parents=[where], help="rebuild a report from the store")
    rep.add_argument("run", nargs="?", default="latest", help="run id or 'latest'")
    rep.set_defaults(fn=cmd_report)
    e = sub.add_parser("estimate", parents=[where], help="dry run: requests, tokens and "
                       "dollars before anything is sent")
    e.add_argument("config")
    e.set_defaults(fn=cmd_estimate)
    g = sub.add_parser("gate", parents=[where], help="decide whether fine-tuning passes: "
                       "exit 0 pass, 1 fail, 3 inconclusive, 2 usage error")
    g.add_argument("config")
    g.add_argument("--min-gain", type=float, default=None,
                   help="smallest gain worth having (metric units, e.g. 0.03)")
    g.add_argument("--max-payback-months", type=float, default=None,
                   help="longest acceptable payback (needs an economics section)")
    g.add_argument("--require", choices=["justified", "no-regression"], default="justified",
                   help="justified: the verdict must be FINE-TUNE JUSTIFIED; no-regression: "
                   "the candidate must not be significantly worse than the baseline")
    g.set_defaults(fn=cmd_gate)
    cb = sub.add_parser("compare-base", parents=[where], help="new base-model release: old "
                        "base + adapter vs new base + best prompt (and a retrained adapter)")
    cb.add_argument("config")
    cb.add_argument("--old", required=True, help="the base the adapter was trained on, "
                    "e.g. embedded")
    cb.add_argument("--new", required=True, help="the new base, e.g. embedded:q8_0 or "
                    "openai:NEW-MODEL")
    cb.add_argument("--retrain", action="store_true",
                    help="also train the lora variants afresh on the new base")
    cb.set_defaults(fn=cmd_compare_base)
    t = sub.add_parser("train", help="train a LoRA adapter on a task's train split: peft "
                       "directory, GGUF LoRA, Ollama Modelfile and training.json")
    t.add_argument("task", help="task YAML file")
    t.add_argument("--model", default="embedded", help="embedded (default), embedded:PATH.gguf, "
                   "hf:PATH or hf:embedded")
    t.add_argument("--out", default=None, help="output directory (default adapters/TASK)")
    t.add_argument("--force", action="store_true", help="replace an existing adapter there")
    t.add_argument("--rank", type=int, default=8)
    t.add_argument("--alpha", type=int, default=16)
    t.add_argument("--epochs", type=int, default=3)
    t.add_argument("--lr", type=float, default=2e-4)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--batch-size", type=int, default=8)
    t.add_argument("--max-length", type=int, default=256)
    t.add_argument("--max-examples", type=int, default=None,
                   help="train on a seeded subset of at most this many train examples")
    t.add_argument("--target-modules", default="q_proj,k_proj,v_proj,o_proj",
                   help="comma-separated module names that get LoRA matrices")
    t.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    t.add_argument("--early-stop", action="store_true",
                   help="stop when the dev loss stops improving (keeps the best epoch)")
    t.add_argument("--template", default=None, help="Jinja2 prompt template file "
                   "(default: 'Message: {{ input }}\\nAnswer:')")
    t.set_defaults(fn=cmd_train)
    lm = sub.add_parser("export-lmeval", parents=[where], help="write lm-eval task YAML + "
                        "data (absolute paths); --run runs it in lm-eval and imports samples")
    lm.add_argument("task", help="task YAML file")
    lm.add_argument("--out", required=True, help="directory for the YAML and data")
    lm.add_argument("--variant", help="prompt variant YAML (default: zero-shot)")
    lm.add_argument("--split", default="test", choices=["dev", "test"])
    lm.add_argument("--seed", type=int, default=0, help="seed for the variant's shots")
    lm.add_argument("--run", metavar="LM_EVAL_MODEL", help="run it: hf, local-completions, ...")
    lm.add_argument("--model-args", default="", help="lm-eval model_args (key=value,...)")
    lm.add_argument("--kind", default="multiple_choice",
                    choices=["multiple_choice", "generate_until"])
    lm.add_argument("--limit", type=int, help="first N test examples only")
    lm.add_argument("--batch-size", type=int, default=1)
    lm.set_defaults(fn=cmd_export_lmeval)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tunegate`` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.verbose:  # ours only: HTTP clients' debug logs print raw headers (keys, cookies)
        logging.getLogger("harness").setLevel(logging.DEBUG)
    try:
        code: int = args.fn(args)
    except UsageError as exc:
        _err(exc.one_line())
        return EXIT_USAGE
    except Exception as exc:  # a bug: never exit 1, which a CI job reads as a failed gate
        store = getattr(args, "store", None) or os.environ.get("TUNEGATE_STORE", ".tunegate")
        _err(crash_line(exc, write_crash_log(exc, store, argv)))
        return EXIT_INTERNAL
    return code


if __name__ == "__main__":
    sys.exit(main())

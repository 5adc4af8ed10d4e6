"""Commands that read files or the store: validate, report, history, export, export-lmeval."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands import EXIT_OK, EXIT_USAGE
from harness.commands.screen import err, out
from harness.errors import UsageError

__all__ = ["cmd_export", "cmd_export_lmeval", "cmd_history", "cmd_report", "cmd_validate",
           "need_store"]


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
                out(f"{path}: ok: task {task.name} ({task.family}; {sizes}{ids})")
            elif "template" in data:
                variant = load_variant(path)
                out(f"{path}: ok: variant {variant.name} ({variant.spec.kind})")
            else:
                cfg = load_config(path)
                out(f"{path}: ok: run {cfg.spec.name} ({len(cfg.tasks)} tasks x "
                    f"{len(cfg.variants)} variants x {len(cfg.models)} models)")
        except UsageError as exc:
            err(exc.one_line())
            bad += 1
    return EXIT_USAGE if bad else EXIT_OK


def need_store(store: str, hint: str) -> None:
    """Refuse a command that reads the store when there is none at ``store``."""
    if not (Path(store) / "store.sqlite").is_file():
        raise UsageError("no store here", store, hint=hint)


def cmd_history(args: argparse.Namespace) -> int:
    """Print the trend table of test scores across runs."""
    from harness.history import check_since, format_history, history
    from harness.store import Store

    since = check_since(args.since)
    need_store(args.store, "run `tunegate run CONFIG` first or pass --store")
    for line in format_history(history(Store(args.store), args.task, since)):
        out(line)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """Write per-example records (one run or all) to Parquet or CSV for a warehouse."""
    from harness.export import export_records
    from harness.store import Store

    need_store(args.store, "pass --store")
    path, n = export_records(Store(args.store), args.run, Path(args.out))
    out(f"wrote {n} records to {path}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Rebuild a run's report from the store (no model calls)."""
    from harness.report import write_report
    from harness.store import Store

    need_store(args.store, "run `tunegate run CONFIG` first or pass --store")
    report_dir = write_report(Store(args.store), args.run, args.reports)
    out(f"report: {report_dir / 'report.md'}")
    return EXIT_OK


def cmd_export_lmeval(args: argparse.Namespace) -> int:
    """Write lm-eval task YAML + data; with --run, run it in lm-eval and import the samples."""
    from harness.lmeval_run import LmevalOptions, export_command

    run = None
    if args.run:
        run = LmevalOptions(args.run, args.model_args, args.kind, Path(args.out),
                            args.limit, args.batch_size, args.seed)
    for line in export_command(args.task, args.out, args.variant, args.split, args.seed, run,
                               args.store, args.reports):
        out(line)
    return EXIT_OK

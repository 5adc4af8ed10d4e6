"""``train`` (one adapter now) and ``estimate`` (what a run would do, and cost, first)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from harness.commands import EXIT_INTERRUPTED, EXIT_OK
from harness.commands.feedback import duration
from harness.commands.screen import err, out
from harness.userfiles import read_text

if TYPE_CHECKING:
    from harness.estimate_training import TrainingPlan
    from harness.runplan import RunPlan

__all__ = ["cmd_estimate", "cmd_train"]


def cmd_estimate(args: argparse.Namespace) -> int:
    """Print the run's plan without executing it: requests, tokens, dollars, adapters to train."""
    from harness import pipeline
    from harness.config import load_config
    from harness.store import Store

    cfg = load_config(args.config)
    store = Store(args.store)
    est = pipeline.estimate(pipeline.plan(cfg, store), store)
    econ = cfg.spec.economics
    out(f"{'task':<20} {'variant':<14} {'model':<22} {'requests':>8} {'cached':>7} "
        f"{'prompt tok':>11} {'max out tok':>11}" + ("  cost USD" if econ else ""))
    total = 0.0
    for r in est.rows:
        uncached = 1 - r.cached / r.requests if r.requests else 0.0
        cost = ((r.prompt_tokens * econ.price_in_per_mtok + r.max_completion_tokens
                 * econ.price_out_per_mtok) / 1e6 * uncached) if econ else 0.0
        total += cost
        out(f"{r.task:<20} {r.variant:<14} {r.model:<22} {r.requests:>8} {r.cached:>7} "
            f"{r.prompt_tokens:>11} {r.max_completion_tokens:>11}"
            + (f"  {cost:>8.4f}" if econ else ""))
    trainings = est.plan.trainings
    after = " (after training)" if trainings else ""
    out(f"total: {est.model_calls} model calls to make{after}, {est.cached} cached"
        + (f", about ${total:.4f} at the config's prices (uncached share)" if econ else
           " (add an economics section to price them)"))
    _plan_lines(est.plan)
    too_long = [t for r in est.rows for t in r.too_long]
    if too_long:
        out(f"{len(too_long)} examples do not fit the model's context; the run records each "
            "as failed (raise it with n_ctx, e.g. embedded?n_ctx=8192):")
        for t in too_long:
            out(f"  {t.describe()}")
    if trainings:
        _trainings(list(trainings))
    return EXIT_OK


def _plan_lines(plan: RunPlan) -> None:
    """The plan's units (and the search's worst case) and the judge's calls."""
    search = sum(s.total for s in plan.searches) * len(plan.config.models)
    out(f"plan: {plan.units} examples x samples to score"
        + (f", and at most {search} for the prompt search and its winners" if search else ""))
    if plan.judged:
        out(f"judge: at most {plan.judged} more model calls (one per scored output of a "
            "task with a judge; not in the total above, they depend on the answers)")


def _trainings(plans: list[TrainingPlan]) -> None:
    out("")
    out(f"adapters to train first ({len(plans)}; their requests above are all new):")
    out(f"{'task':<20} {'variant':<14} {'model':<22} {'train ex':>8} {'epochs':>6} "
        f"{'estimated time':>15}")
    for p in plans:
        est = "unknown" if p.seconds is None else duration(p.seconds)
        out(f"{p.task:<20} {p.variant:<14} {p.model:<22} {p.examples:>8} {p.epochs:>6} "
            f"{est:>15}")
    known = [p.seconds for p in plans if p.seconds is not None]
    if known:
        unknown = len(plans) - len(known)
        out(f"training: about {duration(sum(known))} in all"
            + (f" (+ {unknown} of unknown length)" if unknown else ""))
    for basis in dict.fromkeys(p.basis for p in plans):
        out(f"  estimate basis: {basis}")


def cmd_train(args: argparse.Namespace) -> int:
    """Train a LoRA adapter on a task's train split and export it (peft, GGUF, Modelfile)."""
    from harness.finetune import train_adapter
    from harness.tasks import load_task
    from harness.training import TrainOptions

    modules = tuple(m.strip() for m in args.target_modules.split(",") if m.strip())
    options = TrainOptions(rank=args.rank, alpha=args.alpha, epochs=args.epochs, lr=args.lr,
                           seed=args.seed, batch_size=args.batch_size, target_modules=modules,
                           early_stop_on_dev=args.early_stop, device=args.device,
                           max_length=args.max_length, max_examples=args.max_examples,
                           template=read_text(args.template, "template file")
                           if args.template else None)
    task = load_task(args.task)
    out_dir = Path(args.out) if args.out else Path("adapters") / task.name
    try:
        res = train_adapter(task, model=args.model, out_dir=out_dir, options=options,
                            force=args.force, progress=out)
    except KeyboardInterrupt:
        err("interrupted: no adapter was written (a partial one is never left in place)")
        return EXIT_INTERRUPTED
    losses = ", ".join(f"{x:.4f}" for x in res.train_loss)
    out(f"adapter: {res.out_dir} (train loss per epoch {losses}; {res.wall_s:.1f} s, "
        f"{res.tokens_trained} tokens, GGUF LoRA {res.adapter_bytes} bytes)")
    return EXIT_OK

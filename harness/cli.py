"""The ``tunegate`` command line: parse, run one command, return its exit code.

The commands themselves live in :mod:`harness.commands`. Exit codes: 0 ok,
1 gate failed or regression, 2 usage or input error, 3 inconclusive, 70
internal error (a bug; the traceback goes to a log file, see
:mod:`harness.crashlog`), 130 interrupted (finished work is kept).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from harness.commands import (
    EXIT_FAIL,
    EXIT_INCONCLUSIVE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
)
from harness.commands.evaluate import cmd_compare_base, cmd_gate, cmd_run
from harness.commands.files import (
    cmd_export,
    cmd_export_lmeval,
    cmd_history,
    cmd_report,
    cmd_validate,
)
from harness.commands.logs import Logs
from harness.commands.score import cmd_score
from harness.commands.screen import err, is_terminal, silence
from harness.commands.training import cmd_estimate, cmd_train
from harness.crashlog import EXIT_INTERNAL, crash_line, write_crash_log
from harness.errors import UsageError

__all__ = ["EXIT_FAIL", "EXIT_INCONCLUSIVE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE",
           "main", "version"]

DESCRIPTION = """\
Is fine-tuning worth it here, or does a better prompt (or retrieval) do the job?
tunegate runs the same tasks against prompt, RAG and LoRA variants of a model,
scores every output, tests the paired differences, prices them, and writes a
report and a verdict a CI job can gate on."""

EXAMPLES = {
    "run": "tunegate run examples/demo.yaml",
    "estimate": "tunegate estimate examples/demo.yaml",
    "gate": "tunegate gate examples/gate.yaml --min-gain 0.03",
    "compare-base": "tunegate compare-base examples/gate.yaml --old embedded --new embedded:q8_0",
    "validate": "tunegate validate tasks/support_routing.yaml examples/demo.yaml",
    "report": "tunegate report latest",
    "score": "tunegate score latest",
    "history": "tunegate history --task support_routing --since 2026-11-01",
    "export": "tunegate export all --out nightly.parquet",
    "export-lmeval": "tunegate export-lmeval tasks/support_routing.yaml --out lmeval/",
    "train": "tunegate train tasks/support_routing.yaml --epochs 3",
}
"""One example per command: shown by ``tunegate --help`` and by each command's ``--help``."""

EPILOG = ("examples (tunegate COMMAND --help for a command's options):\n"
          + "\n".join(f"  {line}" for line in EXAMPLES.values()) + """

exit codes: 0 ok, 1 gate failed or regression, 2 usage or input error,
3 inconclusive, 130 interrupted (finished work is kept).
A run's full log (other libraries' messages too) is STORE/logs/RUN-ID.log;
-v shows it all on the terminal as well.""")


def version() -> str:
    """The installed package's version (``unknown`` when run from a bare checkout)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("tunegate")
    except PackageNotFoundError:
        return "unknown"


def _sub(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help_: str,
         parents: Sequence[argparse.ArgumentParser] = ()) -> argparse.ArgumentParser:
    return sub.add_parser(name, help=help_, description=help_[:1].upper() + help_[1:] + ".",
                          epilog=f"example:\n  {EXAMPLES[name]}", parents=list(parents),
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def _run_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                  where: argparse.ArgumentParser) -> None:
    r = _sub(sub, "run", "run or resume a config, write its report and print the verdict table",
             [where])
    r.add_argument("config")
    r.add_argument("--fresh", action="store_true", help="ignore cached responses (still "
                   "caching new ones): for a nightly job against a model that may change")
    r.set_defaults(fn=cmd_run)
    e = _sub(sub, "estimate", "dry run: requests, tokens, dollars and the adapters to train "
             "(with an estimated time), before anything is sent",
             [where])
    e.add_argument("config")
    e.set_defaults(fn=cmd_estimate)
    g = _sub(sub, "gate", "decide whether fine-tuning passes: exit 0 pass, 1 fail, "
             "3 inconclusive, 2 usage error", [where])
    g.add_argument("config")
    g.add_argument("--min-gain", type=float, default=None,
                   help="smallest gain worth having (metric units, e.g. 0.03)")
    g.add_argument("--max-payback-months", type=float, default=None,
                   help="longest acceptable payback (needs an economics section)")
    g.add_argument("--require", choices=["justified", "no-regression"], default="justified",
                   help="justified: the verdict must be FINE-TUNE JUSTIFIED; no-regression: "
                   "the candidate must not be significantly worse than the baseline")
    g.set_defaults(fn=cmd_gate)
    cb = _sub(sub, "compare-base", "a new base-model release: old base + adapter vs new base "
              "+ best prompt (and a retrained adapter)", [where])
    cb.add_argument("config")
    cb.add_argument("--old", required=True, help="the base the adapter was trained on, "
                    "e.g. embedded")
    cb.add_argument("--new", required=True, help="the new base, e.g. embedded:q8_0 or "
                    "openai:NEW-MODEL")
    cb.add_argument("--retrain", action="store_true",
                    help="also train the lora variants afresh on the new base")
    cb.set_defaults(fn=cmd_compare_base)


def _store_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                    where: argparse.ArgumentParser) -> None:
    v = _sub(sub, "validate", "check task, variant and run files: YAML syntax, unknown or "
             "missing keys, types, data files, columns, labels, duplicate ids, empty splits, "
             "templates")
    v.add_argument("paths", nargs="+")
    v.set_defaults(fn=cmd_validate)
    rep = _sub(sub, "report", "rebuild a run's report from the store (no model calls)",
               [where])
    rep.add_argument("run", nargs="?", default="latest", help="run id or 'latest'")
    rep.set_defaults(fn=cmd_report)
    sc = _sub(sub, "score", "re-score a stored run with today's scorers into a new run "
              "(no model calls), write its report and print which scores changed", [where])
    sc.add_argument("run", nargs="?", default="latest", help="run id or 'latest' (default); "
                    "its task files must be unchanged since the run")
    sc.set_defaults(fn=cmd_score)
    h = _sub(sub, "history", "trend table of test scores across runs",
             [where])
    h.add_argument("--task", default=None)
    h.add_argument("--since", default=None, help="YYYY-MM-DD")
    h.set_defaults(fn=cmd_history)
    x = _sub(sub, "export", "per-example records to Parquet or CSV",
             [where])
    x.add_argument("run", nargs="?", default="all", help="run id, 'latest' or 'all'")
    x.add_argument("--out", required=True, help="file ending in .parquet or .csv")
    x.set_defaults(fn=cmd_export)
    lm = _sub(sub, "export-lmeval", "write lm-eval task YAML + data (absolute paths); --run "
              "runs it in lm-eval and imports samples", [where])
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


def _train_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    t = _sub(sub, "train", "train a LoRA adapter on a task's train split: peft directory, "
             "GGUF LoRA, Ollama Modelfile and training.json")
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


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tunegate", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true", help="also show tunegate's debug "
                   "lines and other libraries' messages, warnings and progress bars")
    p.add_argument("--version", action="version", version=f"tunegate {version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--store", default=os.environ.get("TUNEGATE_STORE", ".tunegate"),
                       help="store directory (default .tunegate, or $TUNEGATE_STORE)")
    where.add_argument("--reports", default="reports", help="reports directory")
    _run_commands(sub, where)
    _store_commands(sub, where)
    _train_command(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tunegate`` console script."""
    try:
        args = _parser().parse_args(argv)
    except BrokenPipeError:  # `tunegate --help | head -1`
        silence(sys.stdout)
        return EXIT_OK
    logs = Logs(verbose=args.verbose, terminal=is_terminal(sys.stderr))
    logs.start()
    args.logs = logs
    try:
        code: int = args.fn(args)
    except UsageError as exc:
        err(exc.one_line())
        return EXIT_USAGE
    except Exception as exc:  # a bug: never exit 1, which a CI job reads as a failed gate
        store = getattr(args, "store", None) or os.environ.get("TUNEGATE_STORE", ".tunegate")
        err(crash_line(exc, write_crash_log(exc, store, argv)))
        return EXIT_INTERNAL
    finally:
        logs.close()
    return code


if __name__ == "__main__":
    sys.exit(main())

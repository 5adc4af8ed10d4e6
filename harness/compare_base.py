"""A new base-model release: does prompting the new base match the old fine-tune?

The maintenance trap of fine-tuning: a new base model every few months means
retraining and re-evaluating the adapter. ``compare-base`` evaluates, on the
same examples,

- the old base with the config's ``lora`` variants (the adapter in service),
- the new base with the config's prompting variants (the best chosen on dev),
- with ``--retrain``, the new base with the ``lora`` variants trained afresh,

as one run with two models (so every comparison is paired and the report and
the store are the usual ones), and then says whether the adapter can be
retired, must be retrained, or the evidence is not there yet.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from harness.analysis.choice import best_variant
from harness.analysis.model import TaskResult
from harness.backends.base import BackendOptions, ModelSpec, create, parse_spec
from harness.config import RunConfig, load_config
from harness.errors import UsageError
from harness.fmt import points
from harness.pipeline import run
from harness.runner import Progress
from harness.store import Store

PROBE = ("Refund request for order 4411: the parcel arrived crushed. "
         "Kundendienst, remboursement, 配送, naïve café — 42% off!")
"""Text whose tokenization fingerprints a tokenizer (mixed scripts, digits, accents)."""

RETIRE = "RETIRE ADAPTER"
RETRAIN = "RETRAIN"
KEEP = "KEEP ADAPTER"
UNSURE = "INCONCLUSIVE"


@dataclass(frozen=True)
class BaseDecision:
    """What ``compare-base`` concluded for one task."""

    task: str
    label: str
    reason: str
    old_adapter: str
    new_prompt: str
    new_adapter: str | None


def _spec(text: str, flag: str) -> ModelSpec:
    try:
        return parse_spec(text)
    except UsageError as exc:
        raise UsageError(f"{flag} {text!r}: {exc.message}", hint=exc.hint) from None


def plan(cfg: RunConfig, old: ModelSpec, new: ModelSpec, retrain: bool) -> RunConfig:
    """The two-model run: lora on the old base, prompts (and lora) on the new one.

    Raises:
        UsageError: No lora or no prompt variant, the same base twice, or
            ``--retrain`` with an adapter that cannot be retrained.
    """
    loras = [v for v in cfg.variants if v.spec.kind == "lora"]
    prompts = [v for v in cfg.variants if v.spec.kind != "lora"]
    if not loras:
        raise UsageError("compare-base needs a lora variant (the adapter in service on the "
                         "old base)", cfg.path, hint="add a variant with kind: lora")
    if not prompts:
        raise UsageError("compare-base needs at least one prompting variant for the new base",
                         cfg.path)
    if str(old) == str(new):
        raise UsageError(f"--old and --new are the same model ({old})",
                         hint="name two different bases, e.g. --old embedded --new embedded:q8_0")
    if retrain:
        fixed = [v.name for v in loras if v.spec.train is None]
        if fixed:
            raise UsageError(f"--retrain needs a 'train:' section in lora variant {fixed[0]!r} "
                             "(it names a fixed adapter file)", cfg.path)
    exclude = {(v.name, str(old)) for v in prompts}
    if not retrain:
        exclude |= {(v.name, str(new)) for v in loras}
    blob = json.dumps({"config": cfg.digest, "old": str(old), "new": str(new),
                       "retrain": retrain})
    return dataclasses.replace(cfg, models=(old, new), exclude=frozenset(exclude),
                               digest=hashlib.sha256(blob.encode()).hexdigest()[:16])


def tokenizer_note(old: ModelSpec, new: ModelSpec, options: BackendOptions) -> str | None:
    """A warning when the two bases tokenize differently (adapters and prices do not carry)."""
    counts = []
    for spec in (old, new):
        backend = create(ModelSpec(spec.backend, spec.model), options)
        try:
            counts.append(backend.count_tokens(PROBE))
        finally:
            backend.close()
    if counts[0] == counts[1]:
        return None
    return (f"the bases tokenize differently ({counts[0]} vs {counts[1]} tokens on a probe): "
            "an adapter cannot move between them and token prices are not comparable")




def decide_task(task: TaskResult, old: str, new: str, min_gain: float,
                 reeval_cost: float = 0.0) -> BaseDecision:
    """Retire, retrain, keep or inconclusive for one task of a compare-base run.

    The comparison is the old fine-tune minus the new base's best prompt on
    test (paired; the prompt chosen on dev): if the old adapter's advantage is
    below ``min_gain`` with confidence, prompting the new base is enough.
    """
    by_name = {v.name: v for v in task.variants}
    lora_old = [n for n, v in by_name.items() if v.kind == "lora" and n.endswith("@" + old)]
    lora_new = [n for n, v in by_name.items() if v.kind == "lora" and n.endswith("@" + new)]
    prompt = task.baseline
    comps = {c.candidate: c for c in task.comparisons}
    if not lora_old or prompt is None or not prompt.endswith("@" + new):
        return BaseDecision(task.task, UNSURE, "missing results for the old adapter or the "
                            "new base's prompts", "", prompt or "", None)

    def best(names: list[str]) -> str:
        return str(best_variant([by_name[n] for n in names]))

    old_ft, new_ft = best(lora_old), (best(lora_new) if lora_new else None)
    c = comps[old_ft]
    gap = (f"old adapter {old_ft} vs new base + {prompt}: {points(c.delta)} "
           f"[{points(c.ci_low)}, {points(c.ci_high)}], n={c.n}")
    cost = None if task.economics is None else task.economics.training_cost_usd
    cost_text = (f"; retraining costs about ${cost + reeval_cost:,.2f} (training + re-evaluation,"
                 " from the measured training)" if cost is not None else "")
    if c.ci_high is not None and c.ci_high < min_gain:
        return BaseDecision(task.task, RETIRE, f"new base + prompting matches the old "
                            f"fine-tune (its advantage is below {100 * min_gain:.1f} pp with "
                            f"confidence): {gap}", old_ft, prompt, new_ft)
    if c.ci_low is not None and c.ci_low > 0:
        if new_ft is not None:
            cn = comps.get(new_ft)
            if cn is not None and cn.ci_low is not None and cn.ci_low > 0:
                return BaseDecision(task.task, RETRAIN, f"the old fine-tune still beats "
                                    f"prompting the new base ({gap}) and the retrained adapter "
                                    f"beats it too: {points(cn.delta)} [{points(cn.ci_low)}, "
                                    f"{points(cn.ci_high)}]{cost_text}", old_ft, prompt, new_ft)
            return BaseDecision(task.task, KEEP, f"the old fine-tune beats prompting the new "
                                f"base ({gap}) but the retrained adapter does not clearly beat "
                                "the new base's prompt: keep the old base and adapter",
                                old_ft, prompt, new_ft)
        return BaseDecision(task.task, RETRAIN, f"prompting the new base does not match the "
                            f"old fine-tune ({gap}): retrain the adapter on the new base "
                            f"(--retrain measures it){cost_text}", old_ft, prompt, None)
    return BaseDecision(task.task, UNSURE, f"cannot tell yet: {gap}"
                        + (f"; about {c.n_needed} test examples would settle it"
                           if c.n_needed else ""), old_ft, prompt, new_ft)


def markdown(decisions: list[BaseDecision], old: str, new: str, note: str | None) -> str:
    """The compare-base summary for a terminal or a pull request."""
    lines = [f"## New base: {new} (was {old})", ""]
    if note:
        lines += [f"> {note}", ""]
    lines += ["| task | decision | why |", "|---|---|---|"]
    lines += [f"| {d.task} | {d.label} | {d.reason} |" for d in decisions]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class CompareBaseResult:
    """The run, its report directory and the per-task decisions."""

    run_id: str
    report_dir: Path
    decisions: list[BaseDecision]
    tokenizer_note: str | None


def compare_base(config: str | Path, old: str, new: str, *, retrain: bool = False,
                 store: str | Path = ".tunegate", reports: str | Path = "reports",
                 progress: Progress | None = None) -> CompareBaseResult:
    """Run the old-vs-new-base comparison and decide per task.

    Raises:
        UsageError: Bad config or specs, missing adapter, nothing to compare.
    """
    cfg = load_config(config)
    old_spec, new_spec = _spec(old, "--old"), _spec(new, "--new")
    two = plan(cfg, old_spec, new_spec, retrain)
    options = BackendOptions(seed=cfg.spec.seed)
    note = tokenizer_note(old_spec, new_spec, options)
    st = Store(store)
    done = run(two, st, reports, progress)
    result, out, results = done.result, done.report_dir, done.results
    econ = cfg.spec.economics
    decisions = [decide_task(t, str(old_spec), str(new_spec), cfg.spec.decision.min_gain,
                             econ.reeval_cost if econ else 0.0)
                 for t in results.tasks]
    payload = {"old": str(old_spec), "new": str(new_spec), "retrain": retrain,
               "tokenizer_note": note, "run_id": result.run_id,
               "decisions": [dataclasses.asdict(d) for d in decisions]}
    (out / "compare_base.json").write_text(json.dumps(payload, indent=2))
    (out / "compare_base.md").write_text(markdown(decisions, str(old_spec), str(new_spec),
                                                  note))
    return CompareBaseResult(result.run_id, out, decisions, note)

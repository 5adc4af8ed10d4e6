"""The verdict per task and overall, and the gate's exit code.

A verdict rests on the paired comparison of the fine-tuned candidate with
the best prompting baseline (chosen on dev), optionally on RAG's comparison
with the same baseline, and on the break-even economics. Its reason is one
sentence stating the numbers it rests on.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from harness.analysis.economics import Economics
from harness.analysis.model import Outcome, VerdictLabel
from harness.analysis.stats import Comparison
from harness.fmt import NA, p_value, signed

__all__ = [
    "JUSTIFIED",
    "NO_PAYBACK",
    "TOO_SMALL",
    "USE_RAG",
    "Verdict",
    "decide",
    "exit_code",
    "gate_statement",
    "headline",
    "inconclusive_label",
    "overall",
]

JUSTIFIED = VerdictLabel(outcome=Outcome.JUSTIFIED)
TOO_SMALL = VerdictLabel(outcome=Outcome.TOO_SMALL)
NO_PAYBACK = VerdictLabel(outcome=Outcome.NO_PAYBACK)
USE_RAG = VerdictLabel(outcome=Outcome.USE_RAG)
_FAIL_ORDER = (TOO_SMALL, NO_PAYBACK, USE_RAG)


def inconclusive_label(more: int) -> VerdictLabel:
    """The INCONCLUSIVE label asking for ``more`` test examples.

    Example:
        >>> str(inconclusive_label(120))
        'INCONCLUSIVE: need ~120 more examples'
    """
    return VerdictLabel(outcome=Outcome.INCONCLUSIVE, examples_needed=more)


@dataclass(frozen=True)
class Verdict:
    """A decision and the one sentence of numbers it rests on.

    Attributes:
        label: One of the five labels (INCONCLUSIVE carries its count as
            ``label.examples_needed``).
        reason: One sentence with the gain, its interval, p-value and payback.
    """

    label: VerdictLabel
    reason: str

    @property
    def more_examples(self) -> int | None:
        """For INCONCLUSIVE, how many more test examples to label."""
        return self.label.examples_needed


def _p(p: float) -> str:
    """``p=0.003``, ``p<0.001`` or ``p n/a`` (:func:`harness.fmt.p_value`)."""
    text = p_value(p)
    return f"p {text}" if text == NA else f"p{text}" if text.startswith("<") else f"p={text}"


def _payback(e: Economics | None, limit: float) -> str:
    if e is None:
        return "payback not checked (no prices given)"
    if math.isinf(e.payback_months):
        return (f"never pays back (net saving ${e.net_monthly_saving_usd:,.2f}/month, "
                f"limit {limit:g} months)")
    return (f"pays back in {e.payback_months:.1f} months (limit {limit:g}; "
            f"${e.one_off_cost_usd:,.0f} one-off, ${e.net_monthly_saving_usd:,.2f}/month net)")


def _level(confidence: float) -> str:
    """``95%``, or ``98.3%`` for a Holm-adjusted level."""
    return f"{100 * confidence:.3g}%"


def _facts(c: Comparison, e: Economics | None, limit: float) -> str:
    """The numbers of one comparison: gain, interval, p-value, n and payback."""
    return (f"gain {signed(c.delta)} ({_level(c.confidence)} CI {signed(c.ci_low)} to "
            f"{signed(c.ci_high)}, {_p(c.p_value)}, n={c.n}), {_payback(e, limit)}")


def _more(c: Comparison, n_min: int) -> int:
    """More test examples to label: to ``n_needed`` (at least ``n_min``), at least 1.

    Without a power estimate: up to ``n_min`` when below it, else double the set.
    """
    target = c.n_needed
    if target is None:
        target = n_min if c.n < n_min else 2 * c.n
    return max(1, max(target, n_min) - c.n)


def _rag_wins(c: Comparison, rag: Comparison | None, n_min: int) -> bool:
    """RAG beats the baseline significantly and the candidate does not beat RAG."""
    if rag is None or rag.n < n_min or not rag.ci_low > 0:
        return False
    return not c.ci_low > rag.delta


def decide(comparison: Comparison, economics: Economics | None, min_gain: float,
           max_payback_months: float, rag_comparison: Comparison | None = None,
           n_min: int = 10) -> Verdict:
    """The verdict for one task; the first rule that applies wins.

    The interval is the one that agrees with the reported test (it excludes
    0 exactly when the p-value is below alpha; with several tasks, at the
    Holm level), so rules 3 and 4 never contradict the test.

    1. Fewer than ``n_min`` paired examples, or no interval (NaN: the
       paired differences have no spread): INCONCLUSIVE, asking for enough
       to reach ``n_needed`` (and ``n_min``).
    2. RAG (``rag_comparison``, RAG against the same baseline, with at least
       ``n_min`` examples) beats the baseline significantly (CI lower bound
       > 0) and the candidate does not beat RAG (the lower bound of the
       candidate's gain is not above RAG's observed gain): USE RAG.
    3. CI lower bound >= ``min_gain``: FINE-TUNE JUSTIFIED when payback <=
       ``max_payback_months`` (or no economics were given: payback is then
       reported as not checked), else NOT JUSTIFIED: does not pay back.
    4. CI upper bound < ``min_gain``: NOT JUSTIFIED: gain too small.
    5. Otherwise INCONCLUSIVE: need ~N more examples, N = ``n_needed - n``
       (at least 1; see :func:`~harness.analysis.stats.compare`).

    Args:
        comparison: Fine-tuned candidate against the prompting baseline.
        economics: Its break-even, or None when no prices were given.
        min_gain: Smallest gain worth having, in the metric's units.
        max_payback_months: Longest acceptable payback.
        rag_comparison: RAG against the same baseline, when the run has one.
        n_min: Fewest paired examples a decision may rest on.
    """
    c, facts = comparison, _facts(comparison, economics, max_payback_months)
    if c.n < n_min:
        more = _more(c, n_min)
        return Verdict(inconclusive_label(more),
                       f"Only {c.n} paired test examples (minimum {n_min}): {facts}; "
                       f"label about {more} more to decide.")
    if math.isnan(c.ci_low) or math.isnan(c.ci_high):
        more = _more(c, n_min)
        why = f" ({c.note})" if c.note else ""
        return Verdict(inconclusive_label(more),
                       f"The gain has no interval{why}: {facts}; label about {more} more "
                       f"test examples to decide.")
    if rag_comparison is not None and _rag_wins(c, rag_comparison, n_min):
        r = rag_comparison
        return Verdict(USE_RAG,
                       f"RAG beats the prompt baseline (gain {signed(r.delta)}, CI "
                       f"{signed(r.ci_low)} to {signed(r.ci_high)}, {_p(r.p_value)}) and "
                       f"the fine-tune does not beat RAG: {facts}.")
    if c.ci_low >= min_gain:
        if economics is None or economics.payback_months <= max_payback_months:
            return Verdict(JUSTIFIED, f"The fine-tune's CI lower bound reaches min_gain "
                                      f"{signed(min_gain)}: {facts}.")
        return Verdict(NO_PAYBACK, f"The gain reaches min_gain {signed(min_gain)} but "
                                   f"payback exceeds {max_payback_months:g} months: {facts}.")
    if c.ci_high < min_gain:
        return Verdict(TOO_SMALL, f"Even the CI upper bound is below min_gain "
                                  f"{signed(min_gain)}: {facts}.")
    more = _more(c, n_min)
    return Verdict(inconclusive_label(more),
                   f"The CI straddles min_gain {signed(min_gain)}: {facts}; label about "
                   f"{more} more test examples to decide.")


def exit_code(label: VerdictLabel) -> int:
    """The gate's exit code for a label: 0 pass, 1 fail, 3 inconclusive."""
    return label.exit_code


def overall(verdicts: Mapping[str, Verdict]) -> Verdict:
    """Combine per-task verdicts (task name -> verdict) into one.

    Rule: any failing task (NOT JUSTIFIED or USE RAG) makes the whole a
    failure, labelled with the failure most tasks share (ties: gain too
    small, then does not pay back, then USE RAG); otherwise any INCONCLUSIVE
    task makes it INCONCLUSIVE, asking for the sum of the tasks' extra
    examples (each task has its own test set); otherwise, every task being
    justified, FINE-TUNE JUSTIFIED.

    Raises:
        ValueError: ``verdicts`` is empty or holds an unknown label.
    """
    if not verdicts:
        raise ValueError("no task verdicts to combine")
    codes = {name: exit_code(v.label) for name, v in verdicts.items()}
    failing = [name for name, code in codes.items() if code == 1]
    if failing:
        counts = Counter(verdicts[name].label for name in failing)
        label = max(_FAIL_ORDER, key=lambda lab: (counts[lab], -_FAIL_ORDER.index(lab)))
        listed = ", ".join(f"{name} ({verdicts[name].label})" for name in failing)
        passing = [name for name, code in codes.items() if code == 0]
        also = f"; fine-tuning is justified on {', '.join(passing)}" if passing else ""
        return Verdict(label, f"{len(failing)} of {len(verdicts)} tasks fail: {listed}{also}.")
    pending = [name for name, code in codes.items() if code == 3]
    if pending:
        extra = {name: verdicts[name].label.examples_needed or 1 for name in pending}
        more = sum(extra.values())
        listed = ", ".join(f"{name} (~{k} more)" for name, k in extra.items())
        return Verdict(inconclusive_label(more),
                       f"{len(pending)} of {len(verdicts)} tasks are inconclusive and none "
                       f"fails: {listed}.")
    return Verdict(JUSTIFIED, f"All {len(verdicts)} tasks justify fine-tuning: "
                              f"{', '.join(verdicts)}.")


def _plain(label: VerdictLabel) -> str:
    """A label as a phrase: ``USE RAG: knowledge gap`` -> ``use RAG (knowledge gap)``."""
    head, _, detail = str(label).partition(": ")
    verb = {"USE RAG": "use RAG", "NOT JUSTIFIED": "not justified",
            "INCONCLUSIVE": "inconclusive"}.get(head, head.lower())
    return f"{verb} ({detail})" if detail else verb


def headline(verdicts: Mapping[str, Verdict]) -> str:
    """The run's one-line answer, honest when its tasks disagree.

    Tasks that share one label give that label (``FINE-TUNE JUSTIFIED (all 5
    tasks)``); tasks that differ give ``MIXED``, how many justify fine-tuning
    and, grouped by label in the order the labels first appear, the others:
    ``MIXED: fine-tuning justified on 4 of 5 tasks; corvane_policies: use RAG
    (knowledge gap)``. The gate's rule is unchanged by it: see
    :func:`gate_statement`.

    Raises:
        ValueError: ``verdicts`` is empty.
    """
    if not verdicts:
        raise ValueError("no task verdicts to combine")
    labels = {v.label for v in verdicts.values()}
    n = len(verdicts)
    if len(labels) == 1:
        (label,) = labels
        return str(label) if n == 1 else f"{label} (all {n} tasks)"
    groups: dict[VerdictLabel, list[str]] = {}
    for name, v in verdicts.items():
        if v.label != JUSTIFIED:
            groups.setdefault(v.label, []).append(name)
    justified = n - sum(len(names) for names in groups.values())
    others = "; ".join(f"{', '.join(names)}: {_plain(label)}" for label, names in groups.items())
    return f"MIXED: fine-tuning justified on {justified} of {n} tasks; {others}"


def _tasks(k: int) -> str:
    return f"{k} task" if k == 1 else f"{k} tasks"


def gate_statement(verdicts: Mapping[str, Verdict]) -> str:
    """What ``tunegate gate`` does with these verdicts, and why, in one line.

    The rule is :func:`overall`'s and the code :func:`exit_code`'s: it passes
    (exit 0) only when every task justifies fine-tuning, fails (exit 1) when
    any task fails, and is otherwise inconclusive (exit 3).

    Example:
        ``gate: fails (exit 1) because 1 task fails (it passes only when every
        task justifies fine-tuning)``

    Raises:
        ValueError: ``verdicts`` is empty or holds an unknown label.
    """
    code = exit_code(overall(verdicts).label)
    codes = [exit_code(v.label) for v in verdicts.values()]
    if code == 0:
        who = "the task justifies" if len(codes) == 1 else f"all {_tasks(len(codes))} justify"
        return f"gate: passes (exit 0): {who} fine-tuning"
    rule = "it passes only when every task justifies fine-tuning"
    if code == 1:
        k = codes.count(1)
        return f"gate: fails (exit 1) because {_tasks(k)} fail{'s' if k == 1 else ''} ({rule})"
    k = codes.count(3)
    return (f"gate: inconclusive (exit 3) because {_tasks(k)} {'is' if k == 1 else 'are'} "
            f"inconclusive and none fails ({rule})")

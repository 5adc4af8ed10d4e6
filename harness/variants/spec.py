"""What a variant file may say (pydantic), and which combinations of levers make sense.

The prompting levers, each a variant option (sources in
docs/variants.md, "The prompting levers"):

- ``shots`` and ``shot_selection``: ``stratified`` (round-robin over labels,
  seeded), ``random`` (seeded) or ``similar`` (the k train examples nearest
  to the input by MiniLM embedding, Liu et al., 2022).
- ``calibrate``: contextual calibration of label scores (Zhao et al., 2021).
- ``constrain``: decode only valid answers: ``schema`` (the format task's
  JSON Schema), ``labels`` (one of the label strings) or ``regex`` (the
  format task's regex).
- ``system``: a system prompt (a Jinja2 string seeing ``task``, ``labels``,
  ``schema`` and ``glossary``).
- ``reasoning``: reason first, then answer on a final ``Answer:`` line,
  which alone is scored (Kojima et al., 2022; Wei et al., 2022).
- ``samples`` with ``aggregate: majority`` and a ``temperature``:
  self-consistency, the majority answer over N sampled generations
  (Wang et al., 2023).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.rag.knowledge import RagSpec
from harness.yamlio import YamlDoc


class TrainSpec(BaseModel):
    """How a ``lora`` variant trains its adapter on the spot (cached by digest).

    Values are checked here at load; module names against the base model
    when training starts (:mod:`harness.training.modules`), located here too.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: int = Field(8, ge=1, le=512)
    alpha: int = Field(16, ge=1, le=8192)
    epochs: int = Field(3, ge=1, le=1000)
    lr: float = Field(2e-4, gt=0.0, le=0.1)
    seed: int = Field(0, ge=0)
    batch_size: int = Field(8, ge=1, le=4096)
    target_modules: tuple[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")], ...] = (
        Field(("q_proj", "k_proj", "v_proj", "o_proj"), min_length=1))
    early_stop_on_dev: bool = False
    max_length: int = Field(256, ge=8, le=32768)
    max_examples: int | None = Field(None, ge=1)


class VariantSpec(BaseModel):
    """What a variant file may say.

    A ``prompt`` variant is a template (plus shots and calibration). A
    ``lora`` variant is a (usually short) template plus an adapter: either
    ``adapter`` (``tunegate train``'s output directory, a GGUF LoRA file, a
    peft directory, ``ollama:NAME`` or an OpenAI ``ft:`` model id; see
    :mod:`harness.variants.lora`) or ``train`` (train one on the task's
    train split, reused by digest).

    The prompting levers (see the module doc): ``shots``/``shot_selection``,
    ``calibrate``, ``scoring``, ``constrain``, ``system``, ``reasoning`` (with
    ``reasoning_tokens``, the budget for the reasoning and its answer line),
    ``samples``/``aggregate`` and ``temperature`` (the variant's sampling
    temperature; the task's ``generation.temperature`` when unset).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["prompt", "lora", "rag"] = "prompt"
    rag: RagSpec | None = None
    adapter: str | None = None
    train: TrainSpec | None = None
    description: str = ""
    template: str
    templates: dict[Literal["classification", "format", "tone", "terminology"], str] = {}
    families: list[Literal["classification", "format", "tone", "terminology"]] | None = None
    shots: int = Field(0, ge=0, le=64)
    shot_selection: Literal["stratified", "random", "similar"] = "stratified"
    calibrate: bool = False
    scoring: Literal["auto", "logprobs", "generate"] = "auto"
    constrain: Literal["schema", "labels", "regex"] | None = None
    system: str = ""
    reasoning: bool = False
    reasoning_tokens: int = Field(256, ge=16, le=8192)
    samples: int = Field(1, ge=1, le=64)
    aggregate: Literal["majority"] | None = None
    temperature: float | None = Field(None, ge=0.0, le=2.0)

    @model_validator(mode="after")
    def _adapter_source(self) -> VariantSpec:
        if self.kind == "lora" and (self.adapter is None) == (self.train is None):
            raise ValueError("a lora variant needs exactly one of 'adapter' (a file) or "
                             "'train' (train one on the task's train split)")
        if self.kind == "prompt" and (self.adapter is not None or self.train is not None):
            raise ValueError("'adapter' and 'train' belong to kind: lora")
        if self.kind == "rag" and (self.adapter is not None or self.train is not None):
            raise ValueError("'adapter' and 'train' belong to kind: lora")
        if self.rag is not None and self.kind != "rag":
            raise ValueError("'rag' (retriever, k, budget_tokens) belongs to kind: rag")
        return self

    @property
    def retrieval(self) -> RagSpec | None:
        """Retrieval settings of a ``rag`` variant (defaults when it names none)."""
        return (self.rag or RagSpec()) if self.kind == "rag" else None


def conflicts(spec: VariantSpec) -> list[tuple[str, str, str]]:
    """(key, message, hint) for each combination of levers that cannot work.

    A prompt search can use it to leave such combinations out; a variant
    file with one is refused at load (:func:`check_levers`), and a variant
    built in code at the start of a run (:func:`harness.plan.preflight`).
    """
    out: list[tuple[str, str, str]] = []
    many = spec.samples > 1
    if many and spec.aggregate is None:
        out.append(("samples", f"samples: {spec.samples} draws {spec.samples} answers per "
                    "example but does not say how to combine them",
                    "add aggregate: majority (self-consistency)"))
    if spec.aggregate is not None and not many:
        out.append(("aggregate", "aggregate: majority needs samples: 2 or more",
                    "self-consistency votes over several sampled answers, e.g. samples: 5"))
    if many and not spec.temperature:
        out.append(("samples", f"samples: {spec.samples} at temperature 0 draws the same "
                    "answer every time", "set temperature: 0.7 (self-consistency samples)"))
    if many and spec.scoring == "logprobs":
        out.append(("scoring", "self-consistency votes over generated answers; label "
                    "scoring gives one answer", "set scoring: generate or auto"))
    if spec.calibrate and spec.shot_selection == "similar":
        out.append(("calibrate", "calibrate estimates one prior for one fixed prompt; with "
                    "shot_selection: similar every example has its own shots",
                    "use shot_selection: stratified or random with calibrate"))
    if spec.calibrate and (spec.reasoning or many):
        out.append(("calibrate", "calibrate rescales label scores, but reasoning and "
                    "samples generate their answers", "drop calibrate from this variant"))
    if spec.reasoning and spec.scoring == "logprobs":
        out.append(("reasoning", "reasoning generates its answer; scoring: logprobs scores "
                    "labels without generating", "set scoring: generate or auto"))
    if spec.constrain is not None and spec.reasoning:
        out.append(("constrain", "constrain limits the whole output, which leaves no room "
                    "for the reasoning before the answer", "drop constrain or reasoning"))
    return out


def check_levers(spec: VariantSpec, doc: YamlDoc) -> None:
    """Refuse levers that contradict each other, at the line of the key that does.

    Raises:
        UsageError: The first conflict found, located in ``doc``.
    """
    for key, message, hint in conflicts(spec):
        raise doc.error(message, (key,) if key in doc.data else (), hint=hint)


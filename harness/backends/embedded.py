"""The embedded backend: a GGUF model in-process through llama-cpp-python.

Default model: google/gemma-3-270m (Q4_K_M), a base model with no chat
template, so prompts are plain completions. Label scoring reads raw logits
and computes log-softmax with numpy only for the continuation rows, reusing
the KV state of the longest common prompt prefix (few-shot blocks are
processed once). llama-cpp-python's own logprobs path sorts the 262k-token
vocabulary per token, which is about 100x slower.

Output constraints (``GenRequest.constraint``) become llama.cpp grammars
(GBNF, :mod:`harness.backends.constrain`): all three kinds. With
``embedded:PATH.gguf?chat=true`` prompts go through the GGUF's own chat
template (an instruct model): the prompt is the user message, a system
prompt the system message, and label scoring scores the answer that opens
the assistant turn.

This module relies on llama-cpp-python 0.3.36 internals (``_ctx``,
``_batch``, ``_model``): the version is pinned in the ``embedded`` extra.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.backends.base import (
    BackendOptions,
    Capabilities,
    GenRequest,
    GenResponse,
    ModelSpec,
    ScoreRequest,
    ScoreResponse,
    stop_at,
)
from harness.backends.constrain import KINDS, Constraint, to_gbnf
from harness.backends.context import ContextWindow, gguf_context_length, n_ctx_option, spec_options
from harness.backends.llama_scoring import LabelScorer
from harness.errors import UsageError
from harness.modelcache import file_digest
from harness.modelfiles import resolve_embedded
from harness.native import LLAMA

log = logging.getLogger(__name__)


def llama_threads() -> int:
    """llama.cpp threads: ``$TUNEGATE_THREADS``, else the CPUs this process may use.

    On a machine shared with other busy processes, fewer threads than cores
    is much faster (llama.cpp's threads spin-wait on each other): set
    ``TUNEGATE_THREADS=1`` there.

    Raises:
        UsageError: ``TUNEGATE_THREADS`` is not a positive integer.
    """
    env = os.environ.get("TUNEGATE_THREADS", "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise UsageError(f"TUNEGATE_THREADS={env!r} is not a positive integer")
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class EmbeddedBackend:
    """A llama-cpp-python model (optionally with a GGUF LoRA adapter).

    Args:
        model_path: The GGUF file.
        model_digest: Its SHA-256 (part of every cache key).
        adapter_path: A GGUF LoRA file, or ``None``.
        options: Context size and seed.
        window: The context window (default: ``options.n_ctx``, no known maximum).
    """

    def __init__(self, model_path: Path, model_digest: str, adapter_path: Path | None,
                 options: BackendOptions, window: ContextWindow | None = None,
                 chat: bool = False) -> None:
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            raise UsageError("llama-cpp-python is not installed",
                             hint="pip install 'tunegate[embedded]'") from None
        self.window = window or ContextWindow(options.n_ctx)
        self.capabilities = Capabilities(logprobs=True, tokenizer=True, max_concurrency=1,
                                         n_ctx=self.window.n_ctx, constrain=frozenset(KINDS),
                                         chat=chat)
        self._chat = chat
        self._formatter: Any = None
        self._grammars: dict[Constraint, str] = {}
        self._parsed: set[str] = set()
        self._path, self._adapter = model_path, adapter_path
        self._digest = model_digest
        self._adapter_digest = file_digest(adapter_path) if adapter_path else None
        self._lock = threading.Lock()
        self._options = options
        self._n_ctx = self.window.n_ctx
        self._llm: Any = None
        self._scorer: LabelScorer | None = None

    @property
    def llm(self) -> Any:
        """The llama.cpp model, loaded on first use (a fully cached run never loads it)."""
        if self._llm is None:  # checked again under the lock: two threads, one load
            LLAMA.load(self._load)
        return self._llm

    def _load(self) -> None:
        if self._llm is not None:
            return
        from llama_cpp import Llama

        kwargs: dict[str, Any] = {}
        if self._adapter is not None:
            kwargs["lora_path"] = str(self._adapter)
        try:
            self._llm = Llama(model_path=str(self._path), n_ctx=self._n_ctx, n_batch=512,
                              n_threads=llama_threads(), seed=self._options.seed,
                              logits_all=False, verbose=False, **kwargs)
        except ValueError as exc:
            what = self._adapter or self._path
            raise UsageError(f"llama.cpp cannot load it: {exc}", what,
                             hint="is it a GGUF file (an adapter: a GGUF LoRA for this "
                             "base)?") from None

    @property
    def identity(self) -> dict[str, str | None]:
        """Backend, model digest (``+chat`` with the chat template) and adapter digest."""
        model = self._digest + ("+chat" if self._chat else "")
        return {"backend": "embedded", "model": model, "adapter": self._adapter_digest}

    def _tokens(self, text: str, bos: bool) -> list[int]:
        # A chat-formatted prompt holds the template's special tokens as text.
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=bos, special=self._chat))

    def check_constraint(self, constraint: Constraint) -> None:
        """Build the constraint's grammar now, so an unsupported regex stops the run at start.

        Raises:
            UsageError: A regex outside the GBNF subset, or a schema llama.cpp's
                converter cannot handle.
        """
        self._gbnf(constraint)

    def _gbnf(self, constraint: Constraint) -> str:
        if constraint not in self._grammars:
            self._grammars[constraint] = to_gbnf(constraint)
        return self._grammars[constraint]

    def _grammar(self, constraint: Constraint) -> Any:
        """The llama.cpp grammar for ``constraint``, checked once to parse.

        A grammar that does not parse gives a null sampler, which would crash
        the sampler chain: it is refused instead.
        """
        import llama_cpp
        from llama_cpp.llama_grammar import LlamaGrammar

        text = self._gbnf(constraint)
        if text not in self._parsed:
            ptr = llama_cpp.llama_sampler_init_grammar(self.llm._model.vocab,
                                                       text.encode("utf-8"), b"root")
            if not ptr:
                raise UsageError(f"llama.cpp cannot parse the grammar for constrain: "
                                 f"{constraint.kind}: {text[:200]}")
            llama_cpp.llama_sampler_free(ptr)
            self._parsed.add(text)
        return LlamaGrammar.from_string(text, verbose=False)

    def _chat_prompt(self, prompt: str, system: str) -> str:
        """``prompt`` (and ``system``) through the GGUF's chat template, or as plain text.

        Raises:
            UsageError: ``chat=true`` but the GGUF has no chat template.
        """
        if not self._chat:
            return f"{system}\n\n{prompt}" if system else prompt
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            template = self.llm.metadata.get("tokenizer.chat_template")
            if not template:
                raise UsageError("this GGUF has no chat template (tokenizer.chat_template)",
                                 self._path, hint="drop ?chat=true for a base model")
            model = self.llm._model
            eos, bos = self.llm.token_eos(), self.llm.token_bos()
            self._formatter = Jinja2ChatFormatter(
                template, model.token_get_text(eos) if eos != -1 else "",
                model.token_get_text(bos) if bos != -1 else "")
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": prompt}]
        text = str(self._formatter(messages=messages).prompt)
        bos_text = self._formatter.bos_token
        # A tokenizer that adds the BOS token itself must not get it twice.
        adds_bos = bool(self.llm.tokenize(b"", add_bos=True, special=True))
        if adds_bos and bos_text and text.startswith(bos_text):
            return text[len(bos_text):]
        return text

    def score(self, request: ScoreRequest) -> ScoreResponse:
        """Summed log-probability of each continuation's tokens after the prompt."""
        with self._lock:
            prompt = self._tokens(self._chat_prompt(request.prompt, request.system), bos=True)
            # In a chat the answer opens the assistant turn: no separating space.
            conts = [self._tokens(c[1:] if self._chat and c.startswith(" ") else c, bos=False)
                     for c in request.continuations]
            if any(not c for c in conts):
                raise UsageError("a label tokenizes to nothing; labels must be non-empty")
            self.window.check(replace(request, prompt=self._chat_prompt(request.prompt,
                                                                        request.system)),
                              self.count_tokens)
            if self._scorer is None:
                self._scorer = LabelScorer(self.llm, self._n_ctx)
            out = self._scorer.score(prompt, conts)
            return ScoreResponse(tuple(out), tuple(len(c) for c in conts), len(prompt))

    def generate(self, request: GenRequest) -> GenResponse:
        """Greedy (or sampled, seeded) completion, cut at the earliest stop string."""
        with self._lock:
            text = self._chat_prompt(request.prompt, request.system)
            self.window.check(replace(request, prompt=text), self.count_tokens)
            grammar = self._grammar(request.constraint) if request.constraint else None
            res: Any = self.llm.create_completion(
                text, max_tokens=request.max_tokens,
                temperature=request.temperature, stop=list(request.stop) or None,
                seed=request.seed, top_k=0 if request.temperature == 0 else 40,
                grammar=grammar)
            choice = res["choices"][0]
            usage = res["usage"]
            return stop_at(GenResponse(choice["text"], int(usage["prompt_tokens"]),
                                       int(usage["completion_tokens"]),
                                       str(choice.get("finish_reason") or "stop")),
                           request.stop)

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` by the model's tokenizer (no BOS)."""
        return len(self._tokens(text, bos=False))

    def close(self) -> None:
        """Free the model."""
        if self._scorer is not None:
            self._scorer.close()
        if self._llm is not None:
            self._llm.close()


def create(spec: ModelSpec, options: BackendOptions) -> EmbeddedBackend:
    """Build the embedded backend: ``embedded``, ``embedded:q8_0`` or ``embedded:PATH.gguf``.

    The option ``n_ctx`` (``embedded?n_ctx=8192``) sets the context size, up to
    the model's trained context length read from the GGUF header;
    ``?chat=true`` uses the GGUF's chat template (an instruct model).

    Raises:
        UsageError: An unknown option, a bad ``n_ctx`` or ``chat``, a missing file.
    """
    name, _, query = spec.model.partition("?")
    opts = spec_options(query, ("n_ctx", "chat"), "embedded")
    if opts.get("chat", "false") not in ("true", "false"):
        raise UsageError(f"embedded: bad option chat={opts['chat']!r} in model spec",
                         hint="embedded[:MODEL]?chat=true|false")
    chat = opts.get("chat") == "true"
    path, digest = resolve_embedded(name)
    base = f"embedded:{name}" if name else "embedded"
    supported = gguf_context_length(path)
    n_ctx = n_ctx_option(opts.get("n_ctx"), options.n_ctx, supported, base)
    window = ContextWindow(n_ctx, supported, base)
    adapter = None
    if spec.adapter:
        adapter = Path(spec.adapter).expanduser()
        if not adapter.is_file():
            raise UsageError(f"adapter file not found: {adapter}")
    return EmbeddedBackend(path, digest, adapter, options, window, chat=chat)

"""Session: a conversation with one base model and one persistent KV cache; turns, generate, fork, invoke."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from .chat import Message, conversation_ids, generation_prompt_ids, turn_ids
from .decoding import GenerationConfig, ScoreRequest
from .display import SessionView
from .errors import ContextWindowExceededError, InvalidArgumentError
from .intrinsic import ChoiceOutput, Intrinsic, JsonOutput, ScoreOutput, resolve
from .invocation import conversation_documents, invocation_tokens
from .model import Model
from .parsing import IntrinsicResult, InvokeStats, combine_items, parse_choice, parse_json, parse_score


@dataclass
class SessionStats:
    """Running totals: how many tokens were served from cache versus computed."""

    computed_tokens: int = 0  # tokens run through the model (turns, generation, intrinsics)
    reused_tokens: int = 0  # cached tokens that intrinsic calls and generations did not recompute
    invocations: int = 0
    generated_tokens: int = 0


class Session:
    """A conversation whose base-model cache is kept and extended turn by turn.

    Example::

        s = Session(model, system="You are terse.")
        s.user("Where is the Eiffel tower?")
        s.generate(max_new_tokens=32)              # -> "In Paris, France."
        s.invoke("certainty").value                # -> 0.83, the cache is untouched
    """

    def __init__(
        self,
        model: Model,
        system: str | None = None,
        *,
        generation: GenerationConfig | None = None,
        truncation: Literal["error", "drop_oldest"] = "error",
    ) -> None:
        if truncation not in ("error", "drop_oldest"):
            raise InvalidArgumentError(f"truncation must be 'error' or 'drop_oldest', got {truncation!r}")
        self.model = model
        self.generation = generation or GenerationConfig()
        self.truncation = truncation  # what to do when a turn would not fit the context window
        self.stats = SessionStats()
        self._cache = model.backend.new_cache()  # a SessionCache in process, a slot's branch on a server
        self._messages: list[Message] = []
        self._ids: list[int] = []  # token ids held by the cache, in order
        self._turn_ends: list[int] = []  # len(self._ids) after each message
        if system is not None:
            self.system(system)

    # -- state --------------------------------------------------------------------------------
    @property
    def transcript(self) -> list[Message]:
        """The conversation so far (a copy; messages are immutable)."""
        return list(self._messages)

    @property
    def documents(self) -> list[str]:
        """The documents of the latest turn that carries documents ([] when none does)."""
        return conversation_documents(self._messages)

    @property
    def token_ids(self) -> list[int]:
        """The ids the cache holds (a copy)."""
        return list(self._ids)

    def __len__(self) -> int:
        """Number of tokens in the conversation."""
        return len(self._ids)

    def __repr__(self) -> str:
        return f"<Session: {len(self._messages)} turns, {len(self._ids)} tokens cached>"

    def __rich__(self):
        """A table of the turns, the tokens cached and the adapters loaded (``rich.print(s)``)."""
        return self._view().__rich__()

    def _repr_html_(self) -> str:
        """The same table in a Jupyter notebook."""
        return self._view()._repr_html_()

    def _view(self) -> SessionView:
        starts = [0, *self._turn_ends[:-1]]
        turns = [
            (m.role, m.content + (f" [+{len(m.documents)} document(s)]" if m.documents else ""), end - start)
            for m, start, end in zip(self._messages, starts, self._turn_ends)
        ]
        adapters = sorted({name.split("@")[0] for name in self.model.adapters})  # name@fingerprint
        return SessionView(turns, len(self._ids), self.stats.invocations, self.stats.reused_tokens, adapters)

    @contextmanager
    def _transaction(self):
        """Undo every change if the body raises (errors, KeyboardInterrupt, closed generators)."""
        saved = (
            list(self._messages),
            list(self._ids),
            list(self._turn_ends),
            self._cache,
            self._cache.length,
        )
        stats = SessionStats(**vars(self.stats))
        try:
            yield
        except BaseException:
            self._messages, self._ids, self._turn_ends, self._cache, length = saved
            self._cache.rollback(length)
            self.stats = stats
            raise

    def _extend(self, ids: list[int]) -> None:
        """Prefill ``ids`` into the cache (base weights)."""
        if ids:
            self.model.backend.prefill(self._cache, ids)
            self._ids += ids
            self.stats.computed_tokens += len(ids)

    def _check_fits(self, extra: int, what: str) -> None:
        limit = self.model.max_context
        if len(self._ids) + extra > limit:
            raise ContextWindowExceededError(
                f"{what} needs {extra} more tokens but the conversation already holds "
                f"{len(self._ids)} of the model's {limit}; nothing was changed. Start a new "
                "session, shorten the input, or use Session(..., truncation='drop_oldest')."
            )

    def _make_room(self, extra: int, what: str) -> bool:
        """Apply the truncation policy, then fail early if ``extra`` tokens still do not fit.

        Returns whether turns were dropped (the caller's token ids may then be stale).
        """
        limit = self.model.max_context
        if self.truncation != "drop_oldest" or len(self._ids) + extra <= limit:
            self._check_fits(extra, what)
            return False
        # drop the oldest non-system turns (never the last one) until it fits; count tokens
        # by tokenising only, then recompute the cache once: positions of every kept token change
        kept = list(self._messages)
        while len(conversation_ids(self.model.tokenizer, kept)) + extra > limit:
            index = next((i for i, m in enumerate(kept[:-1]) if m.role != "system"), None)
            if index is None:
                break
            del kept[index]
        if len(kept) == len(self._messages):
            self._check_fits(extra, what)
            return False
        self._rebuild(kept)
        self._check_fits(extra, what)
        return True

    def _rebuild(self, messages: list[Message]) -> None:
        """Recompute the cache from ``messages`` in one prefill (truncation policy and load)."""
        ids: list[int] = []
        ends: list[int] = []
        for i, message in enumerate(messages):
            ids += turn_ids(self.model.tokenizer, messages[:i], message)
            ends.append(len(ids))
        self._cache = self.model.backend.new_cache()
        self._messages, self._ids, self._turn_ends = [], [], []
        self._check_fits(len(ids), "the conversation")
        self._extend(ids)
        self._messages, self._turn_ends = list(messages), ends

    # -- turns --------------------------------------------------------------------------------
    def _append_turn(self, message: Message) -> None:
        ids = turn_ids(self.model.tokenizer, self._messages, message)
        if self._make_room(len(ids), f"the {message.role} turn"):
            ids = turn_ids(self.model.tokenizer, self._messages, message)  # history was truncated
        self._extend(ids)
        self._messages.append(message)
        self._turn_ends.append(len(self._ids))

    def _add(self, role: str, content: str, documents: list[str] | None = None) -> Session:
        if not isinstance(content, str):
            raise InvalidArgumentError(f"{role} turn content must be str, got {type(content).__name__}")
        if documents is not None and (
            isinstance(documents, str) or not all(isinstance(d, str) for d in documents)
        ):
            raise InvalidArgumentError("documents must be a list of str (one string per document)")
        with self._transaction():
            self._append_turn(Message(role=role, content=content, documents=tuple(documents or ())))
        return self

    def system(self, content: str) -> Session:
        """Append a system turn (usually first) without generating."""
        return self._add("system", content)

    def user(self, content: str, documents: list[str] | None = None) -> Session:
        """Append a user turn; only its new tokens are prefilled.

        ``documents`` (RAG) are part of the turn: read once, with base weights, by the answer and
        by every intrinsic that reads the conversation's documents (``documents_from: conversation``).
        """
        return self._add("user", content, documents)

    def assistant(self, content: str) -> Session:
        """Append an assistant turn without generating (to replay a stored conversation)."""
        return self._add("assistant", content)

    def undo(self) -> Message:
        """Remove the last turn (O(1): the cache is rolled back, not recomputed)."""
        if not self._messages:
            raise InvalidArgumentError("nothing to undo: the session is empty")
        message = self._messages.pop()
        self._turn_ends.pop()
        keep = self._turn_ends[-1] if self._turn_ends else 0
        del self._ids[keep:]
        self._cache.rollback(keep)
        return message

    # -- generation ---------------------------------------------------------------------------
    def generate(
        self,
        max_new_tokens: int | None = None,
        *,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> str:
        """Generate the assistant's reply with the base model and append it as a turn."""
        return "".join(self.stream(max_new_tokens, temperature=temperature, top_p=top_p, seed=seed))

    def stream(
        self,
        max_new_tokens: int | None = None,
        *,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
    ) -> Iterator[str]:
        """Like :meth:`generate`, yielding text pieces as they are decoded.

        The turn is committed when the stream is exhausted; closing it early (or an
        exception) leaves the session exactly as before the call.
        """
        config = self.generation.updated(
            max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed
        )
        if not self._messages:
            raise InvalidArgumentError(
                "the conversation is empty: add a turn (s.user(...)) before generating"
            )
        tokenizer = self.model.tokenizer
        with self._transaction():
            prompt = generation_prompt_ids(tokenizer, self._messages)
            if self._make_room(len(prompt) + config.max_new_tokens + 2, "generation"):
                prompt = generation_prompt_ids(tokenizer, self._messages)
            reused = len(self._ids)
            self._cache.reserve(len(prompt) + config.max_new_tokens + 2)
            tokens = self.model.backend.tokens(self._cache, prompt, config, self.model.eos_ids)
            generated: list[int] = []
            emitted = ""
            self._ids += prompt
            with closing(tokens):  # a server backend's stream is closed at once, not when collected
                for token in tokens:
                    generated.append(token)
                    if token in self.model.eos_ids:
                        break
                    text = tokenizer.decode(generated, skip_special_tokens=True)
                    if not text.endswith("\ufffd"):  # wait for the rest of a multi-byte character
                        yield text[len(emitted) :]
                        emitted = text
            text = tokenizer.decode(
                [t for t in generated if t not in self.model.eos_ids], skip_special_tokens=True
            )
            if text != emitted:
                yield text[len(emitted) :]
            fed = generated[:-1]  # the loop feeds every token but the last
            self._ids += fed
            self.stats.computed_tokens += len(prompt) + len(fed)
            self.stats.generated_tokens += len(generated)
            self.stats.reused_tokens += reused
            self._commit_assistant(prompt_start=reused, text=text)

    def _commit_assistant(self, prompt_start: int, text: str) -> None:
        """Make the cache hold exactly the canonical tokens of the new assistant turn."""
        message = Message(role="assistant", content=text)
        canonical = self._ids[:prompt_start] + turn_ids(self.model.tokenizer, self._messages, message)
        common = 0
        limit = min(len(canonical), len(self._ids))
        while common < limit and canonical[common] == self._ids[common]:
            common += 1
        del self._ids[common:]
        self._cache.rollback(common)
        self._extend(canonical[common:])
        self._messages.append(message)
        self._turn_ends.append(len(self._ids))

    # -- branching ---------------------------------------------------------------------------
    def fork(self) -> Session:
        """An independent session sharing this one's prefix; O(1), no tensor copy.

        A subclass forks into its own type, its own attributes copied shallowly.
        """
        child = type(self).__new__(type(self))
        child.__dict__.update(vars(self))  # model, settings and a subclass's fields
        child.stats = SessionStats()
        child._cache = self._cache.fork()
        child._messages, child._ids, child._turn_ends = (
            list(self._messages),
            list(self._ids),
            list(self._turn_ends),
        )
        return child

    # -- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path, *, include_cache: bool = False) -> Path:
        """Write transcript and settings (and the cache, if asked) to ``path`` atomically.

        The file is safetensors with a checksum; see :mod:`alora_chain.persistence`.
        """
        from . import persistence

        return persistence.save(self, path, include_cache=include_cache)

    @classmethod
    def load(cls, path: str | Path, model: Model) -> Session:
        """Read a file written by :meth:`save`; without a saved cache it is recomputed.

        Raises ``SessionStateError`` for a truncated, modified or other-version file, or a
        saved cache that belongs to another model; never returns a half-loaded session.
        """
        from . import persistence

        return persistence.load(path, model, cls)

    # -- intrinsics --------------------------------------------------------------------------
    def invoke(self, intrinsic: Intrinsic | str | Path, **arguments: Any) -> IntrinsicResult:
        """Run an intrinsic on a fork of the cache; the session is unchanged afterwards.

        The template's instruction turn is appended with base weights, then the invocation
        sequence and the output run with the adapter, whose offset is the invocation's
        position (known here, never searched for in the text). A ``per_item`` intrinsic does
        this once per item of its list argument and combines the verdicts (``intrinsic.PerItem``).
        """
        spec = resolve(intrinsic)
        arguments = self._documents_for(spec, arguments)
        self._check_documents(spec, arguments)
        if spec.per_item is not None:
            return self._counted(self._invoke_per_item(spec, arguments))
        return self._counted(self._invoke_once(spec, arguments))

    def _documents_for(self, spec: Intrinsic, arguments: dict[str, Any]) -> dict[str, Any]:
        """The conversation's documents, for an intrinsic whose template renders a ``documents``
        argument that the call leaves out. Its template reads them again after the invocation (the
        built-ins do: their adapters were trained so); ``documents_from: conversation`` reads them
        from the cache instead."""
        renders = spec.documents_from == "arguments" and spec.arguments.get("documents") == "list[str]"
        if renders and "documents" not in arguments and self.documents:
            return {**arguments, "documents": self.documents}
        return arguments

    def _check_documents(self, spec: Intrinsic, arguments: dict[str, Any]) -> None:
        """An intrinsic that reads the conversation's documents needs some there, or in the call."""
        if "documents" in spec.optional_arguments and "documents" not in arguments and not self.documents:
            raise InvalidArgumentError(
                f"intrinsic {spec.name!r} reads the conversation's documents, and this conversation "
                "has none: pass them with the question (s.user(question, documents=docs)) or to "
                f"this call (s.invoke({spec.name!r}, documents=docs))"
            )

    def _invoke_per_item(self, spec: Intrinsic, arguments: dict[str, Any]) -> IntrinsicResult:
        """One call per item of the ``per_item`` argument (rows of one batched forward); verdicts combined."""
        spec.check_arguments(arguments)
        started = time.perf_counter()
        name = spec.per_item.argument
        calls = [(spec, {**arguments, name: [item]}) for item in arguments[name]]
        if spec.adapter_kind == "alora" and len(calls) > 1:
            items = self._score_together(calls)  # a row per item, one batched forward
        else:  # a standard LoRA recomputes the history for each item anyway
            items = [self._invoke_once(spec, item_arguments) for _, item_arguments in calls]
        item_scores = [item.score for item in items]
        verdict = combine_items(spec.output, item_scores, spec.per_item.combine)
        stats = InvokeStats(
            # every item reads the same history in place: it is reused once, not once per item
            reused_tokens=max((item.stats.reused_tokens for item in items), default=0),
            new_tokens=sum(item.stats.new_tokens for item in items),
            adapter_tokens=sum(item.stats.adapter_tokens for item in items),
            seconds=time.perf_counter() - started,
        )
        return IntrinsicResult.from_verdict(spec.name, verdict, stats, item_scores)

    def _invoke_once(self, spec: Intrinsic, arguments: dict[str, Any]) -> IntrinsicResult:
        started = time.perf_counter()
        adapter = spec.bind(self.model)
        tokens = invocation_tokens(self.model.tokenizer, spec, self._messages, arguments, self._ids)
        shared = _common_length(tokens.history, self._ids)  # less than the history: other documents
        suffix = tokens.history[shared:] + tokens.prompt + tokens.invocation
        output = spec.output
        budget = getattr(
            output, "max_new_tokens", max((len(s) for s in self._label_sequences(spec)), default=0)
        )
        self._check_fits(len(suffix) - (len(self._ids) - shared) + budget, f"intrinsic {spec.name!r}")
        if spec.adapter_kind == "lora":
            # a standard LoRA changes every token's keys and values: recompute the whole history
            work, suffix, reused = self.model.backend.new_cache(), tokens.all, 0
        else:
            work, reused = self._cache.fork(), shared
            work.rollback(shared)  # a length change: the fork's own view ends where the tail starts
        start = work.length
        try:
            work.reserve(len(suffix) + budget + 1)
            if isinstance(output, ChoiceOutput | ScoreOutput):
                result = self._score(spec, work, suffix, len(tokens.invocation), adapter)
            else:
                result = self._decode(spec, work, suffix, len(tokens.invocation), adapter)
            new_tokens = work.length - start  # tokens this call ran through the model
        finally:
            work.release()
        stats = InvokeStats(
            reused_tokens=reused,
            new_tokens=new_tokens,
            adapter_tokens=new_tokens if spec.adapter_kind == "lora" else new_tokens - (len(suffix) - len(tokens.invocation)),
            seconds=time.perf_counter() - started,
        )
        return IntrinsicResult.from_verdict(spec.name, result, stats)

    def invoke_many(
        self, calls: list[tuple[Intrinsic | str | Path, dict[str, Any]]]
    ) -> list[IntrinsicResult]:
        """Run several intrinsics on the conversation as it is; results in the order of ``calls``.

        The one-pass ones (``choice``/``score`` outputs with an aLoRA adapter) share ONE
        forward over a fork of the cache: a row each, with its own adapter (PEFT mixed-adapter
        batch), all reading the session's history in place; the start their prompt turns have
        in common (e.g. the same documents) runs once, before the rows. Their results equal separate
        :meth:`invoke` calls within float tolerance; ``stats.seconds`` is the shared batch's
        time. Others (text/json, standard LoRA, per-item) run one after another through :meth:`invoke`.

        Example: ``s.invoke_many([("answerability", {"documents": docs}), ("certainty", {})])``
        """
        results: list[IntrinsicResult | None] = [None] * len(calls)
        together: list[tuple[int, Intrinsic, dict[str, Any]]] = []  # index, spec, arguments
        for index, (intrinsic, arguments) in enumerate(calls):
            spec = resolve(intrinsic)
            arguments = self._documents_for(spec, arguments)
            self._check_documents(spec, arguments)  # the batched calls skip invoke(), which checks it
            one_pass = isinstance(spec.output, ChoiceOutput | ScoreOutput) and spec.per_item is None
            # other documents than the conversation's re-read a tail of it: a call of its own
            reads_tail = "documents" in spec.optional_arguments and "documents" in arguments
            if spec.adapter_kind != "alora" or not one_pass or reads_tail:
                results[index] = self.invoke(spec, **arguments)
            else:
                together.append((index, spec, dict(arguments)))
        if len(together) == 1:
            index, spec, arguments = together[0]
            results[index] = self.invoke(spec, **arguments)
        elif together:
            scored = self._score_together([(spec, arguments) for _, spec, arguments in together])
            for (index, _, _), result in zip(together, scored):
                results[index] = self._counted(result)
        return results

    def _score_together(self, calls: list[tuple[Intrinsic, dict[str, Any]]]) -> list[IntrinsicResult]:
        """One-pass aLoRA calls in ONE batched forward over a fork: a row each (see invoke_many)."""
        batch: list[tuple[Intrinsic, ScoreRequest, int]] = []  # spec, row, prompt tokens
        for spec, arguments in calls:
            adapter = spec.bind(self.model)
            tokens = invocation_tokens(self.model.tokenizer, spec, self._messages, arguments, self._ids)
            labels = self._label_sequences(spec)
            request = ScoreRequest(tokens.prompt + tokens.invocation, labels, adapter, len(tokens.invocation))
            self._check_fits(len(request.prefix) + max(map(len, labels)), f"intrinsic {spec.name!r}")
            batch.append((spec, request, len(tokens.prompt)))
        started = time.perf_counter()
        work = self._cache.fork()
        try:
            rows = [row for _, row, _ in batch]
            shared = _shared_prompt_length([row.prefix[:n_prompt] for _, row, n_prompt in batch])
            if shared:  # base weights: run once on the fork, every row reads it like history
                self.model.backend.prefill(work, rows[0].prefix[:shared])
                rows = [replace(row, prefix=row.prefix[shared:]) for row in rows]
            all_logprobs = self.model.backend.score(work, rows)
        finally:
            work.release()
        seconds = time.perf_counter() - started
        results = []
        for (spec, request, n_prompt), logprobs in zip(batch, all_logprobs):
            new_tokens = len(request.prefix) + len(
                {tuple(c[: i + 1]) for c in request.candidates for i in range(len(c))}
            )
            results.append(self._scored_result(spec, logprobs, new_tokens, n_prompt, seconds))
        return results

    def _scored_result(self, spec, logprobs, new_tokens, n_prompt, seconds) -> IntrinsicResult:
        stats = InvokeStats(
            reused_tokens=len(self._ids),
            new_tokens=new_tokens,
            adapter_tokens=new_tokens - n_prompt,
            seconds=seconds,
        )
        return IntrinsicResult.from_verdict(spec.name, self._parse_scores(spec, logprobs), stats)

    def _counted(self, result: IntrinsicResult) -> IntrinsicResult:
        """Add one finished ``invoke`` to the session's running totals (a per-item call counts once)."""
        self.stats.invocations += 1
        self.stats.reused_tokens += result.stats.reused_tokens
        self.stats.computed_tokens += result.stats.new_tokens
        return result

    def _label_sequences(self, spec: Intrinsic) -> list[list[int]]:
        return spec.label_sequences(self.model.tokenizer, self.model.end_of_turn_id)

    def _score(self, spec, fork, suffix, n_invocation, adapter):
        request = ScoreRequest(suffix, self._label_sequences(spec), adapter, n_invocation)
        return self._parse_scores(spec, self.model.backend.score(fork, [request])[0])

    def _parse_scores(self, spec, logprobs):
        if isinstance(spec.output, ChoiceOutput):
            value, score, raw, probs = parse_choice(spec.output, logprobs)
        else:
            value, raw, probs = parse_score(spec.output, logprobs)
            score = value
        return value, score, raw, probs

    def _decode(self, spec, fork, suffix, n_invocation, adapter):
        config = GenerationConfig(max_new_tokens=spec.output.max_new_tokens)
        stop = self.model.eos_ids
        generated = list(
            self.model.backend.tokens(fork, suffix, config, stop, adapter=adapter, adapter_tokens=n_invocation)
        )
        raw = self.model.tokenizer.decode(
            [t for t in generated if t not in stop], skip_special_tokens=True
        ).strip()
        value = parse_json(spec.output, raw) if isinstance(spec.output, JsonOutput) else raw
        return value, None, raw, None


def _common_length(a: list[int], b: list[int]) -> int:
    """Length of the common start of two id lists."""
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def _shared_prompt_length(prompts: list[list[int]]) -> int:
    """Leading tokens all ``prompts`` have in common.

    The prompt turns of one-pass intrinsics run on base weights (the aLoRA adapter starts at
    the invocation), so a common start, such as the same documents handed to answerability and
    groundedness, is computed once for the whole batch instead of once per row.
    """
    shortest = min(map(len, prompts))
    for i in range(shortest):
        if any(p[i] != prompts[0][i] for p in prompts[1:]):
            return i
    return shortest

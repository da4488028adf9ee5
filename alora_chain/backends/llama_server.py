"""The llama-server backend: a Session's operations as /completion requests to llama.cpp's server.

The session's token ids are the truth; a server slot only caches them. Every request sends the
whole branch (history + suffix) with ``cache_prompt``, and the server evaluates only what its
slot does not hold yet. So a fork is a copy of an id list (O(1)) on its parent's slot, a server
that died loses nothing (the next request prefills the transcript again), and what a slot holds
decides only speed, except for keys and values an adapter left there (below).

Two things about llama.cpp's aLoRA handling decide how requests are made (read in b11434's
``tools/server/server-context.cpp``):

- An aLoRA request keeps the slot's cache only up to one token before its invocation, and runs
  the adapter from there on: that token and everything after it are the adapter's in the slot.
  A later base request whose prompt runs on past that point would reuse keys and values the
  adapter computed, so the backend first cuts the slot back (one small request; ``_before``).
  A standard LoRA covers every token: the same holds from position 0.
- Scores come from ``n_probs``: the probability the server reports for the sampled token is
  read from the raw logits before any sampler, so forcing a label token with ``logit_bias``
  gives its exact probability. One request per node of the labels' token trie, less the nodes
  an earlier request's top-20 list already gave (``yes``/``no`` + end of turn: 3 requests).
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..decoding import GenerationConfig, ScoreRequest
from ..errors import BackendError, ContextWindowExceededError, NotSupportedError

_TOP = 20  # n_probs per scoring request: labels that share a branching point usually all show up


class ServerBranch:
    """One conversation's (or fork's) tokens on the server, with the slot that caches them.

    Quacks like ``SessionCache`` for what a Session does with a cache: length, reserve,
    rollback, fork, release.
    """

    def __init__(self, backend: LlamaServerBackend, slot: int, ids: list[int] | None = None) -> None:
        self.backend = backend
        self.slot = slot
        self.ids: list[int] = ids or []

    @property
    def length(self) -> int:
        return len(self.ids)

    def reserve(self, extra: int) -> None:
        """Nothing to preallocate: the server owns the memory."""

    def rollback(self, length: int) -> None:
        if not 0 <= length <= len(self.ids):
            raise ValueError(f"cannot roll back to {length}: branch holds {len(self.ids)} tokens")
        del self.ids[length:]

    def fork(self) -> ServerBranch:
        """Same slot: switching between parent and child re-evaluates only where they differ."""
        return ServerBranch(self.backend, self.slot, list(self.ids))

    def release(self) -> None:
        self.ids = []

    def __len__(self) -> int:  # SessionCache's length is its layer count, which persistence asks for
        return self.key_values(0)

    def key_values(self, layer: int):
        raise NotSupportedError(
            "a llama-server session keeps its keys and values on the server: save it without the "
            "cache (s.save(path)); Session.load prefills the transcript again"
        )


@dataclass
class _Slot:
    """What the backend knows a server slot holds (a guess after a restart, which is safe)."""

    tokens: list[int] = field(default_factory=list)  # the last prompt it ran
    adapter_from: int | None = None  # tokens from here on were computed by an adapter
    lock: threading.Lock = field(default_factory=threading.Lock)


class LlamaServerBackend:
    """Runs a Session's operations on a llama-server at ``url``; see the module docstring."""

    name = "llama-server"

    def __init__(
        self,
        url: str,
        n_slots: int,
        adapter_ids: dict[str, int],
        process=None,
        encode: Callable[[str], list[int]] | None = None,
        timeout: float = 600.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.adapter_ids = adapter_ids  # Model adapter name -> the server's lora id
        self.invocations: dict[str, tuple[int, ...] | None] = {}  # adapter name -> aLoRA invocation ids
        self.process = process  # the ServerProcess we started, restarted when found dead; None for url=
        self.encode = encode  # text -> token ids (the Model's tokenizer), for pieces streamed without ids
        self.timeout = timeout
        self.slots = [_Slot() for _ in range(n_slots)]
        self._next_slot = itertools.count()
        self._restart_lock = threading.RLock()

    def restart(self) -> None:
        """Start our server again (it died, or has new adapters); branches re-prefill on their next request."""
        with self._restart_lock:
            self.process.start()
            self.url = self.process.url
            for slot in self.slots:  # a new process holds nothing; per-slot locks stay the same objects
                slot.tokens, slot.adapter_from = [], None

    def _revive(self) -> None:
        if self.process is not None and not self.process.alive():
            with self._restart_lock:  # one thread restarts it; the others find it alive
                if not self.process.alive():
                    self.restart()

    # -- the four operations a Session needs -----------------------------------------------------
    def new_cache(self) -> ServerBranch:
        """A branch on the next slot, round robin: sessions on different slots run in parallel."""
        return ServerBranch(self, next(self._next_slot) % len(self.slots))

    def prefill(self, cache: ServerBranch, ids: list[int]) -> None:
        prompt = cache.ids + ids
        self._complete(cache.slot, prompt, {"n_predict": 0})
        cache.ids = prompt

    def tokens(
        self,
        cache: ServerBranch,
        ids: list[int],
        config: GenerationConfig,
        stop: frozenset[int],
        *,
        adapter: str | None = None,
        adapter_tokens: int | None = None,
    ) -> Iterator[int]:
        """Yield the tokens the server generates after ``cache`` + ``ids`` (streamed).

        As with ``decoding.decode`` the stop token is yielded last, and every token before it is
        added to the branch.
        """
        prompt = cache.ids + ids
        options = {"n_predict": config.max_new_tokens, **_sampling(config), "stream": True}
        options |= self._adapter(adapter, prompt, adapter_tokens)
        cache.ids = prompt
        last, produced = None, 0
        for event in self._stream(cache.slot, prompt, options):
            ids = event.get("tokens", [])
            predicted = event.get("tokens_predicted", produced + len(ids))
            if predicted > produced + len(ids) and event.get("content") and self.encode is not None:
                # a character split over several tokens is held back and then streamed as its whole
                # text with the last token's id only: take the text's own ids (they decode to it)
                ids = self.encode(event["content"])
            produced = max(produced, predicted)
            for token in ids:
                if last is not None:
                    cache.ids.append(last)
                last = token
                yield token
            if event.get("stop") and event.get("stop_type") == "eos" and (last is None or last not in stop):
                # the server drops the end-of-turn token it stopped on; the loop in Session expects it
                if last is not None:
                    cache.ids.append(last)
                last = min(stop)
                yield last

    def score(self, cache: ServerBranch, requests: list[ScoreRequest]) -> list[list[float]]:
        """Each candidate's total log-probability: one request per trie node no earlier top-20 list gave."""
        results, history = [], list(cache.ids)
        for request in requests:  # rows of invoke_many: one after another, each with its adapter
            prefix = history + request.prefix
            adapter = self._adapter(request.adapter, prefix, request.adapter_prefix_tokens)
            logprob: dict[tuple[int, ...], float] = {}  # candidate prefix -> log p(its last token | rest)
            for candidate in request.candidates:
                for depth in range(len(candidate)):
                    path = tuple(candidate[: depth + 1])
                    if path not in logprob:
                        logprob |= self._next_token_logprobs(cache.slot, prefix + list(path[:-1]), path, adapter)
            results.append([sum(logprob[tuple(c[: d + 1])] for d in range(len(c))) for c in request.candidates])
            # as long as a torch fork after scoring (prefix + one token per trie node), so that
            # IntrinsicResult.stats count the same tokens on both backends; the fork is dropped next
            nodes = {tuple(c[: d + 1]) for c in request.candidates for d in range(len(c))}
            cache.ids = prefix + [path[-1] for path in sorted(nodes)]
        return results

    # -- requests ---------------------------------------------------------------------------------
    def _next_token_logprobs(self, slot: int, prompt: list[int], path: tuple[int, ...], adapter: dict) -> dict:
        """log p(path[-1] | prompt), exact (forced with logit_bias), plus the other tokens in the top list."""
        forced = path[-1]
        options = {"n_predict": 1, "n_probs": _TOP, "temperature": 0, "logit_bias": [[forced, 1e4]]} | adapter
        reply = self._complete(slot, prompt, options)
        step = reply["completion_probabilities"][0]
        if step["id"] != forced:
            raise BackendError(f"llama-server did not sample the forced token {forced} (got {step['id']})")
        found = {path: step["logprob"]}
        for other in step.get("top_logprobs", []):
            found.setdefault((*path[:-1], other["id"]), other["logprob"])
        return found

    def _adapter(self, adapter: str | None, prompt: list[int], adapter_tokens: int | None) -> dict:
        """Request options that run ``adapter`` on the last ``adapter_tokens`` of ``prompt``.

        ``_start`` (where the adapter starts: the invocation for an aLoRA, 0 for a standard LoRA,
        which runs on every token) stays on this side. llama-server clears a slot when a request
        switches to a standard LoRA, but not when a base request (one without ``lora``) follows it.
        """
        if adapter is None:
            return {}
        if adapter not in self.adapter_ids:
            raise NotSupportedError(
                f"the llama-server has no adapter {adapter.split('@')[0]!r} (it has "
                f"{sorted(a.split('@')[0] for a in self.adapter_ids)}): start it with that adapter exported "
                "(`alora-chain export-gguf NAME` and --lora FILE), or load_model(backend='llama-server'), "
                "which exports what it needs"
            )
        options = {"lora": [{"id": self.adapter_ids[adapter], "scale": 1.0}], "_start": 0}
        invocation = self.invocations.get(adapter)
        if invocation:
            start = len(prompt) - adapter_tokens
            if _last_occurrence(prompt, invocation) != start:
                # llama-server starts an aLoRA at the LAST occurrence of its invocation tokens
                raise NotSupportedError(
                    f"the text of this {adapter.split('@')[0]!r} call repeats its invocation tokens after the "
                    "invocation; llama-server would start the adapter there. Use the torch backend for it"
                )
            options["_start"] = start
        return options

    def _request_body(self, slot: int, prompt: list[int], options: dict) -> dict:
        options = dict(options)
        options.pop("_start", None)
        return {"prompt": prompt, "id_slot": slot, "cache_prompt": True, "return_tokens": True, **options}

    def _complete(self, slot: int, prompt: list[int], options: dict) -> dict:
        state = self.slots[slot]
        with state.lock:
            self._before(slot, state, prompt, options)
            reply = self._post("/completion", self._request_body(slot, prompt, options))
            self._after(state, prompt, options)
        return reply

    def _stream(self, slot: int, prompt: list[int], options: dict) -> Iterator[dict]:
        state = self.slots[slot]
        with state.lock:
            self._before(slot, state, prompt, options)
            response = self._open("/completion", self._request_body(slot, prompt, options))
            finished = False
            with response:
                try:
                    for line in response:
                        if line.startswith(b"data: "):
                            event = json.loads(line[6:])
                            if "error" in event:
                                _raise_for(event["error"])
                            finished = bool(event.get("stop"))
                            yield event
                except (OSError, http.client.HTTPException) as exc:
                    raise BackendError(f"llama-server at {self.url} broke off a stream: {exc!r}") from exc
            if not finished:
                raise BackendError(f"llama-server at {self.url} ended a stream without finishing it (did it die?)")
            self._after(state, prompt, options)

    def _before(self, slot: int, state: _Slot, prompt: list[int], options: dict) -> None:
        """Cut the slot back where the request would reuse tokens an adapter computed, then note
        (before the request, in case it fails half way) where this one's adapter starts."""
        adapted = options.get("_start") is not None
        # llama.cpp runs an aLoRA from one token before its invocation, recomputing from there
        first = max(0, options["_start"] - 1) if adapted else len(prompt)
        start = state.adapter_from
        if start is not None and start < first and _common(state.tokens, prompt) > start:
            # a prompt already cached: the server runs its last token again and drops what follows
            self._post("/completion", self._request_body(slot, prompt[: max(start, 1)], {"n_predict": 0}))
            state.tokens, state.adapter_from = prompt[:start], None
        if adapted:
            state.tokens, state.adapter_from = prompt, first

    @staticmethod
    def _after(state: _Slot, prompt: list[int], options: dict) -> None:
        """A base request that finished leaves a slot of base tokens only."""
        state.tokens = prompt
        if options.get("_start") is None:
            state.adapter_from = None

    def _post(self, path: str, body: dict) -> dict:
        with self._open(path, body) as response:
            try:
                return json.loads(response.read() or b"{}")
            except (OSError, http.client.HTTPException) as exc:
                raise BackendError(f"llama-server at {self.url} broke off its answer: {exc!r}") from exc

    def _open(self, path: str, body: dict):
        self._revive()
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        try:
            return urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            try:
                error = json.loads(exc.read()).get("error", {})
            except (ValueError, OSError):
                error = {"message": str(exc)}
            _raise_for(error)
        except OSError as exc:  # refused, reset, timed out: the server is down or unreachable
            raise BackendError(
                f"llama-server at {self.url} did not answer ({exc}); the session is unchanged. "
                "Start it again (a Model from load_model(backend='llama-server') restarts its own "
                "server on the next call) and repeat the call"
            ) from exc


def _raise_for(error: dict):
    message = error.get("message", str(error)) if isinstance(error, dict) else str(error)
    if isinstance(error, dict) and error.get("type") == "exceed_context_size_error":
        raise ContextWindowExceededError(
            f"llama-server: {message}; nothing was changed. Start the server with a larger -c per slot, "
            "or shorten the conversation"
        )
    raise BackendError(f"llama-server refused the request: {message}")


def _sampling(config: GenerationConfig) -> dict:
    """The torch path's sampler, on the server: greedy, or temperature + top_p (no top_k, no min_p)."""
    if config.temperature == 0:
        return {"temperature": 0, "top_k": 1}
    seed = config.seed if config.seed is not None else -1
    return {"temperature": config.temperature, "top_p": config.top_p, "top_k": 0, "min_p": 0, "seed": seed}


def _last_occurrence(tokens: list[int], pattern: tuple[int, ...]) -> int | None:
    n = len(pattern)
    return next((i for i in range(len(tokens) - n, -1, -1) if tuple(tokens[i : i + n]) == pattern), None)


def _common(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)

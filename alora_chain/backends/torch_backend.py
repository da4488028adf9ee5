"""The in-process backend: transformers + PEFT forwards on a preallocated SessionCache (the default)."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ..cache import SessionCache
from ..decoding import GenerationConfig, ScoreRequest, decode, score_candidates_many


class TorchBackend:
    """Runs a Session's operations with ``Model.forward``; caches are ``SessionCache`` objects.

    Every Session operation goes through these four methods, the seam a server backend fills
    in the same way (see ``llama_server.LlamaServerBackend``).
    """

    name = "torch"

    def __init__(self, model) -> None:
        self.model = model

    def new_cache(self) -> SessionCache:
        """An empty cache for one conversation (or one standard-LoRA call)."""
        return SessionCache.for_model(self.model.config)

    def prefill(self, cache: SessionCache, ids: list[int]) -> None:
        """Run ``ids`` on top of ``cache`` with base weights; the cache grows by ``len(ids)``."""
        cache.reserve(len(ids))
        self.model.forward(torch.tensor([ids]), cache)

    def tokens(
        self,
        cache: SessionCache,
        ids: list[int],
        config: GenerationConfig,
        stop: frozenset[int],
        *,
        adapter: str | None = None,
        adapter_tokens: int | None = None,
    ) -> Iterator[int]:
        """Run ``ids``, then yield decoded tokens as ``decoding.decode`` does (all but the last fed back).

        With an aLoRA ``adapter``, ``adapter_tokens`` is how many of the last ``ids`` it covers.
        """
        logits = self.model.forward(torch.tensor([ids]), cache, adapter=adapter, adapter_tokens=adapter_tokens)
        yield from decode(self.model, cache, logits[0, -1], config, stop, adapter=adapter)

    def score(self, cache: SessionCache, requests: list[ScoreRequest]) -> list[list[float]]:
        """Log-probability of each request's candidates after ``cache`` + its prefix (one forward)."""
        return score_candidates_many(self.model, cache, requests)

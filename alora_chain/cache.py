"""The session KV cache: preallocated storage shared by forks, O(1) fork and rollback.

Every cache that descends from one session shares one :class:`_Storage` (per layer a
``(1, kv_heads, capacity, head_dim)`` tensor for keys and one for values). A cache owns
only its per-layer lengths, so

* ``fork()`` copies a list of 30 ints: O(1) time, no tensor memory;
* ``rollback(n)`` sets the lengths: O(1);
* a write at positions ``[n, n + t)`` goes into the shared storage in place when no
  other live cache on that storage holds data beyond ``n`` (the usual case: an intrinsic
  fork writes its suffix, reads it, and is released before the parent continues).

Only when two live branches really diverge (a user fork and its parent both extended
past the fork point) does the second writer copy the prefix into storage of its own:
copy-on-divergence, never on fork. Growth doubles the capacity, so appending costs
amortised O(new tokens), not a concatenation of the whole history per token.

Example: parent at 1000 tokens -> ``child = parent.fork()`` (no copy) -> child writes
1000..1020 in place -> ``child.release()`` -> parent writes 1000.. in place again.
"""

from __future__ import annotations

import weakref

import torch
from transformers.cache_utils import Cache, CacheLayerMixin

_MIN_CAPACITY = 256


class _Storage:
    """Keys and values of every layer, preallocated, shared by a cache and its forks."""

    def __init__(self, num_layers: int) -> None:
        self.keys: list[torch.Tensor | None] = [None] * num_layers
        self.values: list[torch.Tensor | None] = [None] * num_layers
        self.capacity = 0
        self.users: weakref.WeakSet[SessionCache] = weakref.WeakSet()

    def reserve(self, needed: int) -> None:
        """Make room for ``needed`` positions; grows geometrically (amortised O(1) per token)."""
        if needed <= self.capacity:
            return
        new_capacity = max(_MIN_CAPACITY, needed, self.capacity * 2)
        for i, (k, v) in enumerate(zip(self.keys, self.values)):
            if k is not None:
                self.keys[i] = _grown(k, new_capacity)
                self.values[i] = _grown(v, new_capacity)
        self.capacity = new_capacity

    def allocate_layer(self, i: int, like: torch.Tensor) -> None:
        """First write to layer ``i``: allocate it with the shape of ``like`` (B, H, T, D)."""
        b, h, _, d = like.shape
        capacity = max(self.capacity, _MIN_CAPACITY)
        self.keys[i] = like.new_empty((b, h, capacity, d))
        self.values[i] = like.new_empty((b, h, capacity, d))
        self.capacity = capacity


def _grown(t: torch.Tensor, capacity: int) -> torch.Tensor:
    out = t.new_empty((*t.shape[:2], capacity, t.shape[3]))
    out[:, :, : t.shape[2]].copy_(t)
    return out


class _Layer(CacheLayerMixin):
    """transformers' view of one layer of a :class:`SessionCache`."""

    is_sliding = False
    is_croppable = True
    supports_early_init = False

    def __init__(self, cache: SessionCache, index: int) -> None:
        super().__init__()
        self.cache = cache
        self.index = index
        self.is_initialized = True

    def lazy_initialization(self, key_states, value_states) -> None:  # storage is lazy instead
        pass

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        return self.cache._write(self.index, key_states, value_states)

    def get_mask_sizes(self, query_length: int) -> tuple[int, int]:
        return self.cache.lengths[self.index] + query_length, 0

    def get_seq_length(self) -> int:
        return self.cache.lengths[self.index]

    def get_max_length(self) -> int:
        return -1

    def crop(self, max_length: int) -> None:
        self.cache.rollback(max_length if max_length >= 0 else self.get_seq_length() + max_length)


class SessionCache(Cache):
    """A KV cache usable as ``past_key_values`` by any transformers decoder.

    Use :meth:`fork` for a branch that shares this cache's prefix, :meth:`rollback` to
    forget the last tokens, and :meth:`release` when a temporary fork is done.
    """

    def __init__(self, num_layers: int, *, _storage: _Storage | None = None, _lengths=None) -> None:
        self.storage = _storage or _Storage(num_layers)
        self.lengths: list[int] = list(_lengths) if _lengths is not None else [0] * num_layers
        # a batched forward's rows (B, H, T, D) are stored one after another as (1, H, B*T, D);
        # the caller's 4D mask says which of them each row may see (Session.invoke_many)
        self.flat_rows = False
        super().__init__(layers=[_Layer(self, i) for i in range(num_layers)])
        self.storage.users.add(self)

    @classmethod
    def for_model(cls, config) -> SessionCache:
        return cls(config.num_hidden_layers)

    # -- the API sessions use -----------------------------------------------------------
    def __len__(self) -> int:  # transformers: number of layers
        return len(self.layers)

    @property
    def length(self) -> int:
        """Number of tokens held (the same in every layer between forwards)."""
        return self.lengths[0]

    def fork(self) -> SessionCache:
        """A new cache that sees this one's tokens and writes only its own suffix. O(1)."""
        return SessionCache(len(self.lengths), _storage=self.storage, _lengths=self.lengths)

    def rollback(self, length: int) -> None:
        """Forget every token at position >= ``length``. O(1)."""
        if not 0 <= length <= self.length:
            raise ValueError(f"cannot roll back to {length}: cache holds {self.length} tokens")
        self.lengths = [length] * len(self.lengths)

    def release(self) -> None:
        """Declare this fork finished so its parent may write over its suffix again."""
        self.storage.users.discard(self)
        self.lengths = [0] * len(self.lengths)

    def reserve(self, extra: int) -> None:
        """Preallocate room for ``extra`` more tokens (avoids a growth copy mid-call)."""
        self.storage.reserve(self.length + extra)

    def key_values(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Views (no copy) of the keys and values held for ``layer``: (1, kv_heads, T, head_dim)."""
        n = self.lengths[layer]
        k, v = self.storage.keys[layer], self.storage.values[layer]
        if k is None:
            raise ValueError("cache is empty")
        return k[:, :, :n], v[:, :, :n]

    def nbytes_shared(self) -> int:
        """Bytes of tensor storage behind this cache (shared with its forks)."""
        return sum(
            t.numel() * t.element_size() for t in self.storage.keys + self.storage.values if t is not None
        )

    # -- transformers hooks ---------------------------------------------------------------
    def _write(self, layer: int, k_new: torch.Tensor, v_new: torch.Tensor):
        if k_new.shape[0] > 1:
            if not self.flat_rows:
                raise ValueError("a SessionCache holds one row; set flat_rows for a batched forward")
            b, h, t, d = k_new.shape
            k_new = k_new.transpose(0, 1).reshape(1, h, b * t, d)  # row 0's tokens, then row 1's, ...
            v_new = v_new.transpose(0, 1).reshape(1, h, b * t, d)
        start = self.lengths[layer]
        end = start + k_new.shape[2]
        if layer == 0:
            self._prepare_write(start, end)
        storage = self.storage
        if storage.keys[layer] is None:
            storage.allocate_layer(layer, k_new)
        storage.keys[layer][:, :, start:end].copy_(k_new)
        storage.values[layer][:, :, start:end].copy_(v_new)
        self.lengths[layer] = end
        return storage.keys[layer][:, :, :end], storage.values[layer][:, :, :end]

    def _prepare_write(self, start: int, end: int) -> None:
        """Before layer 0 writes [start, end): detach from shared storage if a sibling needs it."""
        others_beyond = any(other is not self and other.length > start for other in list(self.storage.users))
        if others_beyond:
            self._detach(start)
        self.storage.reserve(end)

    def _detach(self, keep: int) -> None:
        """Copy the first ``keep`` positions into storage owned by this cache alone."""
        old = self.storage
        new = _Storage(len(self.lengths))
        new.capacity = max(_MIN_CAPACITY, keep * 2)
        for i, (k, v) in enumerate(zip(old.keys, old.values)):
            if k is None:
                continue
            new.keys[i] = _grown(k[:, :, :keep], new.capacity)
            new.values[i] = _grown(v[:, :, :keep], new.capacity)
        old.users.discard(self)
        new.users.add(self)
        self.storage = new

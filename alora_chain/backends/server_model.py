"""A Model whose forwards run on llama-server: ``load_model(backend="llama-server")`` and ``load_model(url=...)``.

The tokenizer, chat template and identity still come from the model's files here (a Session
builds every token id itself); the server only runs them. Started by us, the server gets the
embedded GGUF (or the given one) and every built-in intrinsic's adapter, exported to GGUF once
and cached by the adapter's fingerprint, so an adapter that changes is exported again.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AloraChainError, BackendError, BaseModelMismatchError, ModelLoadError, NotSupportedError
from ..model import AdapterInfo, Model, ModelIdentity, _converted_folder, embedded_gguf
from .llama_server import LlamaServerBackend
from .server_process import ServerConfig, ServerProcess


@dataclass(eq=False)
class ServerModel(Model):
    """A :class:`Model` with no weights in this process: Sessions on it talk to llama-server."""

    hf_config: object = None  # the transformers config read from the model's files (no weights)
    server: LlamaServerBackend | None = field(default=None, repr=False)
    process: ServerProcess | None = field(default=None, repr=False)  # None when connected by url
    context: int = 0  # tokens per server slot

    @property
    def config(self):
        return self.hf_config

    @property
    def max_context(self) -> int:
        return self.context

    @property
    def backend(self) -> LlamaServerBackend:
        return self.server

    @property
    def url(self) -> str:
        return self.server.url

    def load_adapter(self, name: str, folder: Path, *, invocation_ids: tuple[int, ...] | None) -> AdapterInfo:
        """Use the server's adapter for ``name``; a server we started is restarted with a new one added."""
        if name in self.adapters:
            return self.adapters[name]
        if name not in self.server.adapter_ids:
            if self.process is None:
                raise NotSupportedError(
                    f"the llama-server at {self.url} was started without the adapter of {name.split('@')[0]!r}: "
                    f"export it (`alora-chain export-gguf {folder.parent}`) and start the server with --lora FILE"
                )
            self._add_adapter(name, folder)
        self.adapters[name] = AdapterInfo(name, Path(folder), invocation_ids)
        self.server.invocations[name] = invocation_ids
        return self.adapters[name]

    def _add_adapter(self, name: str, folder: Path) -> None:
        from ..export_gguf import export_gguf
        from ..intrinsic import Intrinsic

        if not (Path(folder).parent / "intrinsic.yaml").is_file():
            raise NotSupportedError(f"adapter {folder} is not inside an intrinsic folder, so it cannot be exported")
        path = export_gguf(Intrinsic.load(Path(folder).parent), base=self.source)
        with self.lock:
            self.process.adapters.append(path)
            self.server.adapter_ids[name] = len(self.process.adapters) - 1
            self.restart()

    def restart(self) -> None:
        """Start our server again (after it died, or with new adapters); sessions re-prefill on their next call."""
        if self.process is None:
            raise BackendError(f"the llama-server at {self.url} was not started by alora_chain: restart it yourself")
        self.server.restart()

    def forward(self, *args, **kwargs):
        raise NotSupportedError("Model.forward runs torch weights; this Model's weights are on llama-server")

    def add_fresh_adapter(self, name, peft_config) -> None:
        raise NotSupportedError("training needs the torch backend: load_model() without backend=")

    def close(self) -> None:
        """Stop the server this Model started (also done when it is collected and at exit)."""
        if self.process is not None:
            self.process.stop()


def load_server_model(
    path: str | os.PathLike | None, *, url: str | None, chat_template: str | None, config: ServerConfig | None
) -> ServerModel:
    """Start llama-server for ``path`` (default: the embedded GGUF), or connect to the one at ``url``."""
    from transformers import AutoConfig, AutoTokenizer

    from .binary import find_llama_server

    source = embedded_gguf() if path is None else Path(path).expanduser()
    if url is not None and source.is_dir() and (source / "config.json").is_file():
        folder = source  # a server someone else runs: only the tokenizer and config are read here
    elif source.is_file() and source.suffix == ".gguf":
        folder = _converted_folder(source)  # the tokenizer and config, read from the same file torch reads
    else:
        raise NotSupportedError(
            f"llama-server runs a .gguf file, not {source}: convert a HF folder with llama.cpp's "
            "convert_hf_to_gguf.py, or use the torch backend (load_model(path))"
        )
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    hf_config = AutoConfig.from_pretrained(folder)
    config = config or ServerConfig()
    context = config.context or int(getattr(hf_config, "max_position_embeddings", 2048))
    model = ServerModel(
        hf=None, tokenizer=tokenizer, identity=_identity(folder, hf_config, source), source=source, hf_config=hf_config
    )
    if url is None:
        adapters = _builtin_adapters(source, model.identity)
        model.process = ServerProcess(find_llama_server(), source, [p for _, p in adapters], config, context)
        model.process.start()
        url, ids = model.process.url, {name: i for i, (name, _) in enumerate(adapters)}
    else:
        ids = _adapters_of(url, model)
    try:
        props = _get(url, "/props")
        n_slots = int(props.get("total_slots", 1))
        model.context = int(props.get("default_generation_settings", {}).get("n_ctx", context))
        encode = lambda text: tokenizer.encode(text, add_special_tokens=False)  # noqa: E731
        model.server = LlamaServerBackend(url, n_slots, ids, process=model.process, encode=encode)
        _check_vocabulary(model)
    except BaseException:
        model.close()
        raise
    return model


def _builtin_adapters(base: Path, identity: ModelIdentity) -> list[tuple[str, Path]]:
    """Every built-in intrinsic trained for ``base``, exported to GGUF (cached): (adapter name, file).

    One that cannot be exported now (e.g. its adapter is being retrained) is left out; invoking it
    later tries again and raises the export's own error.
    """
    from ..export_gguf import export_gguf
    from ..intrinsic import builtin, intrinsics

    found = []
    for name in intrinsics():
        try:
            spec = builtin(name)
            if spec.base_model.identity().fingerprint != identity.fingerprint:
                continue  # trained for another base: not served by this one
            found.append((f"{spec.name}@{spec.fingerprint()}", export_gguf(spec, base=base)))
        except AloraChainError:
            continue
    return found


def _adapters_of(url: str, model: ServerModel) -> dict[str, int]:
    """Match a running server's adapters to built-in intrinsics by file name (NAME.gguf or the cache's)."""
    from ..intrinsic import builtin, intrinsics

    served = _get(url, "/lora-adapters")
    ids = {}
    for name in intrinsics():
        spec = builtin(name)
        for adapter in served if isinstance(served, list) else []:
            stem = Path(adapter.get("path", "")).name
            if stem == f"{name}.gguf" or stem.startswith(f"{name}-{spec.fingerprint()}-"):
                ids[f"{spec.name}@{spec.fingerprint()}"] = int(adapter["id"])
    return ids


def _check_vocabulary(model: ServerModel) -> None:
    """The server must read token ids as our tokenizer writes them (url= may point at any model)."""
    text = "<|im_start|>user\nWhere is the Eiffel tower?<|im_end|>"
    ours = model.tokenizer.encode(text, add_special_tokens=False)
    theirs = _post(model.url, "/detokenize", {"tokens": ours}).get("content")
    if theirs != text:
        raise BaseModelMismatchError(
            f"the llama-server at {model.url} reads our token ids as {theirs!r}, not {text!r}: it runs "
            f"another model than {model.source.name}. Pass that model's GGUF as load_model(path, url=...)"
        )


def _identity(folder: Path, hf_config, source: Path) -> ModelIdentity:
    """The same fingerprint ``model._identity`` computes from loaded weights, read from the safetensors file."""
    import torch
    from safetensors import safe_open

    digest = hashlib.sha256()
    c = hf_config
    digest.update(f"{c.model_type}|{c.num_hidden_layers}|{c.hidden_size}|{c.vocab_size}".encode())
    with safe_open(folder / "model.safetensors", framework="pt") as f:
        key = next((k for k in f.keys() if k.endswith("embed_tokens.weight")), None)
        if key is None:
            raise ModelLoadError(f"{folder} has no embed_tokens.weight to fingerprint")
        emb = f.get_slice(key)[:16].to(torch.float16).contiguous()
    digest.update(emb.numpy().tobytes())
    return ModelIdentity(name=source.name.split(".")[0], fingerprint=digest.hexdigest()[:16])


def _get(url: str, path: str):
    try:
        with urllib.request.urlopen(url + path, timeout=30) as response:
            return json.loads(response.read())
    except OSError as exc:
        raise BackendError(f"llama-server at {url} did not answer {path}: {exc}") from exc


def _post(url: str, path: str, body: dict):
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
    except OSError as exc:
        raise BackendError(f"llama-server at {url} did not answer {path}: {exc}") from exc

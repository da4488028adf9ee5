"""Typed errors raised by alora_chain; every message says what to do next."""

from __future__ import annotations


class AloraChainError(Exception):
    """Base class of every error this library raises on purpose."""


class ModelLoadError(AloraChainError):
    """A model path is missing, unreadable or not a supported format."""


class UnknownIntrinsicError(AloraChainError, KeyError):
    """No built-in or loaded intrinsic has the requested name."""

    def __str__(self) -> str:  # KeyError would otherwise quote the whole message
        return str(self.args[0]) if self.args else ""


class IntrinsicSpecError(AloraChainError, ValueError):
    """An intrinsic.yaml (or io.yaml) file is invalid."""


class BaseModelMismatchError(AloraChainError):
    """An adapter was trained for a different base model than the one loaded."""


class UnsafeFormatError(AloraChainError):
    """A file would need pickle to load (adapter_model.bin, .pt); only safetensors are accepted."""


class TemplateError(AloraChainError):
    """An intrinsic or chat template could not be rendered (missing variable, sandbox violation)."""


class TemplateSecurityError(TemplateError):
    """A template tried to reach Python internals, files or imports."""


class ContextWindowExceededError(AloraChainError):
    """A turn or invocation would not fit in the model's context window; nothing was changed."""


class OutputParseError(AloraChainError):
    """The intrinsic's output could not be parsed; ``raw`` holds the generated text."""

    def __init__(self, message: str, raw: str = "") -> None:
        super().__init__(message)
        self.raw = raw


class InvalidArgumentError(AloraChainError, ValueError):
    """A call received arguments it cannot use."""


class SessionStateError(AloraChainError):
    """A session file is truncated, tampered with or from another version."""


class DataError(AloraChainError, ValueError):
    """A training or evaluation data file has a bad line; the message names it."""


class LlamaServerNotFoundError(ModelLoadError):
    """No llama-server binary was found (or built); the message says how to get one."""


class BackendError(AloraChainError):
    """The inference server failed, died or could not be reached; the session is unchanged."""


class NotSupportedError(AloraChainError):
    """This backend does not support the operation; the message names one that does."""

"""alora_chain: call aLoRA intrinsics mid-conversation on the base model's KV cache."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import errors as errors
    from .cache import SessionCache as SessionCache
    from .chat import Message as Message
    from .decoding import GenerationConfig as GenerationConfig
    from .intrinsic import Intrinsic as Intrinsic
    from .intrinsic import intrinsics as intrinsics
    from .model import Model as Model
    from .model import load_model as load_model
    from .parsing import IntrinsicResult as IntrinsicResult
    from .session import Session as Session

__version__ = "0.1.0"

# public name -> the module that defines it; imported on first use, so `import alora_chain` (and the
# CLI's --help) does not pay for torch, transformers and PEFT until a name that needs them is touched
_EXPORTS = {
    "GenerationConfig": ".decoding",
    "Intrinsic": ".intrinsic",
    "IntrinsicResult": ".parsing",
    "Message": ".chat",
    "Model": ".model",
    "Session": ".session",
    "SessionCache": ".cache",
    "errors": ".errors",
    "intrinsics": ".intrinsic",
    "load_model": ".model",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'alora_chain' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name], __name__)
    value = module if name == "errors" else getattr(module, name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])

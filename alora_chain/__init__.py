"""alora_chain: call aLoRA intrinsics mid-conversation on the base model's KV cache."""

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

__all__ = [
    "GenerationConfig",
    "Intrinsic",
    "IntrinsicResult",
    "Message",
    "Model",
    "Session",
    "SessionCache",
    "errors",
    "intrinsics",
    "load_model",
]

"""The token sequence of one intrinsic call: what Session.invoke runs and what training trains on.

An intrinsic spec is inert data; this module turns it, a conversation and the call's arguments
into token ids. Training builds its examples with the same function, so there is no
train/serve skew.

Example (ChatML, ``template_weights: base``, no documents argument)::

    history:    <|im_start|>user\\nIs it safe?<|im_end|>\\n<|im_start|>assistant\\nYes.<|im_end|>\\n
    prompt:     <|im_start|>user\\n{rendered template}<|im_end|>\\n      (base weights, on a fork)
    invocation: <|im_start|>certainty\\n                                    (adapter from here on)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .chat import Message, conversation_ids, encode_text, turn_ids
from .errors import InvalidArgumentError
from .intrinsic import Intrinsic


@dataclass(frozen=True)
class InvocationTokens:
    """history (base, usually the session's cache) | prompt (base) | invocation (adapter)."""

    history: list[int]
    prompt: list[int]
    invocation: list[int]

    @property
    def all(self) -> list[int]:
        return self.history + self.prompt + self.invocation


def invocation_tokens(
    tokenizer, intrinsic: Intrinsic, messages: list[Message], arguments: dict[str, Any], history: list[int]
) -> InvocationTokens:
    """Build the sequence for calling ``intrinsic`` after ``messages`` (whose ids are ``history``).

    An intrinsic that reads its documents from the conversation (``documents_from: conversation``)
    and is given ``documents`` for this call reads them where a conversation holds them: attached
    to the last user turn. ``history`` then differs from the session's ids after that turn.
    """
    if intrinsic.documents_from == "conversation" and "documents" in arguments:
        messages = with_documents(messages, arguments["documents"])
        history = conversation_ids(tokenizer, messages)
    turn = intrinsic.prompt_turn(messages, arguments)
    invocation = intrinsic.invocation_ids(tokenizer)
    if intrinsic.template_weights == "adapter":
        # plain text: documents may contain "<|im_start|>" but never become markup
        instruction = encode_text(tokenizer, turn.content + "\n") if turn is not None else []
        return InvocationTokens(history, [], invocation + instruction)
    prompt = turn_ids(tokenizer, messages, turn) if turn is not None else []
    return InvocationTokens(history, prompt, invocation)


def with_documents(messages: list[Message], documents: list[str]) -> list[Message]:
    """``messages`` with ``documents`` attached to the last user turn (replacing any it had)."""
    index = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "user"), None)
    if index is None:
        raise InvalidArgumentError("documents go with a user turn, and the conversation has none")
    turn = messages[index].model_copy(update={"documents": tuple(documents)})
    return [*messages[:index], turn, *messages[index + 1 :]]


def conversation_documents(messages: list[Message]) -> list[str]:
    """The documents of the latest turn that carries documents ([] when none does)."""
    return list(next((m.documents for m in reversed(messages) if m.documents), ()))

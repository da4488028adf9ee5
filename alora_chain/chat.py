"""Chat turns as token ids: the model's chat template supplies structure, content stays plain text.

A turn is rendered incrementally: the template is applied to the conversation with every
message's content replaced by a sentinel, and the new turn's token ids are the tokens of
the text the new message adds. Scaffolding (``<|im_start|>user\\n``) is tokenised with
special tokens; content is tokenised with ``split_special_tokens=True``, so a user who
types ``<|im_start|>`` or an intrinsic's invocation string gets ordinary text tokens and
can neither close their turn nor activate an adapter.

Example (ChatML): history ``[]`` + ``user: "hi"`` -> ``<|im_start|>system\\n...<|im_end|>\\n``
``<|im_start|>user\\n`` + ``hi`` + ``<|im_end|>\\n`` as ids.
"""

from __future__ import annotations

import re
import threading
from typing import Literal

from pydantic import BaseModel, ConfigDict
from transformers import PreTrainedTokenizerBase

from .errors import InvalidArgumentError, TemplateError

Role = Literal["system", "user", "assistant"]
_SENTINEL = "\ue000{}\ue001"
_SENTINEL_RE = re.compile("\ue000(\\d+)\ue001")


class Message(BaseModel):
    """One turn of a conversation, optionally carrying documents (a RAG turn)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    role: Role
    content: str
    documents: tuple[str, ...] = ()  # read with the turn: a block before its content

    @property
    def text(self) -> str:
        """What the model reads as the turn's content: the documents block, then the content."""
        return documents_block(self.documents) + self.content if self.documents else self.content


def documents_block(documents: tuple[str, ...] | list[str]) -> str:
    """The documented block a turn's documents are read as (each on one line, numbered).

    Example: ``["Paris is in France.", "Rome is in Italy."]`` ->
    ``"Documents:\n[1] Paris is in France.\n[2] Rome is in Italy.\n\n"``
    """
    lines = [f"[{i}] {' '.join(document.split())}" for i, document in enumerate(documents, start=1)]
    return "Documents:\n" + "\n".join(lines) + "\n\n"


# transformers keeps ``split_special_tokens`` as a flag on the shared Rust tokenizer and
# sets it per call, so concurrent plain/markup encodes race: measured 59 of 3000 plain
# encodes of "<|im_start|>" came back as the special token. Every encode holds this lock.
_TOKENIZE_LOCK = threading.Lock()


def _encode(tokenizer: PreTrainedTokenizerBase, text: str, split_special_tokens: bool) -> list[int]:
    if not text:
        return []
    if not isinstance(text, str):
        raise InvalidArgumentError(f"expected text (str), got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidArgumentError(
            f"text is not valid Unicode ({exc.reason} at position {exc.start}); "
            "decode bytes with errors='replace' before passing them"
        ) from None
    with _TOKENIZE_LOCK:
        ids = tokenizer(text, add_special_tokens=False, split_special_tokens=split_special_tokens)
    return ids["input_ids"]


def encode_text(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """Token ids of ``text`` as plain text: special-token strings are not special."""
    return _encode(tokenizer, text, split_special_tokens=True)


def encode_markup(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """Token ids of trusted template text, where ``<|im_start|>`` is one special token."""
    return _encode(tokenizer, text, split_special_tokens=False)


def _render(tokenizer, messages: list[Message], generation_prompt: bool = False) -> str:
    placeholders = [{"role": m.role, "content": _SENTINEL.format(i)} for i, m in enumerate(messages)]
    if not placeholders and not generation_prompt:
        return ""
    if not getattr(tokenizer, "chat_template", None):
        raise TemplateError(
            "the model has no chat template (a base model, or a GGUF without one): pass one with "
            "ac.load_model(path, chat_template=...), jinja text or a file, e.g. the template of "
            "the instruct model of the same family"
        )
    try:
        return tokenizer.apply_chat_template(
            placeholders, tokenize=False, add_generation_prompt=generation_prompt
        )
    except Exception as exc:  # jinja raises TemplateError subclasses, templates raise anything
        raise TemplateError(f"the model's chat template failed: {exc}") from exc


def _encode_rendered(tokenizer, text: str, messages: list[Message]) -> list[int]:
    ids: list[int] = []
    position = 0
    for match in _SENTINEL_RE.finditer(text):
        ids += encode_markup(tokenizer, text[position : match.start()])
        ids += encode_text(tokenizer, messages[int(match.group(1))].text)
        position = match.end()
    ids += encode_markup(tokenizer, text[position:])
    return ids


def _delta(before: str, after: str) -> str:
    if not after.startswith(before):
        raise TemplateError(
            "the chat template is not append-only here (rendering one more turn changed earlier "
            "text), so turns cannot be prefilled incrementally; e.g. a system turn must come first."
        )
    return after[len(before) :]


def turn_ids(tokenizer: PreTrainedTokenizerBase, history: list[Message], new: Message) -> list[int]:
    """Token ids that appending ``new`` after ``history`` adds to the conversation."""
    messages = [*history, new]
    text = _delta(_render(tokenizer, history), _render(tokenizer, messages))
    return _encode_rendered(tokenizer, text, messages)


def generation_prompt_ids(tokenizer: PreTrainedTokenizerBase, history: list[Message]) -> list[int]:
    """Token ids that open an assistant turn after ``history`` (``<|im_start|>assistant\\n``)."""
    text = _delta(_render(tokenizer, history), _render(tokenizer, history, generation_prompt=True))
    return _encode_rendered(tokenizer, text, history)


def conversation_ids(tokenizer: PreTrainedTokenizerBase, messages: list[Message]) -> list[int]:
    """All ids of ``messages``, exactly as a session that appended them turn by turn holds them."""
    ids: list[int] = []
    for i, message in enumerate(messages):
        ids += turn_ids(tokenizer, messages[:i], message)
    return ids

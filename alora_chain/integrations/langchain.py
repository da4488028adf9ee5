"""LangChain Runnables for intrinsic calls and the RAG guard (extra: ``alora_chain[langchain]``).

Both take a dict, so they drop into an LCEL chain after any step that prepares one::

    chain = RunnableLambda(prepare) | IntrinsicRunnable(model, "answerability")
    chain.invoke({"question": "...", "documents": [...]})        # -> IntrinsicResult
    chain.batch([...])                                          # one result per input

The input's ``messages`` (dicts with role/content, ``(role, text)`` pairs, alora_chain
``Message`` or LangChain ``BaseMessage``) are appended to a fork of the given session (or to a
new session on the given model); every other key is an intrinsic argument. Calls on one
model are serialised by its lock, so LangChain's threaded ``batch`` is safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

try:
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import Runnable, RunnableConfig
except ImportError as exc:  # pragma: no cover - exercised by a test that hides langchain_core
    raise ImportError(
        "alora_chain.integrations.langchain needs langchain-core: pip install 'alora_chain[langchain]'"
    ) from exc

from ..chat import Message
from ..errors import InvalidArgumentError
from ..intrinsic import Intrinsic, resolve
from ..model import Model
from ..parsing import IntrinsicResult
from ..session import Session

_ROLES = {"human": "user", "ai": "assistant", "user": "user", "assistant": "assistant", "system": "system"}


def to_messages(items: Iterable[Any]) -> list[Message]:
    """Normalise chat turns from any common shape, e.g. ``[("human", "hi")] -> [Message(user, hi)]``."""
    messages = []
    for item in items or []:
        if isinstance(item, Message):
            messages.append(item)
            continue
        if isinstance(item, BaseMessage):
            role, content = item.type, item.content
        elif isinstance(item, dict):
            role, content = item.get("role"), item.get("content")
        elif isinstance(item, tuple | list) and len(item) == 2:
            role, content = item
        else:
            raise InvalidArgumentError(f"cannot read a chat turn from {type(item).__name__}: {item!r}")
        if role not in _ROLES or not isinstance(content, str):
            raise InvalidArgumentError(
                f"a chat turn needs a role in {sorted(_ROLES)} and text content; got role={role!r}, "
                f"content of type {type(content).__name__}"
            )
        messages.append(Message(role=_ROLES[role], content=content))
    return messages


class _SessionRunnable(Runnable[dict, Any]):
    """Shared plumbing: a base session (or model) that each call forks and extends."""

    def __init__(self, session_or_model: Session | Model) -> None:
        if isinstance(session_or_model, Session):
            self.session: Session | None = session_or_model
            self.model = session_or_model.model
        elif isinstance(session_or_model, Model):
            self.session, self.model = None, session_or_model
        else:
            raise InvalidArgumentError(
                f"expected an alora_chain Session or Model, got {type(session_or_model).__name__}"
            )

    def _run(self, messages: list[Message], call: Callable[[Session], Any]) -> Any:
        with self.model.lock:  # one model, one cache storage: calls take turns (batch uses threads)
            session = self.session.fork() if self.session is not None else Session(self.model)
            try:
                for message in messages:
                    getattr(session, message.role)(message.content)
                return call(session)
            finally:
                session._cache.release()  # the fork is done; let the base session write in place

    @staticmethod
    def _split(input: Any) -> tuple[list[Message], dict[str, Any]]:
        if not isinstance(input, dict):
            raise InvalidArgumentError(
                f"expected a dict with 'messages' and arguments, got {type(input).__name__}"
            )
        rest = dict(input)
        return to_messages(rest.pop("messages", [])), rest


class IntrinsicRunnable(_SessionRunnable):
    """Invoke one intrinsic per input dict; returns the ``IntrinsicResult`` (or its ``value``).

    ``fixed_args`` are arguments bound for every call; keys of the input override them.
    Example: ``IntrinsicRunnable(model, "requirement_check", requirement="Be brief.")``.
    """

    def __init__(
        self,
        session_or_model: Session | Model,
        intrinsic: Intrinsic | str | Path,
        *,
        value_only: bool = False,
        **fixed_args: Any,
    ) -> None:
        super().__init__(session_or_model)
        self.intrinsic = resolve(intrinsic)
        self.value_only = value_only  # return r.value instead of the whole result
        self.fixed_args = fixed_args
        self.name = f"intrinsic:{self.intrinsic.name}"

    def invoke(self, input: dict, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return self._call_with_config(self._invoke, input, config)

    def _invoke(self, input: dict) -> IntrinsicResult | Any:
        messages, arguments = self._split(input)
        result = self._run(messages, lambda s: s.invoke(self.intrinsic, **{**self.fixed_args, **arguments}))
        return result.value if self.value_only else result


class GuardRunnable(_SessionRunnable):
    """Run ``alora_chain.rag.RagGuard.check`` per input dict; returns its ``GuardVerdict``.

    Input keys: ``question``, ``documents``, optional ``draft`` and ``messages`` (the
    conversation before the question, appended to a fork of the given session).
    ``guard_options`` go to ``RagGuard(...)``, e.g. ``intrinsics={"certainty": None}``.
    """

    def __init__(self, session_or_model: Session | Model, **guard_options: Any) -> None:
        super().__init__(session_or_model)
        from ..rag import RagGuard

        self.guard = RagGuard(session_or_model, **guard_options)
        self.name = "rag_guard"

    def invoke(self, input: dict, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return self._call_with_config(self._invoke, input, config)

    def _invoke(self, input: dict) -> Any:
        messages, arguments = self._split(input)
        unknown = set(arguments) - {"question", "documents", "draft"}
        if unknown or "question" not in arguments or "documents" not in arguments:
            raise InvalidArgumentError(
                "GuardRunnable takes a dict with 'question', 'documents' and optionally 'draft' "
                f"and 'messages'; got keys {sorted(input)}"
            )
        question, documents, draft = arguments["question"], arguments["documents"], arguments.get("draft")
        return self._run(messages, lambda s: self.guard.check(s, question, documents, draft=draft))

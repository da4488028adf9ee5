"""Training and evaluation rows: JSONL loading with errors that name the file and line.

One JSON object per line::

    {"messages": [{"role": "user", "content": "Who rebuilt the bridge?"}],
     "documents": ["The bridge was rebuilt in 1702 by Tobias Marr."],
     "target": "answerable", "meta": {"split": "test"}}

Besides ``messages``, ``target`` and the optional ``meta``, a row holds exactly the
intrinsic's template arguments (``Intrinsic.arguments``). Every row is checked before
any model work starts, so a bad line fails in a second, not after an hour of training.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from ..chat import Message, conversation_ids
from ..errors import AloraChainError, DataError
from ..intrinsic import ChoiceOutput, Intrinsic, ScoreOutput
from ..invocation import invocation_tokens

_RESERVED = ("messages", "target", "meta")


class Row(BaseModel):
    """One example: a conversation, the intrinsic's arguments and the expected output."""

    model_config = ConfigDict(frozen=True)
    messages: list[Message]
    arguments: dict[str, Any]
    target: str  # a label (choice/score) or the expected text
    meta: dict[str, Any] = {}
    line: int = 0  # 1-based line in the source file, for messages about this row


def load_rows(
    path: Path, intrinsic: Intrinsic, *, max_length: int | None = None, tokenizer=None
) -> list[Row]:
    """Read and validate every row of ``path`` for ``intrinsic``; raise DataError on the first bad one.

    ``max_length`` bounds, in tokens, the whole sequence a training step runs (conversation,
    instruction turn, invocation and target); it is checked only when ``tokenizer`` is given.
    Blank lines are skipped.
    """
    rows: list[Row] = []
    for number, data in read_objects(path):
        where = f"{path}, line {number}"
        row = _parse(data, intrinsic, where, number)
        if max_length is not None and tokenizer is not None:
            _check_length(row, intrinsic, tokenizer, max_length, where)
        rows.append(row)
    return rows


def read_objects(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """The JSON objects of a JSONL file with their 1-based line numbers; blank lines skipped.

    Not yet checked against an intrinsic: what :func:`load_rows` and spec inference
    (:mod:`alora_chain.training.small_data`) read first.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such data file")
    objects = []
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            where = f"{path}, line {number}"
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(data, dict):
                raise DataError(f"{where}: expected a JSON object, got {type(data).__name__}")
            objects.append((number, data))
    if not objects:
        raise DataError(f"{path}: no rows (expected one JSON object per line)")
    return objects


def _parse(data: dict[str, Any], intrinsic: Intrinsic, where: str, number: int) -> Row:
    for field in ("messages", "target"):
        if field not in data:
            raise DataError(f"{where}: missing field {field!r}")
    messages = _messages(data["messages"], where)
    target = _target(data["target"], intrinsic, where)
    meta = data.get("meta", {})
    if not isinstance(meta, dict):
        raise DataError(f"{where}: 'meta' must be an object, got {type(meta).__name__}")
    arguments = {key: value for key, value in data.items() if key not in _RESERVED}
    try:
        intrinsic.check_arguments(arguments)
        intrinsic.prompt_turn(messages, arguments)  # render now: template errors belong to loading
    except AloraChainError as exc:
        raise DataError(f"{where}: {exc} (other information belongs in 'meta')") from None
    return Row(messages=messages, arguments=arguments, target=target, meta=meta, line=number)


def _messages(value: Any, where: str) -> list[Message]:
    if not isinstance(value, list) or not value:
        raise DataError(f"{where}: 'messages' must be a non-empty list of {{role, content}} objects")
    try:
        return [Message.model_validate(m) for m in value]
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise DataError(f"{where}: bad message ({loc}: {first['msg']})") from None


def _target(value: Any, intrinsic: Intrinsic, where: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise DataError(f"{where}: empty 'target'")
    if not isinstance(value, str):
        raise DataError(f"{where}: 'target' must be a string, got {type(value).__name__}")
    if intrinsic.invocation.strip() and intrinsic.invocation.strip() in value:
        raise DataError(
            f"{where}: 'target' contains the invocation string {intrinsic.invocation!r}; the adapter "
            "would learn to re-invoke itself"
        )
    if isinstance(intrinsic.output, ChoiceOutput | ScoreOutput) and value not in intrinsic.labels:
        raise DataError(
            f"{where}: target {value!r} is not one of the labels of {intrinsic.name!r}: "
            f"{', '.join(intrinsic.labels)}"
        )
    return value


def _check_length(row: Row, intrinsic: Intrinsic, tokenizer, max_length: int, where: str) -> None:
    history = conversation_ids(tokenizer, row.messages)
    tokens = invocation_tokens(tokenizer, intrinsic, row.messages, row.arguments, history)
    target = intrinsic.target_ids(tokenizer, row.target, tokenizer.eos_token_id)  # only its length counts
    total = len(tokens.all) + len(target)
    if total > max_length:
        raise DataError(
            f"{where}: the example is {total} tokens (conversation {len(history)}, instruction "
            f"{len(tokens.prompt)}, invocation {len(tokens.invocation)}, target) but max_length is "
            f"{max_length}; shorten it, drop it, or raise --max-length"
        )

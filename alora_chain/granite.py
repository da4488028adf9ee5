"""Read IBM granite-common ``io.yaml`` intrinsic declarations into an :class:`Intrinsic`.

granite-common describes an intrinsic by what a chat-completion request and its response
look like: ``response_format`` (a JSON schema, as a JSON string), ``transformations`` that
post-process the response (``likelihood`` turns a categorical field into a probability,
``nest``/``project`` reshape the record), an optional ``instruction`` turn (a Python
``str.format`` string), ``parameters`` of the request and input rewrites
(``sentence_boundaries``, ``docs_as_message``). This module maps what has a meaning in our
runtime and refuses the rest with an :class:`IntrinsicSpecError` naming the field:

- ``likelihood`` over categories -> ``choice`` (values exactly 1/0: ``positive`` is the 1)
  or ``score`` (the expectation of the values), e.g. digits ``0..9 -> 0.05..0.95``;
- an ``enum`` without likelihood -> ``choice``; any other schema -> ``json``; none -> ``text``;
- ``parameters.max_completion_tokens`` -> ``max_new_tokens``;
- ``instruction`` -> the template (``{criteria}`` -> ``{{ criteria }}``, a ``str`` argument);
- ``docs_as_message: string`` -> a ``documents: list[str]`` argument rendered in granite's
  "string" layout at the start of the instruction turn.

Labels are scored as the bare category text (``yes``), the convention of this runtime's
adapters; the record wrapper around it (``{"score": "yes"}``) is not part of the scored text.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path
from typing import Any

import yaml

from .errors import IntrinsicSpecError
from .intrinsic import BaseModelRef, Intrinsic, _line_of
from .model import Model, ModelIdentity
from .templates import Template

_REQUIRED = ("model", "response_format", "transformations")
_OPTIONAL = (
    "name",
    "instruction",
    "parameters",
    "sentence_boundaries",
    "docs_as_message",
    "logprobs_workaround",
)
_RESHAPING = ("nest", "project")  # rename/wrap the output record: no effect on a scalar value
_UNSUPPORTED = {
    "decode_sentences": "it maps sentence numbers back to spans of sentence-tagged text, "
    "and this runtime does not tag sentences (sentence_boundaries)",
    "explode": "it rewrites lists of records (citations); declare a json output instead",
    "drop_duplicates": "it rewrites lists of records (citations); declare a json output instead",
    "merge_spans": "it merges citation spans of sentence-tagged text, which this runtime does not produce",
}
_PARAMETERS = ("max_completion_tokens", "max_tokens", "temperature", "logprobs", "top_logprobs")
_RESERVED_ARGS = {"messages", "last_user", "last_assistant", "documents"}
_DOCUMENTS = (
    "You have access to the following documents:\n\n"
    "{% for doc in documents %}[Document {{ loop.index0 }}]\n{{ doc }}"
    "{{ '\\n\\n' if not loop.last else '' }}{% endfor %}"
)


class _Reader:
    """One io.yaml file: its data, its YAML nodes (for line numbers) and error reporting."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise IntrinsicSpecError(f"{path} does not exist (expected a granite-common io.yaml file)")
        text = path.read_text(encoding="utf-8")
        try:
            self.node = yaml.compose(text, Loader=yaml.SafeLoader)
            self.data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise IntrinsicSpecError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(self.data, dict):
            raise IntrinsicSpecError(f"{path}: expected a mapping of io.yaml fields")

    def error(self, loc: list[Any], message: str) -> IntrinsicSpecError:
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        line = _line_of(self.node, [str(p) for p in loc])
        where = f" (line {line})" if line else ""
        return IntrinsicSpecError(f"{self.path}: {field}{where}: {message}")


def from_granite_io(
    path: str | Path,
    *,
    base_model: Model | ModelIdentity | BaseModelRef,
    adapter: str | Path | None = None,
    invocation: str | None = None,
    name: str | None = None,
) -> Intrinsic:
    """Map an ``io.yaml`` file (and the PEFT adapter it describes) to an :class:`Intrinsic`.

    ``adapter`` defaults to the io.yaml's folder (granite's layout keeps them together).
    ``invocation`` defaults to the adapter's ``alora_invocation_tokens`` decoded with
    ``base_model``'s tokenizer (or, for a standard LoRA, its assistant-turn opener), so pass
    it when ``base_model`` is only an identity. Example::

        it = Intrinsic.from_granite_io("certainty/io.yaml", base_model=model)
        session.invoke(it).value   # 0.73
    """
    reader = _Reader(Path(path))
    data = reader.data
    for key in data:
        if key not in _REQUIRED + _OPTIONAL:
            raise reader.error(
                [key], f"unknown io.yaml field; known fields are {list(_REQUIRED + _OPTIONAL)}"
            )
    for key in _REQUIRED:
        if key not in data:
            raise reader.error([], f"missing required field {key!r} (use ~ for none)")
    max_new_tokens = _max_new_tokens(reader)
    output = _output(reader, _response_format(reader), max_new_tokens)
    if data.get("sentence_boundaries"):
        raise reader.error(
            ["sentence_boundaries"],
            "sentence tagging (<c0>, <r0> ...) is not supported: it rewrites the conversation "
            "text, which would invalidate the session's cache; set it to false",
        )
    folder = reader.path.parent
    adapter_dir = Path(adapter) if adapter is not None else folder
    adapter_config = _adapter_config(reader, adapter_dir)
    invocation_ids = adapter_config.get("alora_invocation_tokens")
    template, arguments = _template(reader)
    spec = {
        "name": _name(name or data.get("name") or data.get("model") or folder.name),
        "description": f"mapped from granite io.yaml {reader.path}",
        "base_model": _base_model_ref(base_model).model_dump(),
        "adapter": str(adapter_dir.resolve()) if adapter is not None else ".",
        "adapter_kind": "alora" if invocation_ids else "lora",
        "template": f"{reader.path.name}#instruction",
        "invocation": invocation or _invocation(reader, base_model, invocation_ids),
        "arguments": arguments,
        "output": output,
    }
    try:
        intrinsic = Intrinsic.model_validate(spec)
    except ValueError as exc:
        raise IntrinsicSpecError(f"{reader.path}: does not map to a valid intrinsic: {exc}") from None
    intrinsic._folder = folder
    # the template lives in io.yaml, not in a file: fill the cached property directly
    intrinsic.__dict__["template_obj"] = Template.from_string(template, name=f"{reader.path}#instruction")
    return intrinsic


# -- output: response_format + transformations ------------------------------------------------
def _response_format(reader: _Reader) -> dict | None:
    value = reader.data["response_format"]
    if value is None or isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise reader.error(["response_format"], "must be a JSON schema (a JSON string) or ~")
    try:
        schema = json.loads(value)
    except json.JSONDecodeError as exc:
        raise reader.error(["response_format"], f"not valid JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(schema, dict):
        raise reader.error(["response_format"], "must be a JSON schema object")
    return schema


def _output(reader: _Reader, schema: dict | None, max_new_tokens: int | None) -> dict:
    rules = reader.data["transformations"] or []
    if not isinstance(rules, list):
        raise reader.error(["transformations"], "must be a list of transformation rules or ~")
    likelihood = None
    reshaping = []
    for i, rule in enumerate(rules):
        kind = rule.get("type") if isinstance(rule, dict) else None
        if kind == "likelihood":
            if likelihood is not None:
                raise reader.error(
                    ["transformations", i], "only one likelihood field per intrinsic is supported"
                )
            likelihood = i
        elif kind in _RESHAPING:
            reshaping.append(i)
        elif kind in _UNSUPPORTED:
            raise reader.error(
                ["transformations", i, "type"], f"{kind!r} is not supported: {_UNSUPPORTED[kind]}"
            )
        else:
            known = ["likelihood", *_RESHAPING, *_UNSUPPORTED]
            raise reader.error(
                ["transformations", i, "type"], f"unknown transformation {kind!r}; known: {known}"
            )
    if likelihood is not None:
        output = _likelihood_output(reader, schema, likelihood)
    elif schema is not None and (enum := _enum_field(schema)) is not None:
        output = {"kind": "choice", "labels": [str(v) for v in enum[1]]}
    elif schema is not None:
        output = {"kind": "json", "schema": schema, "max_new_tokens": max_new_tokens or 128}
    else:
        output = {"kind": "text", "max_new_tokens": max_new_tokens or 64}
    for i in reshaping:
        _check_reshaping(reader, i, output["kind"])
    return output


def _enum_field(schema: dict) -> tuple[list[str], list] | None:
    """``(input_path, enum values)`` of a categorical answer: the root, or a record's only field."""
    if "enum" in schema:
        return [], list(schema["enum"])
    props = schema.get("properties") or {}
    if schema.get("type") == "object" and len(props) == 1:
        ((key, sub),) = props.items()
        if isinstance(sub, dict) and "enum" in sub:
            return [key], list(sub["enum"])
    return None


def _likelihood_output(reader: _Reader, schema: dict | None, i: int) -> dict:
    rule = reader.data["transformations"][i]
    loc = ["transformations", i]
    path = rule.get("input_path", [])
    enum = _enum_field(schema) if schema is not None else None
    if enum is not None and list(path or []) != enum[0]:
        raise reader.error(
            [*loc, "input_path"],
            f"{path} must point at the categorical field of response_format ({enum[0]}); "
            "a likelihood inside a larger record is not supported",
        )
    if schema is not None and enum is None:
        raise reader.error(
            ["response_format"],
            "a likelihood needs the answer to be one enum (at the root or as a record's only "
            "field); other fields of the record would be lost",
        )
    if "positive_label" in rule:  # the older form: P(positive_label) over the enum
        labels = [str(v) for v in (enum[1] if enum else [])]
        positive = str(rule["positive_label"])
        if positive not in labels:
            raise reader.error(
                [*loc, "positive_label"], f"{positive!r} is not one of the enum values {labels}"
            )
        return {"kind": "choice", "labels": labels, "positive": positive}
    values = rule.get("categories_to_values")
    if not isinstance(values, dict) or len(values) < 2:
        raise reader.error(
            [*loc, "categories_to_values"], "needs a mapping of at least two categories to numbers"
        )
    try:
        labels = {str(k): float(v) for k, v in values.items()}
    except (TypeError, ValueError):
        raise reader.error([*loc, "categories_to_values"], "values must be numbers") from None
    if enum is not None and (extra := set(labels) - {str(v) for v in enum[1]}):
        raise reader.error(
            [*loc, "categories_to_values"], f"categories {sorted(extra)} are not in response_format's enum"
        )
    if sorted(labels.values()) == [0.0, 1.0]:
        positive = next(k for k, v in labels.items() if v == 1.0)
        return {"kind": "choice", "labels": list(labels), "positive": positive}
    return {"kind": "score", "labels": labels}


def _check_reshaping(reader: _Reader, i: int, kind: str) -> None:
    rule = reader.data["transformations"][i]
    loc = ["transformations", i]
    if kind not in ("choice", "score"):
        raise reader.error(
            loc, f"{rule['type']!r} reshapes JSON records, but this intrinsic returns the model's JSON as is"
        )
    if rule.get("input_path", []) not in ([], None):
        raise reader.error([*loc, "input_path"], f"{rule['type']!r} is supported only at the root ([])")
    param, types = ("field_name", str) if rule["type"] == "nest" else ("retained_fields", list | dict)
    if not isinstance(rule.get(param), types):
        raise reader.error([*loc, param], f"{rule['type']!r} needs {param}")


# -- input: instruction, documents, parameters ----------------------------------------------
def _template(reader: _Reader) -> tuple[str, dict[str, str]]:
    """The jinja template and its arguments, e.g. ``"Check: {req}"`` -> ``"Check: {{ req }}"``."""
    instruction = reader.data.get("instruction")
    if instruction is not None and not isinstance(instruction, str):
        raise reader.error(["instruction"], "must be a string or ~")
    pieces, arguments = [], {}
    try:
        parsed = list(string.Formatter().parse(instruction or ""))
    except ValueError as exc:
        raise reader.error(["instruction"], f"not a valid format string: {exc}") from None
    for literal, field, spec, conversion in parsed:
        # literal braces become jinja string expressions, so no text is read as jinja syntax
        pieces.append(re.sub(r"[{}]", lambda m: "{{ '" + m.group() + "' }}", literal))
        if field is None:
            continue
        if spec or conversion or not field.isidentifier():
            raise reader.error(["instruction"], f"placeholder {{{field}}} must be a plain name")
        if field == "last_message":  # granite's name for the last message's text
            pieces.append("{{ messages[-1].content if messages else '' }}")
            continue
        if field in _RESERVED_ARGS:
            raise reader.error(
                ["instruction"], f"placeholder {{{field}}} clashes with a built-in template variable"
            )
        arguments[field] = "str"
        pieces.append("{{ " + field + " }}")
    text = "".join(pieces)
    docs = reader.data.get("docs_as_message")
    if docs == "string":
        arguments = {"documents": "list[str]", **arguments}
        text = _DOCUMENTS + ("{{ '\\n\\n' }}" + text if text else "")
    elif docs:
        raise reader.error(
            ["docs_as_message"],
            f"{docs!r} is not supported; only 'string' (documents rendered as text in the "
            "instruction turn) fits this runtime",
        )
    return text, arguments


def _max_new_tokens(reader: _Reader) -> int | None:
    params = reader.data.get("parameters") or {}
    if not isinstance(params, dict):
        raise reader.error(["parameters"], "must be a mapping of request parameters or ~")
    for key, value in params.items():
        if key not in _PARAMETERS:
            raise reader.error(
                ["parameters", key], f"unsupported request parameter; supported: {list(_PARAMETERS)}"
            )
        if key == "temperature" and value not in (0, 0.0, None):
            raise reader.error(
                ["parameters", key], "intrinsics decode greedily here; use 0.0 or leave it out"
            )
    value = params.get("max_completion_tokens", params.get("max_tokens"))
    if value is not None and (not isinstance(value, int) or value <= 0):
        raise reader.error(["parameters", "max_completion_tokens"], "must be a positive integer")
    return value


# -- adapter, base model, invocation ---------------------------------------------------------
def _adapter_config(reader: _Reader, folder: Path) -> dict:
    config = folder / "adapter_config.json"
    if not config.is_file():
        raise IntrinsicSpecError(
            f"{reader.path}: no PEFT adapter at {folder} (adapter_config.json missing); pass "
            "adapter=FOLDER to Intrinsic.from_granite_io"
        )
    return json.loads(config.read_text(encoding="utf-8"))


def _base_model_ref(base_model: Model | ModelIdentity | BaseModelRef) -> BaseModelRef:
    identity = base_model.identity if isinstance(base_model, Model) else base_model
    if isinstance(identity, BaseModelRef):
        return identity
    if isinstance(identity, ModelIdentity):
        return BaseModelRef(name=identity.name, fingerprint=identity.fingerprint)
    raise IntrinsicSpecError(
        f"base_model must be a loaded Model or its identity, got {type(base_model).__name__}"
    )


def _invocation(reader: _Reader, base_model, ids: list[int] | None) -> str:
    if not isinstance(base_model, Model):
        raise IntrinsicSpecError(
            f"{reader.path}: io.yaml does not say the invocation string; pass invocation=... or "
            "a loaded Model as base_model so it can be read from the adapter"
        )
    if ids:  # aLoRA: the adapter records its invocation as token ids
        return base_model.tokenizer.decode(ids)
    from .chat import generation_prompt_ids

    return base_model.tokenizer.decode(generation_prompt_ids(base_model.tokenizer, []))


def _name(raw: str) -> str:
    return re.sub(r"[^A-Za-z0-9_\-]+", "_", str(raw)).strip("_") or "granite_intrinsic"

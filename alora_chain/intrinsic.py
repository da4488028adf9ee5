"""Intrinsic: an inert, validated spec (template + aLoRA adapter + output) and the built-in registry.

An intrinsic folder holds ``intrinsic.yaml``, the adapter folder and its template; a spec
built in Python without a folder may name a built-in's template (``answerability.jinja``). Loading checks
everything that can be checked without a model; :meth:`Intrinsic.bind` checks the rest
(base-model identity, invocation tokens) against a loaded model.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .chat import Message, encode_markup, encode_text
from .errors import IntrinsicSpecError, InvalidArgumentError, UnknownIntrinsicError
from .model import Model, ModelIdentity
from .resources import builtin_intrinsics_dir, builtin_template
from .templates import Template

_ARG_TYPES = {"str": str, "list[str]": list, "int": int, "float": float, "bool": bool}


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChoiceOutput(_Spec):
    """Pick one label; all labels are scored in one forward pass from their log-probabilities."""

    kind: Literal["choice"]
    labels: list[str] = Field(min_length=2)
    positive: str | None = None  # if set, value is ``label == positive`` and score is P(positive)


class ScoreOutput(_Spec):
    """A number in [0, 1]: the expectation of ``labels`` values under the adapter's distribution."""

    kind: Literal["score"]
    labels: dict[str, float] = Field(default_factory=lambda: {str(d): d / 9 for d in range(10)}, min_length=2)


class JsonOutput(_Spec):
    """JSON text validated against ``schema`` (JSON Schema)."""

    kind: Literal["json"]
    json_schema: dict[str, Any] = Field(alias="schema")
    max_new_tokens: int = Field(128, gt=0)


class TextOutput(_Spec):
    """Free text, decoded greedily up to ``max_new_tokens``."""

    kind: Literal["text"]
    max_new_tokens: int = Field(64, gt=0)


Output = Annotated[ChoiceOutput | ScoreOutput | JsonOutput | TextOutput, Field(discriminator="kind")]


class PerItem(_Spec):
    """Invoke the adapter once per item of a list argument and combine the verdicts.

    For questions about a set that one item settles: "can these documents answer it?" is
    "does one of them answer it?" (``combine: any``, P = the largest item probability);
    "is every sentence supported?" is ``combine: all`` (the smallest). The items are rows of one
    batched forward over a fork of the session cache (aLoRA), so the history is still computed
    once and the items together cost about the tokens the whole list would (plus the
    instruction once per item). The adapter is trained on one-item rows.
    """

    argument: str
    combine: Literal["any", "all"] = "any"


class BaseModelRef(_Spec):
    name: str
    fingerprint: str

    def identity(self) -> ModelIdentity:
        return ModelIdentity(self.name, self.fingerprint)


class Intrinsic(_Spec):
    """A declarative intrinsic; see docs/design.md "Intrinsic spec". Run it with ``Session.invoke``."""

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    description: str = ""
    version: str = "0.1.0"
    base_model: BaseModelRef
    adapter: str = "adapter"  # folder, relative to the intrinsic folder
    adapter_kind: Literal["alora", "lora"] = "alora"
    template: str  # jinja2 file name (intrinsic folder first, then the built-in of that name)
    invocation: str = Field(min_length=1)
    # Where the rendered template goes. "base" (docs/design.md): a user turn before the invocation,
    # read with base weights, so the adapter runs on the invocation tokens only. "adapter":
    # right after the invocation, inside the adapted span, so the adapter reads the documents
    # or requirement itself; the history is still reused from the base cache. For base models
    # whose own reading of the arguments is not enough (docs/results.md: measured on the embedded one).
    template_weights: Literal["base", "adapter"] = "base"
    # Where a ``documents`` argument is read. "arguments": the template renders the call's
    # documents into the suffix, computed on every call. "conversation": the documents are part
    # of the conversation (``Session.user(q, documents=...)``), prefilled once with base weights
    # and read from the cache; ``documents`` is then optional, and a call that passes other
    # documents reads them attached to the last user turn, as the adapter was trained.
    documents_from: Literal["arguments", "conversation"] = "arguments"
    arguments: dict[str, Literal["str", "list[str]", "int", "float", "bool"]] = Field(default_factory=dict)
    output: Output
    per_item: PerItem | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    training: dict[str, Any] = Field(default_factory=dict)

    _folder: Path | None = PrivateAttr(default=None)
    _fingerprint: tuple[tuple, str] | None = PrivateAttr(default=None)  # (weights file stat, hash)

    @field_validator("adapter", "template")
    @classmethod
    def _inside_folder(cls, value: str, info: ValidationInfo) -> str:
        """A spec file may not point at files outside its folder (``/etc/passwd``, ``../x``).

        Checked for files read by :meth:`load` (which may come from anywhere); Python code
        that builds an Intrinsic itself may name any folder.
        """
        if "\x00" in value:
            raise ValueError("must not contain a NUL character")
        if not (info.context or {}).get("from_file"):
            return value
        path = Path(value)
        if not value or path.is_absolute() or ".." in path.parts or "\\" in value or ":" in value:
            raise ValueError(f"must be a relative path inside the intrinsic folder, got {value!r}")
        return value

    @model_validator(mode="after")
    def _per_item_fits(self) -> Intrinsic:
        """``per_item`` combines P(positive) of a yes/no choice over a ``list[str]`` argument."""
        if self.per_item is None:
            return self
        argument = self.per_item.argument
        if self.arguments.get(argument) != "list[str]":
            raise ValueError(f"per_item.argument {argument!r} must name a list[str] argument")
        out = self.output
        if not isinstance(out, ChoiceOutput) or len(out.labels) != 2 or out.positive is None:
            raise ValueError("per_item needs a choice output with two labels and a positive label")
        return self

    @model_validator(mode="after")
    def _documents_argument(self) -> Intrinsic:
        if self.documents_from == "conversation":
            if self.arguments.get("documents") != "list[str]":
                raise ValueError("documents_from: conversation needs a 'documents: list[str]' argument")
            if self.per_item is not None:
                raise ValueError("documents_from: conversation reads all documents at once; drop per_item")
        return self

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, folder: str | Path) -> Intrinsic:
        """Load ``folder/intrinsic.yaml``; errors name the field and the line."""
        folder = Path(folder)
        path = folder / "intrinsic.yaml" if folder.is_dir() else folder
        if not path.is_file():
            raise IntrinsicSpecError(f"{path} does not exist (an intrinsic folder needs intrinsic.yaml)")
        data, node = _read_yaml(path)
        if not isinstance(data, dict):
            raise IntrinsicSpecError(f"{path}: expected a mapping of fields, got {type(data).__name__}")
        try:
            intrinsic = cls.model_validate(data, context={"from_file": True})
        except ValidationError as exc:
            raise IntrinsicSpecError(_describe(exc, path, node)) from None
        intrinsic._folder = path.parent
        intrinsic.template_obj  # compile now: syntax errors belong to loading
        return intrinsic

    @classmethod
    def from_granite_io(cls, path: str | Path, **options: Any) -> Intrinsic:
        """Map an IBM granite-common ``io.yaml`` (and its adapter) to an Intrinsic.

        Options: ``base_model`` (a Model or its identity; required), ``adapter``,
        ``invocation``, ``name``; see :func:`alora_chain.granite.from_granite_io`.
        """
        from .granite import from_granite_io

        return from_granite_io(path, **options)

    @property
    def folder(self) -> Path | None:
        return self._folder

    def with_folder(self, folder: Path) -> Intrinsic:
        self._folder = Path(folder)
        return self

    @property
    def adapter_path(self) -> Path:
        if self._folder is None:
            raise IntrinsicSpecError(f"intrinsic {self.name!r} has no folder; use Intrinsic.load(folder)")
        return self._folder / self.adapter

    @property
    def template_path(self) -> Path:
        """The template file: in the intrinsic's folder, else the built-in's of that file name.

        Example: a training spec without a folder naming ``answerability.jinja`` reads
        ``intrinsics/answerability/answerability.jinja``, the one copy, kept beside its adapter.
        """
        if self._folder is not None and (self._folder / self.template).is_file():
            return self._folder / self.template
        found = builtin_template(self.template)
        if found is None:
            raise IntrinsicSpecError(
                f"intrinsic {self.name!r}: template {self.template!r} is neither in its folder nor a "
                f"built-in's template ({builtin_intrinsics_dir()}/NAME/NAME.jinja)"
            )
        return found

    @cached_property
    def template_obj(self) -> Template:
        return Template.from_file(self.template_path)

    def fingerprint(self) -> str:
        """Short hash of the spec, template and adapter weights (for caches and result files).

        Kept until the weights file changes (path, size, mtime): hashing a rank-32 adapter on
        every ``invoke`` cost ~10-30 ms, a sizeable part of a one-pass intrinsic call.
        """
        weights = self.adapter_path / "adapter_model.safetensors"
        stat = weights.stat() if weights.is_file() else None
        key = (str(weights), stat and stat.st_size, stat and stat.st_mtime_ns)
        if self._fingerprint is not None and self._fingerprint[0] == key:
            return self._fingerprint[1]
        digest = hashlib.sha256(self.model_dump_json().encode() + self.template_obj.source.encode())
        if stat is not None:
            digest.update(weights.read_bytes())
        self._fingerprint = (key, digest.hexdigest()[:12])
        return self._fingerprint[1]

    # -- arguments, rendering and token pieces of one call (assembled by alora_chain.invocation) --
    def check_arguments(self, arguments: dict[str, Any]) -> None:
        unknown = set(arguments) - set(self.arguments)
        missing = set(self.arguments) - set(arguments) - self.optional_arguments
        if unknown or missing:
            raise InvalidArgumentError(
                f"intrinsic {self.name!r} takes {sorted(self.arguments) or 'no arguments'}; "
                + (f"missing {sorted(missing)} " if missing else "")
                + (f"unexpected {sorted(unknown)}" if unknown else "")
            )
        for key, kind in self.arguments.items():
            if key not in arguments:
                continue  # optional and not given
            value = arguments[key]
            ok = isinstance(value, _ARG_TYPES[kind]) and not (
                kind in ("int", "float") and isinstance(value, bool)
            )
            if kind == "list[str]":
                ok = ok and all(isinstance(item, str) for item in value)
            if not ok:
                raise InvalidArgumentError(
                    f"intrinsic {self.name!r}: argument {key!r} must be {kind}, got {type(value).__name__}"
                )

    @property
    def optional_arguments(self) -> set[str]:
        """Arguments a call may leave out: documents, where the conversation supplies them."""
        return {"documents"} if self.documents_from == "conversation" else set()

    def prompt_turn(self, messages: list[Message], arguments: dict[str, Any]) -> Message | None:
        """The instruction turn the template renders (appended with base weights), or None if empty.

        Documents read from the conversation are not rendered again.
        """
        self.check_arguments(arguments)
        if self.documents_from == "conversation":
            arguments = {k: v for k, v in arguments.items() if k != "documents"}
        last = {
            role: next((m.content for m in reversed(messages) if m.role == role), "")
            for role in ("user", "assistant")
        }
        text = self.template_obj.render(
            messages=[m.model_dump() for m in messages],
            last_user=last["user"],
            last_assistant=last["assistant"],
            **arguments,
        ).strip()
        return Message(role="user", content=text) if text else None

    def invocation_ids(self, tokenizer) -> list[int]:
        return encode_markup(tokenizer, self.invocation)

    def label_sequences(self, tokenizer, eos_id: int) -> list[list[int]]:
        """Each label's tokens followed by end-of-turn, so labels sharing a prefix stay distinct."""
        labels = self.labels
        return [encode_text(tokenizer, label) + [eos_id] for label in labels]

    @property
    def labels(self) -> list[str]:
        """The labels a one-pass output scores (a score output's are the keys of its values); [] otherwise."""
        out = self.output
        return list(out.labels) if isinstance(out, ChoiceOutput | ScoreOutput) else []

    def target_ids(self, tokenizer, target: str, eos_id: int) -> list[int]:
        """Tokens the adapter is trained to produce after the invocation for ``target``."""
        return encode_text(tokenizer, target) + [eos_id]

    def bind(self, model: Model) -> str:
        """Load this intrinsic's adapter into ``model`` (checked against it); return the adapter name."""
        model.check_identity(self.base_model.identity(), f"intrinsic {self.name!r}")
        key = f"{self.name}@{self.fingerprint()}"
        invocation = tuple(self.invocation_ids(model.tokenizer)) if self.adapter_kind == "alora" else None
        model.load_adapter(key, self.adapter_path, invocation_ids=invocation)
        return key


# -- registry ------------------------------------------------------------------------------
_BUILTINS: dict[str, Intrinsic] = {}


def intrinsics() -> list[str]:
    """Names of the built-in intrinsics shipped with the package."""
    root = builtin_intrinsics_dir()
    return sorted(p.parent.name for p in root.glob("*/intrinsic.yaml"))


def builtin(name: str) -> Intrinsic:
    """The built-in intrinsic called ``name`` (loaded once)."""
    if name not in _BUILTINS:
        folder = builtin_intrinsics_dir() / name
        if not (folder / "intrinsic.yaml").is_file():
            raise UnknownIntrinsicError(
                f"no built-in intrinsic named {name!r}; available: {', '.join(intrinsics()) or 'none'}. "
                "Load your own with Intrinsic.load(folder) and pass the object to invoke()."
            )
        _BUILTINS[name] = Intrinsic.load(folder)
    return _BUILTINS[name]


def resolve(intrinsic: Intrinsic | str | Path) -> Intrinsic:
    """An Intrinsic from an object, a built-in name or a folder path."""
    if isinstance(intrinsic, Intrinsic):
        return intrinsic
    if isinstance(intrinsic, Path) or (
        isinstance(intrinsic, str) and ("/" in intrinsic or "\\" in intrinsic)
    ):
        return _load_kept(intrinsic)
    if isinstance(intrinsic, str):
        return builtin(intrinsic)
    raise InvalidArgumentError(
        f"expected an Intrinsic, a built-in name or a folder, got {type(intrinsic).__name__}"
    )


# spec file -> (template file, both files' stamps, the spec loaded from them)
_LOADED: dict[Path, tuple[Path, tuple, Intrinsic]] = {}


def _load_kept(path: str | Path) -> Intrinsic:
    """``Intrinsic.load(path)``, kept per folder until its intrinsic.yaml or template changes.

    A fresh spec hashes its adapter weights again (``fingerprint``), so ``invoke("path")``
    paid that on every call; a kept spec rechecks only the weights file's size and mtime.
    """
    spec_file = Path(path).resolve()
    spec_file = spec_file / "intrinsic.yaml" if spec_file.is_dir() else spec_file
    kept = _LOADED.get(spec_file)
    if kept is not None and kept[1] == _stamp(spec_file, kept[0]):
        return kept[2]
    before = _stamp(spec_file)
    spec = Intrinsic.load(spec_file)
    _LOADED[spec_file] = (spec.template_path, before + _stamp(spec.template_path), spec)
    return spec


def _stamp(*files: Path) -> tuple:
    """(size, mtime, inode) of each file, None where it is missing: what an edit changes."""
    stats = [file.stat() if file.is_file() else None for file in files]
    return tuple(stat and (stat.st_size, stat.st_mtime_ns, stat.st_ino) for stat in stats)


_MAX_SPEC_BYTES = 1 << 20
_MAX_SPEC_DEPTH = 32  # a real spec nests about 4 levels
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: PyYAML's own scanner is quadratic


def _read_yaml(path: Path):
    """(data, node tree) of a spec file.

    Refuses, before building anything: files over 1 MiB, aliases (no "billion laughs"
    expansion) and nesting deeper than 32 (PyYAML recurses, and its pure-Python scanner
    takes minutes on 20k nested brackets).
    """
    if path.stat().st_size > _MAX_SPEC_BYTES:
        raise IntrinsicSpecError(f"{path} is larger than {_MAX_SPEC_BYTES} bytes; a spec is a short file")
    try:
        text = path.read_text(encoding="utf-8")
        depth = 0
        for event in yaml.parse(text, Loader=_LOADER):
            line = event.start_mark.line + 1
            if isinstance(event, yaml.AliasEvent):
                raise IntrinsicSpecError(
                    f"{path} line {line}: YAML aliases (*name) are not allowed in intrinsic.yaml; "
                    "write the value out"
                )
            depth += isinstance(event, yaml.CollectionStartEvent) - isinstance(event, yaml.CollectionEndEvent)
            if depth > _MAX_SPEC_DEPTH:
                raise IntrinsicSpecError(
                    f"{path} line {line}: YAML nested too deeply (over {_MAX_SPEC_DEPTH})"
                )
        node = yaml.compose(text, Loader=_LOADER)
        _reject_duplicate_keys(node, path)
        return yaml.load(text, Loader=_LOADER), node
    except UnicodeDecodeError as exc:
        raise IntrinsicSpecError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    except yaml.YAMLError as exc:
        if "nesting depth" in str(exc):  # PyYAML >= 6.0.4 has its own limit, met before ours
            raise IntrinsicSpecError(f"{path}: YAML nested too deeply ({exc})") from None
        raise IntrinsicSpecError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise IntrinsicSpecError(f"{path}: YAML nested too deeply") from None


def _reject_duplicate_keys(node, path: Path) -> None:
    """A key written twice in one mapping is an error: YAML loaders keep the last one silently."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            first_line: dict[str, int] = {}
            for key, value in current.value:
                line = key.start_mark.line + 1
                if isinstance(key, yaml.ScalarNode):
                    if key.value in first_line:
                        raise IntrinsicSpecError(
                            f"{path} line {line}: key {key.value!r} repeats line "
                            f"{first_line[key.value]}; keep one"
                        )
                    first_line[key.value] = line
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


def _describe(exc: ValidationError, path: Path, node) -> str:
    """One line per problem: ``  output.labels (line 7): List should have at least 2 items``."""
    lines = [f"{path}: invalid intrinsic spec"]
    for err in exc.errors():
        loc = [str(p) for p in err["loc"] if not str(p).startswith(("function-", "tagged-union"))]
        loc = _without_union_tags(node, loc)
        if err["type"] == "union_tag_invalid":
            loc.append("kind")  # point at the bad tag itself, not at its mapping
        line = _line_of(node, loc)
        where = f"line {line}" if line else "top level"
        field = ".".join(loc) or "(root)"
        message = "unknown field (not allowed)" if err["type"] == "extra_forbidden" else err["msg"]
        lines.append(f"  {field} ({where}): {message}")
    return "\n".join(lines)


def _without_union_tags(node, loc: list[str]) -> list[str]:
    """Drop the discriminator pydantic inserts into a location (``output.choice.labels``)."""
    kept = []
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            kind = next((v.value for k, v in node.value if k.value == "kind"), None)
            if match is None and kind == key:
                continue  # the tag of a tagged union, not a key of the file
            node = match
        elif isinstance(node, yaml.SequenceNode) and key.isdigit() and int(key) < len(node.value):
            node = node.value[int(key)]
        else:
            node = None
        kept.append(key)
    return kept


def _line_of(node, loc: list[str]) -> int | None:
    """1-based line of the YAML node at ``loc`` (or of its nearest existing parent)."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            key_node = next((k for k, v in node.value if k.value == key), None)
            if match is None:
                return line
            line, node = key_node.start_mark.line + 1, match
        elif isinstance(node, yaml.SequenceNode) and key.isdigit() and int(key) < len(node.value):
            node = node.value[int(key)]
            line = node.start_mark.line + 1
        else:
            return line
    return line

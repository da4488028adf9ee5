"""Intrinsic specs: loading, precise validation messages, safe adapter loading, base-model checks."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import yaml
from conftest import make_intrinsic

import alora_chain as ac
from alora_chain.errors import (
    BaseModelMismatchError,
    IntrinsicSpecError,
    ModelLoadError,
    TemplateError,
    UnsafeFormatError,
)

VALID = """\
name: demo
description: a test intrinsic
base_model:
  name: SmolLM2-135M-Instruct
  fingerprint: 0123456789abcdef
template: prompt.jinja
invocation: "<|im_start|>demo\\n"
arguments:
  documents: list[str]
output:
  kind: choice
  labels: [good, bad]
  positive: good
"""


def _write(folder: Path, text: str, template: str = "Docs: {{ documents | join(' ') }}") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "intrinsic.yaml").write_text(text)
    (folder / "prompt.jinja").write_text(template)
    return folder


def _error(folder: Path) -> str:
    with pytest.raises(IntrinsicSpecError) as info:
        ac.Intrinsic.load(folder)
    return str(info.value)


def test_valid_spec_loads(tmp_path):
    spec = ac.Intrinsic.load(_write(tmp_path, VALID))
    assert spec.name == "demo" and spec.labels == ["good", "bad"] and spec.folder == tmp_path
    assert spec.arguments == {"documents": "list[str]"}


def test_a_folder_path_is_loaded_once_until_its_spec_or_template_changes(tmp_path):
    from alora_chain.intrinsic import resolve

    folder = _write(tmp_path / "a", VALID)
    first = resolve(str(folder))
    # the same object: its adapter fingerprint is not hashed again on every invoke("path")
    assert resolve(str(folder)) is first and resolve(folder / "intrinsic.yaml") is first
    (folder / "intrinsic.yaml").write_text(VALID.replace("a test intrinsic", "an edited one"))
    edited = resolve(str(folder))
    assert edited is not first and edited.description == "an edited one"
    (folder / "prompt.jinja").write_text("Sources: {{ documents | join(' ') }}")
    assert resolve(str(folder)) is not edited
    assert resolve(str(folder)).template_obj.source.startswith("Sources")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        # unknown keys are errors, at top level and nested, with the line of the key
        (lambda t: t + "colour: blue\n", "colour (line 14): unknown field (not allowed)"),
        (
            lambda t: t.replace("  kind: choice\n", "  kind: choice\n  lables: [a, b]\n"),
            "output.lables (line 12): unknown field (not allowed)",
        ),
        (
            lambda t: t.replace("  name: SmolLM2", "  nmae: SmolLM2"),
            "base_model.nmae (line 4): unknown field",
        ),
        # the tagged union's tag is not part of the reported location
        (
            lambda t: t.replace("labels: [good, bad]", "labels: [good]"),
            "output.labels (line 12): List should have at least 2 items",
        ),
        (lambda t: t.replace("kind: choice", "kind: poll"), "output.kind (line 11): Input tag 'poll'"),
        (
            lambda t: t.replace("documents: list[str]", "documents: dict"),
            "arguments.documents (line 9): Input should be",
        ),
        (
            lambda t: t.replace("name: demo\n", "name: has space\n"),
            "name (line 1): String should match pattern",
        ),
        (lambda t: t.replace("template: prompt.jinja\n", ""), "template (line 1): Field required"),
        (
            lambda t: t.replace('invocation: "<|im_start|>demo\\n"', 'invocation: ""'),
            "invocation (line 7): String should have at least 1 character",
        ),
        # a file read from disk may not point outside its folder
        (
            lambda t: t.replace("template: prompt.jinja", "template: /etc/passwd"),
            "template (line 6): Value error, must be a relative path inside the intrinsic folder",
        ),
        (lambda t: t.replace("template: prompt.jinja", "template: ../../secret.jinja"), "template (line 6)"),
        (lambda t: t + "adapter: /root/.ssh\n", "adapter (line 14): Value error, must be a relative path"),
    ],
)
def test_validation_messages_name_field_and_line(tmp_path, edit, expected):
    message = _error(_write(tmp_path, edit(VALID)))
    assert expected in message, message
    assert str(tmp_path / "intrinsic.yaml") in message


def test_every_problem_is_reported(tmp_path):
    text = VALID.replace("labels: [good, bad]", "labels: [good]") + "colour: blue\n"
    message = _error(_write(tmp_path, text))
    assert "output.labels (line 12)" in message and "colour (line 14)" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: [unclosed\n", "not valid YAML"),
        ("- a list\n- not a mapping\n", "expected a mapping of fields, got list"),
        ("", "expected a mapping of fields, got NoneType"),
        ("a: &x [1, 2]\nb: *x\n", "line 2: YAML aliases (*name) are not allowed"),
        ("name: " + "[" * 20000 + "]" * 20000 + "\n", "nested too deeply"),
        ("name: !!python/object/apply:os.system [id]\n", "not valid YAML"),
    ],
)
def test_malformed_yaml_is_a_spec_error(tmp_path, text, expected):
    assert expected in _error(_write(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (VALID + "name: other\n", "line 14: key 'name' repeats line 1; keep one"),
        (
            VALID.replace("  positive: good\n", "  positive: good\n  labels: [a, b]\n"),
            "line 14: key 'labels' repeats line 12",
        ),
    ],
)
def test_a_key_written_twice_is_a_spec_error(tmp_path, text, expected):
    # PyYAML keeps the last of two equal keys without a word; the author meant one of them
    assert expected in _error(_write(tmp_path, text))


def test_non_utf8_missing_and_oversized_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "intrinsic.yaml").write_bytes(b"name: \xff\xfe\n")
    assert "not UTF-8" in _error(tmp_path / "a")
    assert "does not exist" in _error(tmp_path / "missing")
    big = _write(tmp_path / "b", VALID + "#" * (2 << 20) + "\n")
    assert "larger than" in _error(big)


def test_missing_template_and_template_syntax_error(tmp_path):
    folder = _write(tmp_path / "a", VALID.replace("prompt.jinja", "nowhere.jinja"))
    assert "template 'nowhere.jinja' is neither in its folder" in _error(folder)
    with pytest.raises(TemplateError, match="line 1"):
        ac.Intrinsic.load(_write(tmp_path / "b", VALID, template="{{ documents "))


# -- safe loading --------------------------------------------------------------------------
class _Payload:
    """Unpickling this creates ``marker``: proof that a refused file was never unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _spec_for(model, folder: Path, fingerprint: str | None = None) -> Path:
    data = yaml.safe_load(VALID)
    data["base_model"] = {
        "name": model.identity.name,
        "fingerprint": fingerprint or model.identity.fingerprint,
    }
    _write(folder, yaml.safe_dump(data, sort_keys=False))
    (folder / "adapter").mkdir()
    return folder


@pytest.mark.parametrize("filename", ["adapter_model.bin", "adapter_model.pt", "weights.pth"])
def test_pickled_adapter_is_refused_without_unpickling(model, tmp_path, filename):
    folder = _spec_for(model, tmp_path / "spec")
    marker = tmp_path / "pwned"
    (folder / "adapter" / filename).write_bytes(pickle.dumps(_Payload(marker)))
    (folder / "adapter" / "adapter_config.json").write_text("{}")
    spec = ac.Intrinsic.load(folder)
    with pytest.raises(UnsafeFormatError, match=r"safe_serialization=True") as info:
        spec.bind(model)
    assert filename in str(info.value)
    s = ac.Session(model).user("hi")
    before = s.token_ids
    with pytest.raises(UnsafeFormatError):
        s.invoke(spec, documents=["d"])
    assert not marker.exists() and s.token_ids == before


def test_pickled_model_folder_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "pytorch_model.bin").write_bytes(pickle.dumps(_Payload(marker)))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(UnsafeFormatError, match="safe_serialization=True"):
        ac.load_model(tmp_path)
    assert not marker.exists()


def test_adapter_folder_without_weights_is_a_load_error(model, tmp_path):
    spec = ac.Intrinsic.load(_spec_for(model, tmp_path / "spec"))
    with pytest.raises(ModelLoadError, match=r"no adapter_model\.safetensors"):
        spec.bind(model)


def test_adapter_for_another_base_model_is_refused(model, tmp_path):
    spec = ac.Intrinsic.load(_spec_for(model, tmp_path / "spec", fingerprint="ffffffffffffffff"))
    with pytest.raises(BaseModelMismatchError) as info:
        spec.bind(model)
    message = str(info.value)
    assert "ffffffffffffffff" in message and model.identity.fingerprint in message
    assert "load_model" in message  # says what to do
    with pytest.raises(BaseModelMismatchError):
        ac.Session(model).user("hi").invoke(spec, documents=["d"])
    with pytest.raises(BaseModelMismatchError):
        model.check_identity(spec.base_model.identity(), "x")
    model.check_identity(model.identity, "x")  # the matching identity passes


def test_adapter_whose_invocation_tokens_differ_is_refused(model, tmp_path):
    spec = make_intrinsic(model, tmp_path, output={"kind": "text", "max_new_tokens": 2}, arguments={})
    text = (spec.folder / "intrinsic.yaml").read_text().replace("<|im_start|>check", "<|im_start|>other")
    (spec.folder / "intrinsic.yaml").write_text(text)
    changed = ac.Intrinsic.load(spec.folder)
    with pytest.raises(BaseModelMismatchError, match="alora_invocation_tokens"):
        changed.bind(model)
    assert not any(name.startswith(changed.name + "@") for name in model.adapters)
    assert spec.bind(model) in model.adapters  # the unchanged spec still loads

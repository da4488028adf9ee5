"""granite io.yaml -> Intrinsic: output kinds, instruction templates, refusals, and a real invoke."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import make_intrinsic

import alora_chain as ac
from alora_chain.chat import Message
from alora_chain.errors import IntrinsicSpecError, OutputParseError
from alora_chain.intrinsic import BaseModelRef, ChoiceOutput, JsonOutput, ScoreOutput, TextOutput

DATA = Path(__file__).parent / "data" / "granite"
DOCS = ["The Ossel bridge was rebuilt in 1702 by Tobias Marr.", "Brimwick has 48,000 inhabitants."]
INVOCATION = "<|im_start|>check\n"


@pytest.fixture(scope="module")
def tiny(model, tmp_path_factory) -> ac.Intrinsic:
    """A tiny random aLoRA adapter (invocation ``<|im_start|>check\\n``) the io.yaml files point at."""
    return make_intrinsic(model, tmp_path_factory.mktemp("granite"), output={"kind": "score"}, seed=3)


def _load(name: str, model, tiny, **options) -> ac.Intrinsic:
    return ac.Intrinsic.from_granite_io(DATA / name, adapter=tiny.adapter_path, base_model=model, **options)


def _edited(tmp_path: Path, name: str, **changes) -> Path:
    data = yaml.safe_load((DATA / name).read_text())
    data.update(changes)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# -- mapping -------------------------------------------------------------------------------
def test_answerability_maps_to_choice_with_documents(model, tiny):
    it = _load("answerability.yaml", model, tiny)
    assert it.name == "answerability"
    assert it.output == ChoiceOutput(
        kind="choice", labels=["answerable", "unanswerable"], positive="answerable"
    )
    assert it.arguments == {"documents": "list[str]"}
    assert it.adapter_kind == "alora"
    assert it.invocation == INVOCATION  # decoded from the adapter's alora_invocation_tokens
    turn = it.prompt_turn([Message(role="user", content="Who rebuilt it?")], {"documents": DOCS})
    assert turn.content == (
        f"You have access to the following documents:\n\n[Document 0]\n{DOCS[0]}\n\n[Document 1]\n{DOCS[1]}"
    )


def test_certainty_likelihood_maps_to_score(model, tiny):
    it = _load("certainty.yaml", model, tiny)
    assert isinstance(it.output, ScoreOutput)
    assert it.output.labels == {str(d): round(0.1 * d + 0.05, 2) for d in range(10)}
    assert it.arguments == {}
    assert it.prompt_turn([], {}).content == "<certainty>"


def test_query_rewrite_schema_maps_to_json(model, tiny):
    it = _load("query_rewrite.yaml", model, tiny)
    assert isinstance(it.output, JsonOutput)
    assert it.output.json_schema["required"] == ["rewritten_question"]
    assert it.output.max_new_tokens == 12  # parameters.max_completion_tokens
    assert it.prompt_turn([], {}) is None  # instruction: ~ adds no turn


def test_instruction_placeholders_become_arguments(model, tiny):
    it = _load("requirement_check.yaml", model, tiny)
    assert it.name == "requirement-check"
    assert it.output == ChoiceOutput(kind="choice", labels=["yes", "no"], positive="yes")
    assert it.arguments == {"requirement": "str"}
    text = it.prompt_turn([], {"requirement": "Answer in {{ 7*7 }} words."}).content
    assert text.startswith("<requirements>: Answer in {{ 7*7 }} words.\nPlease verify")
    assert 'Respond with a json {"score": "yes"} if' in text  # str.format's {{ }} are literal braces


def test_last_message_placeholder_reads_the_conversation(model, tiny, tmp_path):
    path = _edited(tmp_path, "certainty.yaml", instruction="Rate: {last_message} ({scale})")
    it = ac.Intrinsic.from_granite_io(path, adapter=tiny.adapter_path, base_model=model)
    assert it.arguments == {"scale": "str"}
    turn = it.prompt_turn([Message(role="assistant", content="Paris.")], {"scale": "0-9"})
    assert turn.content == "Rate: Paris. (0-9)"


def test_positive_label_form_of_likelihood(model, tiny, tmp_path):
    rule = {"type": "likelihood", "positive_label": "answerable", "input_path": [], "output_name": None}
    path = _edited(tmp_path, "answerability.yaml", transformations=[rule])
    it = ac.Intrinsic.from_granite_io(path, adapter=tiny.adapter_path, base_model=model)
    assert it.output == ChoiceOutput(
        kind="choice", labels=["answerable", "unanswerable"], positive="answerable"
    )


def test_enum_without_likelihood_is_a_plain_choice(model, tiny, tmp_path):
    path = _edited(tmp_path, "answerability.yaml", transformations=None, docs_as_message=None)
    it = ac.Intrinsic.from_granite_io(path, adapter=tiny.adapter_path, base_model=model)
    assert it.output == ChoiceOutput(kind="choice", labels=["answerable", "unanswerable"])
    assert it.arguments == {}


def test_no_response_format_is_text(model, tiny, tmp_path):
    path = _edited(tmp_path, "query_rewrite.yaml", response_format=None)
    it = ac.Intrinsic.from_granite_io(path, adapter=tiny.adapter_path, base_model=model)
    assert it.output == TextOutput(kind="text", max_new_tokens=12)


def test_adapter_defaults_to_the_io_yaml_folder(model, tiny, tmp_path):
    folder = tmp_path / "certainty" / "alora" / "smollm"
    shutil.copytree(tiny.adapter_path, folder)
    shutil.copy(DATA / "certainty.yaml", folder / "io.yaml")
    it = ac.Intrinsic.from_granite_io(folder / "io.yaml", base_model=model)
    assert it.adapter_path.resolve() == folder.resolve()


def test_identity_base_model_needs_an_invocation(model, tiny):
    ref = BaseModelRef(name=model.identity.name, fingerprint=model.identity.fingerprint)
    with pytest.raises(IntrinsicSpecError, match="invocation="):
        _load("certainty.yaml", ref, tiny)
    it = ac.Intrinsic.from_granite_io(
        DATA / "certainty.yaml", adapter=tiny.adapter_path, base_model=ref, invocation=INVOCATION
    )
    assert it.base_model == ref


# -- refusals name the field ----------------------------------------------------------------
def test_unsupported_transformation_is_refused(model, tiny):
    with pytest.raises(
        IntrinsicSpecError, match=r"transformations\[0\]\.type \(line \d+\): 'decode_sentences'"
    ):
        _load("citations.yaml", model, tiny)


@pytest.mark.parametrize(
    ("name", "changes", "field"),
    [
        ("certainty.yaml", {"sentence_boundaries": {"documents": "c"}}, "sentence_boundaries"),
        ("answerability.yaml", {"docs_as_message": "roles"}, "docs_as_message"),
        ("certainty.yaml", {"parameters": {"temperature": 0.7}}, "parameters.temperature"),
        ("certainty.yaml", {"parameters": {"stop": ["x"]}}, "parameters.stop"),
        ("certainty.yaml", {"prompt": "hi"}, "prompt"),
        ("certainty.yaml", {"instruction": "Rate {answer!r}"}, "instruction"),
        ("query_rewrite.yaml", {"response_format": "{not json"}, "response_format"),
        (
            "query_rewrite.yaml",
            {"transformations": [{"type": "nest", "input_path": [], "field_name": "x"}]},
            r"transformations\[0\]",
        ),
        (
            "certainty.yaml",
            {
                "transformations": [
                    {"type": "likelihood", "input_path": [], "categories_to_values": {"0": 0.0}}
                ]
            },
            r"transformations\[0\]\.input_path",
        ),
        (
            "requirement_check.yaml",
            {
                "transformations": [
                    {
                        "type": "likelihood",
                        "input_path": ["score"],
                        "categories_to_values": {"maybe": 1, "no": 0},
                    }
                ]
            },
            r"transformations\[0\]\.categories_to_values",
        ),
        (
            "certainty.yaml",
            {"transformations": [{"type": "translate", "input_path": []}]},
            "unknown transformation",
        ),
    ],
)
def test_what_does_not_apply_is_refused_by_field(model, tiny, tmp_path, name, changes, field):
    path = _edited(tmp_path, name, **changes)
    with pytest.raises(IntrinsicSpecError, match=field):
        ac.Intrinsic.from_granite_io(path, adapter=tiny.adapter_path, base_model=model)


def test_missing_required_field_and_adapter(model, tiny, tmp_path):
    data = yaml.safe_load((DATA / "certainty.yaml").read_text())
    del data["transformations"]
    (tmp_path / "io.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(IntrinsicSpecError, match="missing required field 'transformations'"):
        ac.Intrinsic.from_granite_io(tmp_path / "io.yaml", adapter=tiny.adapter_path, base_model=model)
    with pytest.raises(IntrinsicSpecError, match=r"adapter_config\.json missing"):
        ac.Intrinsic.from_granite_io(DATA / "certainty.yaml", base_model=model)


# -- running ---------------------------------------------------------------------------------
def _session(model) -> ac.Session:
    s = ac.Session(model, system="You are a helpful assistant.")
    return s.user("Who rebuilt the bridge?").assistant("Tobias Marr, in 1702.")


def test_mapped_intrinsics_run_through_invoke(model, tiny):
    s = _session(model)
    before = s.token_ids
    answerable = s.invoke(_load("answerability.yaml", model, tiny), documents=DOCS)
    assert isinstance(answerable.value, bool)
    assert answerable.score == pytest.approx(answerable.probabilities["answerable"])
    assert answerable.stats.reused_tokens == len(before)
    certainty = s.invoke(_load("certainty.yaml", model, tiny))
    expected = sum(p * (0.1 * int(d) + 0.05) for d, p in certainty.probabilities.items())
    assert certainty.value == pytest.approx(expected)
    assert 0.05 <= certainty.value <= 0.95
    check = s.invoke(_load("requirement_check.yaml", model, tiny), requirement="Name a person.")
    assert set(check.probabilities) == {"yes", "no"}
    assert s.token_ids == before  # invoke never changes the session


def test_mapped_equals_native_spec(model, tiny, tmp_path):
    """The same adapter, template text and labels give the same scores as an intrinsic.yaml."""
    mapped = _load("certainty.yaml", model, tiny)
    shutil.copytree(tiny.adapter_path, tmp_path / "adapter")
    (tmp_path / "prompt.jinja").write_text("<certainty>")
    native = {
        "name": "native_certainty",
        "base_model": mapped.base_model.model_dump(),
        "adapter": "adapter",
        "template": "prompt.jinja",
        "invocation": INVOCATION,
        "output": {"kind": "score", "labels": mapped.output.labels},
    }
    (tmp_path / "intrinsic.yaml").write_text(yaml.safe_dump(native))
    s = _session(model)
    ours, theirs = s.invoke(mapped), s.invoke(ac.Intrinsic.load(tmp_path))
    assert ours.probabilities.keys() == theirs.probabilities.keys()
    for label, p in ours.probabilities.items():
        assert p == pytest.approx(theirs.probabilities[label], abs=1e-5)


def test_mapped_json_output_is_validated(model, tiny):
    s = _session(model)
    it = _load("query_rewrite.yaml", model, tiny)
    # a random adapter does not write the schema's JSON: the output is parsed and refused
    with pytest.raises(OutputParseError, match=r"not JSON|does not match its schema"):
        s.invoke(it)

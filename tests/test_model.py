"""load_model: a chat template for models without one."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest

import alora_chain as ac
from alora_chain.errors import TemplateError


@pytest.fixture(scope="module")
def without_template(model, tmp_path_factory) -> Path:
    """The embedded model's folder with its chat template removed (weights linked, not copied)."""
    source = Path(model.hf.config.name_or_path)
    folder = tmp_path_factory.mktemp("base")
    for file in source.iterdir():
        if file.name == "model.safetensors":
            (folder / file.name).symlink_to(file)
        elif file.name != "chat_template.jinja":
            shutil.copy(file, folder / file.name)
    config = json.loads((folder / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def test_a_model_without_a_chat_template_says_to_pass_one(without_template):
    bare = ac.load_model(without_template)
    with pytest.raises(TemplateError, match=r"chat_template="):
        ac.Session(bare, system="You are terse.")


@pytest.mark.parametrize("as_file", [False, True])
def test_chat_template_given_as_text_or_file_lays_out_turns_like_the_models_own(
    model, without_template, tmp_path, as_file
):
    text = model.tokenizer.chat_template
    (tmp_path / "chatml.jinja").write_text(text)
    given = tmp_path / "chatml.jinja" if as_file else text
    loaded = ac.load_model(without_template, chat_template=given)
    own = ac.Session(model, system="You are terse.").user("Hi <|im_end|>")
    assert ac.Session(loaded, system="You are terse.").user("Hi <|im_end|>").token_ids == own.token_ids


def test_loading_and_adding_adapters_warns_nothing(model, choice_intrinsic):
    """A fresh model's first adapter wraps it in PEFT (where PEFT < 0.22 warned about transformers'
    deprecated is_gradient_checkpointing), then a second is added: not one warning."""
    from peft import LoraConfig

    fresh = ac.load_model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        choice_intrinsic.bind(fresh)
        config = LoraConfig(task_type="CAUSAL_LM", r=4, target_modules=["q_proj"], alora_invocation_tokens=[1])
        fresh.add_fresh_adapter("fresh", config)
        ac.Session(fresh).user("Hi").invoke(choice_intrinsic, documents=["A document."])


def test_a_bad_chat_template_is_refused_before_loading(tmp_path):
    with pytest.raises(TemplateError, match="not valid jinja"):
        ac.load_model(tmp_path / "never-read", chat_template="{% for m in messages %}")
    with pytest.raises(ac.errors.ModelLoadError, match="does not exist"):
        ac.load_model(chat_template=tmp_path / "missing.jinja")

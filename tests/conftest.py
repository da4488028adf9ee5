"""Shared fixtures: one embedded model per test session, tiny freshly initialised intrinsics."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
import yaml
from peft import LoraConfig

import alora_chain as ac

_counter = itertools.count()


@pytest.fixture(scope="session")
def model() -> ac.Model:
    return ac.load_model()


def make_intrinsic(
    model: ac.Model,
    folder: Path,
    *,
    output: dict,
    template: str = "Documents: {{ documents | join(' | ') }}\nIs the question answerable?",
    arguments: dict | None = None,
    invocation: str = "<|im_start|>check\n",
    kind: str = "alora",
    seed: int = 0,
) -> ac.Intrinsic:
    """A tiny rank-4 adapter with random non-zero B, so it visibly changes the output.

    Both A and B come from ``seed`` (PEFT would draw A from the global RNG), so a test sees the
    same adapter on every run."""
    name = f"tiny{next(_counter)}"
    folder = Path(folder) / name
    folder.mkdir(parents=True)
    ids = model.tokenizer(invocation, add_special_tokens=False)["input_ids"]
    config = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=["q_proj", "k_proj", "v_proj"],
        alora_invocation_tokens=ids if kind == "alora" else None,
        task_type="CAUSAL_LM",
    )
    model.add_fresh_adapter(name, config)
    generator = torch.Generator().manual_seed(seed)
    for param_name, param in model.peft.named_parameters():
        if f".{name}." in param_name and "lora_A" in param_name:  # PEFT's kaiming-uniform bound
            bound = param.shape[1] ** -0.5
            param.data = (torch.rand(param.shape, generator=generator) * 2 - 1) * bound
        elif f".{name}." in param_name and "lora_B" in param_name:
            param.data = torch.randn(param.shape, generator=generator) * 0.2
    model.peft.set_adapter(name)  # the active adapter may be one removed earlier; PEFT saves via it
    model.peft.save_pretrained(folder, selected_adapters=[name])
    (folder / name).rename(folder / "adapter")
    model.remove_adapter(name)
    (folder / "prompt.jinja").write_text(template)
    spec = {
        "name": name,
        "base_model": {"name": model.identity.name, "fingerprint": model.identity.fingerprint},
        "adapter": "adapter",
        "adapter_kind": kind,
        "template": "prompt.jinja",
        "invocation": invocation,
        "arguments": arguments if arguments is not None else {"documents": "list[str]"},
        "output": output,
    }
    (folder / "intrinsic.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return ac.Intrinsic.load(folder)


# built-in name -> (arguments, output) as in DESIGN.md's table, for random stand-ins
BUILTIN_SHAPES = {
    "answerability": (
        {"documents": "list[str]"},
        {"kind": "choice", "labels": ["answerable", "unanswerable"], "positive": "answerable"},
    ),
    "groundedness": (
        {"documents": "list[str]"},
        {"kind": "choice", "labels": ["grounded", "ungrounded"], "positive": "grounded"},
    ),
    "requirement_check": (
        {"requirement": "str"},
        {"kind": "choice", "labels": ["yes", "no"], "positive": "yes"},
    ),
    "query_rewrite": ({}, {"kind": "text", "max_new_tokens": 8}),
    "certainty": ({}, {"kind": "score"}),
    "context_relevance": (
        {"document": "str"},
        {"kind": "choice", "labels": ["relevant", "irrelevant"], "positive": "relevant"},
    ),
}


def make_standin(model: ac.Model, root: Path, name: str, seed: int = 0) -> ac.Intrinsic:
    """A random intrinsic with a built-in's name, arguments, output and prompt, at ``root/name``.

    For testing code written against the built-ins without their trained weights; never ship one.
    """
    from alora_chain.resources import prompts_dir

    arguments, output = BUILTIN_SHAPES[name]
    made = make_intrinsic(
        model,
        Path(root) / ".tmp",
        output=output,
        template=(prompts_dir() / f"{name}.jinja").read_text(),
        arguments=arguments,
        invocation=f"<|im_start|>{name}\n",
        seed=seed,
    )
    folder = Path(root) / name
    made.folder.rename(folder)
    spec = yaml.safe_load((folder / "intrinsic.yaml").read_text())
    spec["name"] = name
    (folder / "intrinsic.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return ac.Intrinsic.load(folder)


@pytest.fixture(scope="session")
def choice_intrinsic(model, tmp_path_factory) -> ac.Intrinsic:
    return make_intrinsic(
        model,
        tmp_path_factory.mktemp("intrinsics"),
        output={"kind": "choice", "labels": ["answerable", "unanswerable"], "positive": "answerable"},
    )


@pytest.fixture(scope="session")
def text_intrinsic(model, tmp_path_factory) -> ac.Intrinsic:
    return make_intrinsic(
        model,
        tmp_path_factory.mktemp("intrinsics"),
        output={"kind": "text", "max_new_tokens": 8},
        invocation="<|im_start|>rewrite\n",
        template="Rewrite the last question as a standalone query.",
        arguments={},
        seed=1,
    )


LONG_TURNS = [
    ("user", "Tell me about the history of the town of Brimwick and its river, the Ossel."),
    (
        "assistant",
        "Brimwick was founded in 1204 as a trading post on the Ossel. The river carried wool and "
        "timber downstream to the coast, and the town grew around its stone bridge. " * 6,
    ),
    ("user", "Who built the bridge, and when was it rebuilt after the flood?"),
    (
        "assistant",
        "The first bridge was built by the masons' guild under mayor Alda Renn in 1311. After the "
        "great flood of 1702 it was rebuilt in granite with five arches by engineer Tobias Marr. " * 6,
    ),
    ("user", "What does the town export today and how many people live there?"),
    (
        "assistant",
        "Today Brimwick exports precision instruments, cheese and river-sand glass. About 48,000 "
        "people live there, many commuting to the regional capital by the Ossel valley railway. " * 6,
    ),
    ("user", "And what about its football club?"),
]

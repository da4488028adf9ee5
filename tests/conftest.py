"""Shared fixtures: one embedded model per test session, tiny freshly initialised intrinsics."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest
import torch
import yaml

import alora_chain as ac
from alora_chain.training.standin import random_intrinsic

_counter = itertools.count()


def pytest_configure(config):
    """Under pytest-xdist each worker, and each process it starts (notebook kernels, CLIs), gets
    its share of the cores: with torch's default of every core each, two workers oversubscribed
    this 2-core CPU and a notebook took 177 s instead of 30."""
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        share = max(1, (os.cpu_count() or 1) // int(workers))
        torch.set_num_threads(share)
        os.environ["OMP_NUM_THREADS"] = str(share)


@pytest.fixture(scope="session")
def model() -> ac.Model:
    return ac.load_model()


def make_intrinsic(model: ac.Model, folder: Path, **options) -> ac.Intrinsic:
    """A rank-4 q/k/v intrinsic with seeded random weights under a fresh name (see alora_chain.training.standin)."""
    return random_intrinsic(model, folder, f"tiny{next(_counter)}", **options)


# built-in name -> (arguments, output) as in docs/design.md's table, for random stand-ins
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
    "jailbreak": ({}, {"kind": "choice", "labels": ["jailbreak", "benign"], "positive": "jailbreak"}),
    "prompt_injection": (
        {"document": "str"},
        {"kind": "choice", "labels": ["injection", "clean"], "positive": "injection"},
    ),
}


def make_standin(model: ac.Model, root: Path, name: str, seed: int = 0) -> ac.Intrinsic:
    """A random intrinsic with a built-in's name, arguments, output and prompt, at ``root/name``.

    For testing code written against the built-ins without their trained weights; never ship one.
    """
    from alora_chain.resources import builtin_template

    arguments, output = BUILTIN_SHAPES[name]
    made = make_intrinsic(
        model,
        Path(root) / ".tmp",
        output=output,
        template=builtin_template(f"{name}.jinja").read_text(),
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

"""Training: learns a trivial task, resumes exactly, matches invoke's tokens, rejects bad data early."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import json
import random
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file

import alora_chain as ac
from alora_chain.chat import conversation_ids
from alora_chain.errors import DataError
from alora_chain.invocation import invocation_tokens
from alora_chain.training.data import load_rows
from alora_chain.training.train import TrainConfig, encode_example, spec_for_training, train

COLOURS = ["red", "blue", "green", "yellow", "purple", "orange", "black", "white", "pink", "grey"]


def _colour_rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        mentions = i % 2 == 0
        text = f"My new bike is {rng.choice(COLOURS)}." if mentions else f"My new bike cost {rng.randint(2, 99)} euros."
        rows.append({"messages": [{"role": "user", "content": text}], "target": "yes" if mentions else "no"})
    return rows


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.fixture(scope="module")
def colour_spec(tmp_path_factory):
    folder = tmp_path_factory.mktemp("colour")
    (folder / "colour.jinja").write_text('Does my message name a colour? Reply "yes" or "no".')
    spec = spec_for_training(
        "colour", template="colour.jinja", arguments={},
        output={"kind": "choice", "labels": ["yes", "no"], "positive": "yes"},
    )
    return spec.with_folder(folder)


def _accuracy(model, intrinsic, rows) -> tuple[float, float]:
    """(accuracy, mean probability of the right label) on ``rows``."""
    correct, mass = 0, 0.0
    for row in rows:
        s = ac.Session(model)
        s.user(row["messages"][0]["content"])
        result = s.invoke(intrinsic)
        correct += result.raw == row["target"]
        mass += result.probabilities[row["target"]]
    return correct / len(rows), mass / len(rows)


def test_training_learns_and_output_folder_runs_through_invoke(model, colour_spec, tmp_path):
    data = _write(tmp_path / "train.jsonl", _colour_rows(40, seed=1))
    held_out = _colour_rows(8, seed=99)
    out = tmp_path / "colour"
    result = train(data, colour_spec, out, TrainConfig(epochs=2, batch_size=8, lr=2e-3, val_fraction=0.2),
                   progress=False)
    losses = [h["val_loss"] for h in result.history]
    assert losses[-1] < losses[0]
    trained = ac.Intrinsic.load(out)
    assert trained.base_model.fingerprint == model.identity.fingerprint
    assert trained.training["data_sha256"]
    environment = trained.training["environment"]  # which machine and versions made these weights
    assert environment["torch"] == torch.__version__ and environment["cpu"] and environment["torch_threads"] >= 1
    weights = load_file(out / "adapter" / "adapter_model.safetensors")
    assert all(t.dtype == torch.float16 for t in weights.values())
    accuracy, mass = _accuracy(model, trained, held_out)
    assert accuracy >= 0.75 and mass > 0.6, (accuracy, mass)


def test_resumed_run_ends_with_the_same_weights(colour_spec, tmp_path):
    data = _write(tmp_path / "train.jsonl", _colour_rows(16, seed=2))
    config = dict(epochs=1, batch_size=4, lr=1e-3, val_fraction=0.25, checkpoint_every=1)
    train(data, colour_spec, tmp_path / "full", TrainConfig(**config), progress=False)
    train(data, colour_spec, tmp_path / "split", TrainConfig(**config, max_steps=2), progress=False)
    first_wall = json.loads((tmp_path / "split" / "checkpoints" / "state.json").read_text())["wall_seconds"]
    started = time.perf_counter()
    resumed = train(data, colour_spec, tmp_path / "split", TrainConfig(**config), resume=True, progress=False)
    own_wall = time.perf_counter() - started
    # the reported wall time spans both runs, not only the one that finished
    assert first_wall > 0 and resumed.seconds >= first_wall + 0.5 * own_wall
    assert ac.Intrinsic.load(tmp_path / "split").training["wall_seconds"] == round(resumed.seconds, 1)
    full = load_file(tmp_path / "full" / "adapter" / "adapter_model.safetensors")
    split = load_file(tmp_path / "split" / "adapter" / "adapter_model.safetensors")
    assert full.keys() == split.keys()
    assert all(torch.equal(full[k], split[k]) for k in full)


def test_training_can_start_from_another_adapter(colour_spec, tmp_path):
    data = _write(tmp_path / "train.jsonl", _colour_rows(16, seed=3))
    config = dict(epochs=1, batch_size=8, val_fraction=0.25)
    train(data, colour_spec, tmp_path / "first", TrainConfig(**config, lr=2e-3), progress=False)
    # a vanishing learning rate: the second run must end where its starting weights were
    train(data, colour_spec, tmp_path / "second",
          TrainConfig(**config, lr=1e-12, init_from=str(tmp_path / "first")), progress=False)
    first = load_file(tmp_path / "first" / "adapter" / "adapter_model.safetensors")
    second = load_file(tmp_path / "second" / "adapter" / "adapter_model.safetensors")
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert any(k.endswith("lora_B.weight") and first[k].abs().max() > 0 for k in first)  # not zeros
    with pytest.raises(DataError, match="rank"):
        train(data, colour_spec, tmp_path / "third",
              TrainConfig(**config, rank=4, init_from=str(tmp_path / "first")), progress=False)
    # intrinsic.yaml records where the weights came from as a path, and what they were by content
    recorded = ac.Intrinsic.load(tmp_path / "second").training
    assert Path(recorded["config"]["init_from"]) == (tmp_path / "first").resolve()
    first_file = tmp_path / "first" / "adapter" / "adapter_model.safetensors"
    assert recorded["init_from_sha256"] == hashlib.sha256(first_file.read_bytes()).hexdigest()[:16]
    assert ac.Intrinsic.load(tmp_path / "first").training["config"]["init_from"] is None


def test_schedule_adapts_to_the_data_size():
    """A small file is repeated to a minimum number of steps with a short warmup, and a handful of
    validation rows never stops it; a large file keeps two epochs, ten warmup steps, early stopping."""
    small = TrainConfig().schedule(train_rows=32, val_rows=8)
    assert (small.steps_per_epoch, small.epochs, small.total_steps, small.warmup_steps) == (4, 20, 80, 8)
    assert not small.early_stopping
    assert TrainConfig().schedule(160, 40).total_steps >= TrainConfig.min_steps  # 200 rows, 20% held out
    assert not TrainConfig().schedule(160, 40).early_stopping
    large = TrainConfig().schedule(4800, 64)
    assert (large.epochs, large.total_steps, large.warmup_steps, large.early_stopping) == (2, 1200, 10, True)
    given = TrainConfig(epochs=3, warmup_steps=2).schedule(32, 8)  # what is given is used as it is
    assert (given.epochs, given.total_steps, given.warmup_steps) == (3, 12, 2)


def test_cli_option_defaults_are_train_configs():
    from alora_chain.cli.train import command

    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    options = inspect.signature(command).parameters
    shared = [name for name in options if name in defaults]
    assert {"epochs", "min_steps", "lr", "warmup_steps", "batch_size", "max_length", "seed", "kind", "rank",
            "precision", "target_modules"} <= set(shared)
    for name in shared:
        expected = ",".join(defaults[name]) if name == "target_modules" else defaults[name]
        assert options[name].default == expected, name


def test_bf16_training_runs_under_autocast_and_tracks_fp32(colour_spec, tmp_path):
    """bf16 changes the arithmetic (the losses differ) but not what is learned (they stay close)."""
    data = _write(tmp_path / "train.jsonl", _colour_rows(16, seed=4))
    config = dict(epochs=1, batch_size=4, lr=2e-3, val_fraction=0.25)
    fp32 = train(data, colour_spec, tmp_path / "fp32", TrainConfig(**config), progress=False)
    bf16 = train(data, colour_spec, tmp_path / "bf16", TrainConfig(**config, precision="bf16"), progress=False)
    assert fp32.best_val_loss != bf16.best_val_loss
    # within 10%: 5.1-6.2% measured on a 2-core AVX2-only VM (no bf16 instructions: other
    # kernels, coarser sums), under 5% on one with AVX512-BF16; ignoring the flag fails above
    assert abs(fp32.best_val_loss - bf16.best_val_loss) < 0.10 * fp32.best_val_loss
    assert ac.Intrinsic.load(tmp_path / "bf16").training["config"]["precision"] == "bf16"
    with pytest.raises(ac.errors.InvalidArgumentError, match="precision"):
        TrainConfig(precision="fp16")


def test_bf16_prefill_changes_only_the_frozen_prefix_and_tracks_fp32(colour_spec, tmp_path):
    """Prefixes prefilled in bf16 move what the adapter learns a little (validation, in fp32 as
    inference is, differs), not much; a LoRA baseline has no frozen prefix to prefill."""
    data = _write(tmp_path / "train.jsonl", _colour_rows(16, seed=4))
    config = dict(epochs=2, batch_size=4, lr=2e-3, val_fraction=0.25)
    fp32 = train(data, colour_spec, tmp_path / "fp32", TrainConfig(**config), progress=False)
    mixed = train(data, colour_spec, tmp_path / "mixed", TrainConfig(**config, precision="bf16-prefill"),
                  progress=False)
    assert fp32.best_val_loss != mixed.best_val_loss
    assert abs(fp32.best_val_loss - mixed.best_val_loss) < 0.10 * fp32.best_val_loss
    assert ac.Intrinsic.load(tmp_path / "mixed").training["config"]["precision"] == "bf16-prefill"
    with pytest.raises(ac.errors.InvalidArgumentError, match="LoRA baseline"):
        TrainConfig(kind="lora", precision="bf16-prefill")


def test_training_sequence_is_exactly_what_invoke_runs(model, tmp_path):
    spec = spec_for_training(
        "answerability", template="answerability.jinja", arguments={"documents": "list[str]"},
        output={"kind": "choice", "labels": ["answerable", "unanswerable"], "positive": "answerable"},
    )
    row = {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                        {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Who won?"}],
           "documents": ["The Reds won 2-1.", "Tickets cost 5 euros."], "target": "answerable"}
    [parsed] = load_rows(_write(tmp_path / "one.jsonl", [row]), spec)
    example = encode_example(model, spec, parsed)
    s = ac.Session(model, system="Be brief.")
    s.user("Hi").assistant("Hello!").user("Who won?")
    served = invocation_tokens(model.tokenizer, spec, s.transcript, {"documents": row["documents"]}, s.token_ids)
    assert s.token_ids == conversation_ids(model.tokenizer, parsed.messages)
    assert example.prefix + example.invocation == served.all
    assert example.target == [*model.tokenizer("answerable", add_special_tokens=False)["input_ids"],
                              model.end_of_turn_id]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"target": "yes"}, "missing field 'messages'"),
        ({"messages": [{"role": "user", "content": "hi"}], "target": ""}, "target"),
        ({"messages": [{"role": "user", "content": "word " * 3000}], "target": "yes"}, "max"),
        ({"messages": [{"role": "user", "content": "hi"}], "target": "yes <|im_start|>colour\n"}, "invocation"),
    ],
)
def test_bad_data_names_the_line_before_training(colour_spec, tmp_path, row, message):
    good = _colour_rows(3, seed=3)
    data = _write(tmp_path / "bad.jsonl", [*good, row])
    with pytest.raises(ac.errors.DataError) as info:
        train(data, colour_spec, tmp_path / "never", TrainConfig(max_length=512), progress=False)
    assert "line 4" in str(info.value) and message in str(info.value).lower()
    assert not (tmp_path / "never").exists()


def test_cli_trains_from_another_adapter_and_refuses_a_mismatch(tmp_path):
    from typer.testing import CliRunner

    from alora_chain.cli import app

    data = _write(tmp_path / "train.jsonl", _colour_rows(16, seed=4))
    (tmp_path / "colour.jinja").write_text('Does my message name a colour? Reply "yes" or "no".')
    common = ["train", str(data), "--name", "colour", "--template", str(tmp_path / "colour.jinja"),
              "--labels", "yes,no", "--positive", "yes", "--epochs", "1"]
    runner = CliRunner()
    first = runner.invoke(app, [*common, "--lr", "2e-3", "--out", str(tmp_path / "first")])
    assert first.exit_code == 0, first.output
    second = runner.invoke(app, [*common, "--lr", "1e-12", "--init-from", str(tmp_path / "first"),
                                 "--out", str(tmp_path / "second")])
    assert second.exit_code == 0, second.output
    weights = [load_file(tmp_path / name / "adapter" / "adapter_model.safetensors") for name in ("first", "second")]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    mismatch = runner.invoke(app, [*common, "--init-from", str(tmp_path / "first"),
                                   "--target-modules", "q_proj", "--out", str(tmp_path / "third")])
    assert mismatch.exit_code == 1 and "init_from" in mismatch.output, mismatch.output


def test_lora_loss_from_the_kept_logits_equals_the_loss_over_every_position(model, colour_spec, tmp_path):
    from alora_chain.training.train import _right_pad, _target_loss, batch_loss

    rows = load_rows(_write(tmp_path / "rows.jsonl", _colour_rows(3, seed=5)), colour_spec)
    batch = [encode_example(model, colour_spec, row) for row in rows]
    assert len({len(e.prefix) for e in batch}) > 1  # unequal lengths: right padding is exercised
    ids, mask = _right_pad([e.prefix + e.suffix for e in batch], model.tokenizer.pad_token_id or 0)
    base = SimpleNamespace(peft=model.hf, tokenizer=model.tokenizer)  # the loss arithmetic, no adapter needed
    # earlier tests leave adapters injected into model.hf's layers: switch them off here
    adapters_off = model.peft.disable_adapter() if model.peft is not None else contextlib.nullcontext()
    with torch.no_grad(), adapters_off:
        full = model.hf(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(1) - 1).clamp(min=0)).logits
        expected = _target_loss(full, ids, batch, [len(e.prefix) + len(e.invocation) for e in batch])
        loss, tokens = batch_loss(base, batch, "lora")
    assert tokens == int(mask.sum())
    assert abs(loss.item() - expected.item()) < 1e-5


def test_alora_loss_from_the_kept_logits_equals_the_loss_over_every_position(model, colour_spec, tmp_path):
    """The aLoRA path keeps logits from the first target on too; with the template under the
    adapter (``template_weights: adapter``) most of its suffix is not target."""
    from peft import LoraConfig

    from alora_chain.training.train import _as_cache, _prefill, _right_pad, _target_loss, batch_loss

    spec = colour_spec.model_copy(update={"template_weights": "adapter"})
    rows = load_rows(_write(tmp_path / "rows.jsonl", _colour_rows(3, seed=5)), spec)
    batch = [encode_example(model, spec, row) for row in rows]
    assert min(len(e.invocation) for e in batch) > 5  # the template is in the adapter's part
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                      alora_invocation_tokens=spec.invocation_ids(model.tokenizer), task_type="CAUSAL_LM")
    model.add_fresh_adapter("kept_logits", lora)
    try:
        model.peft.set_adapter("kept_logits")
        with torch.no_grad():
            prefix = _prefill(model, batch)
            suffix_ids, suffix_mask = _right_pad([e.suffix for e in batch], model.tokenizer.pad_token_id or 0)
            full = model.peft(
                input_ids=suffix_ids, attention_mask=torch.cat([prefix.mask, suffix_mask], dim=1),
                position_ids=prefix.mask.sum(1, keepdim=True) + torch.arange(suffix_ids.shape[1])[None],
                **{model.cache_keyword: _as_cache(model, prefix)}, use_cache=True,
                alora_offsets=[suffix_ids.shape[1]] * len(batch),
            ).logits
            expected = _target_loss(full, suffix_ids, batch, [len(e.invocation) for e in batch])
            loss, tokens = batch_loss(model, batch, "alora", prefix)
    finally:
        model.remove_adapter("kept_logits")
    assert tokens == int(suffix_mask.sum())
    assert abs(loss.item() - expected.item()) < 1e-4


COMPLAINT = Path(__file__).parent / "data" / "complaint"  # 40 + 40 hand-written messages, two labels


@pytest.mark.slow  # about two minutes on a 2-core CPU: 80 optimiser steps, then 40 rows scored twice
def test_cli_learns_a_fresh_small_task_with_defaults_and_beats_prompting(tmp_path):
    """`alora-chain train data.jsonl --name NAME`, nothing else: no template, no lr, epochs or warmup.
    40 rows (32 trained on, 8 validation) then 40 held-out rows: at least 36 right."""
    from typer.testing import CliRunner

    from alora_chain.cli import app

    out = tmp_path / "complaint"
    run = CliRunner().invoke(app, ["train", str(COMPLAINT / "train.jsonl"), "--name", "complaint",
                                   "--test", str(COMPLAINT / "test.jsonl"), "--out", str(out)])
    assert run.exit_code == 0, run.output
    found = re.search(r"held-out accuracy: ([\d.]+) with the adapter, ([\d.]+) prompting", run.output)
    assert found, run.output
    adapter, prompted = map(float, found.groups())
    assert adapter >= 0.9 and adapter > prompted, run.output
    assert "one label for everything" not in run.output
    trained = ac.Intrinsic.load(out)
    assert trained.labels == ["complaint", "other"] and trained.template_obj.source == ""
    assert trained.training["steps"] >= TrainConfig.min_steps
    assert trained.training["config"]["epochs"] == 20 and trained.training["config"]["warmup_steps"] == 8


def test_cli_warns_loudly_when_the_adapter_answers_one_label(tmp_path, monkeypatch):
    from rich.console import Console

    from alora_chain.cli.train import _report
    from alora_chain.training import small_data
    from alora_chain.training.evaluate import EvalReport, PathReport, Prediction

    spec = small_data.infer_intrinsic(COMPLAINT / "test.jsonl", "complaint", tmp_path)
    rows = load_rows(COMPLAINT / "test.jsonl", spec)[:6]

    def answers_other(model, intrinsic, rows, progress=True) -> EvalReport:
        paths = {}
        for path in ("alora", "prompt"):
            predictions = [Prediction(line=r.line, target=r.target, output="other", probability=0.0, seconds=0.0)
                           for r in rows]
            paths[path] = PathReport(path=path, intrinsic=None, metrics={"accuracy": 0.5}, latency_median_s=0,
                                     latency_mean_s=0, predictions=predictions)
        return EvalReport(intrinsic="complaint", kind="choice", examples=len(rows), paths=paths)

    monkeypatch.setattr(small_data, "compare_with_prompting", answers_other)
    monkeypatch.setattr("alora_chain.model.load_model", lambda path=None: None)  # no model work here
    monkeypatch.setattr("alora_chain.intrinsic.Intrinsic.load", lambda folder: spec)
    console = Console(record=True, width=120)
    _report(console, SimpleNamespace(folder=tmp_path, validation=rows), None, None)
    text = console.export_text()
    assert "one label for everything" in text and "answered 'other' for all 6 held-out rows" in text

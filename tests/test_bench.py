"""The benchmark on a tiny grid: every section is measured, ratios are computed, files are written."""

from __future__ import annotations

import json
import math

from alora_chain.bench import BenchConfig, run_bench
from alora_chain.bench.report import PATHS, tables


def test_tiny_bench_writes_complete_results(model, tmp_path):
    config = BenchConfig(lengths=[40, 200], repeats=1, warmup=0, ks=[1, 2], text_tokens=2, turn_tokens=2)
    results = run_bench(model, config, log=lambda _: None)
    json_path, png_path = results.write(tmp_path / "out")
    data = json.loads(json_path.read_text())
    assert png_path.stat().st_size > 1000
    assert {r["intrinsic"] for r in data["latency"]} == {"choice", "text"}
    assert len(data["latency"]) == 4 and len(data["fork"]) == 2 and len(data["turn"]) == 2
    assert [r["k"] for r in data["multi"]] == [1, 2]
    lengths = sorted({r["history_tokens"] for r in data["latency"]})
    assert lengths[0] >= 40 and lengths[1] >= 200
    for row in data["latency"]:
        assert set(row["seconds"]) == set(PATHS) and all(v > 0 for v in row["seconds"].values())
        key = f"{row['intrinsic']}@{row['history_tokens']}"
        assert math.isclose(
            data["ratios"][f"lora/alora {key}"], row["seconds"]["lora"] / row["seconds"]["alora"]
        )
        assert data["ratios"][f"alora/floor {key}"] > 0
    text = next(r for r in data["latency"] if r["intrinsic"] == "text")
    assert 1 <= text["generated_tokens"] <= 2
    for row in data["fork"]:  # a fork with a suffix allocates at most what the suffix needs
        assert row["suffix_bytes"] < row["history_bytes"] and row["allocated_bytes"] <= row["nbytes_shared"]
    names = {t["name"] for t in data["targets"]}
    assert "aLoRA / floor (worst cell)" in names and any(n.startswith("2 intrinsics") for n in names)
    assert len(tables(results)) == 5


def test_switching_bench_times_both_switches_and_restores_models_own(model, monkeypatch):
    """The switching benchmark really runs PEFT's switch in its PEFT rounds, and leaves Model's."""
    from peft import PeftModel

    import alora_chain as ac
    from alora_chain.bench.switching import measure
    from alora_chain.intrinsic import builtin

    for name in ac.intrinsics():  # bound first, so every PEFT switch counted below is measure's
        builtin(name).bind(model)
    peft_switches = []
    real = PeftModel.set_adapter
    monkeypatch.setattr(PeftModel, "set_adapter", lambda self, name, **kw: peft_switches.append(name) or real(self, name, **kw))
    [row] = measure(model, [6], calls_per_count=4)
    assert row.adapters_loaded >= 6
    assert min(row.peft_switch_ms, row.model_switch_ms, row.peft_call_ms, row.model_call_ms) > 0
    assert len(peft_switches) == 40 + 4  # the timed switches, and one per call in the PEFT round
    assert not model.peft_switch  # Model's own switch is back


def test_offsets_bench_times_peft_hooks_in_its_peft_rounds_and_restores_models_own(model, monkeypatch):
    """The offsets benchmark really hands offsets on through PEFT's hooks in its PEFT rounds."""
    from peft.tuners.lora import LoraModel

    from alora_chain.bench.offsets import measure

    peft_hooks = []
    real = LoraModel._enable_peft_forward_hooks
    monkeypatch.setattr(
        LoraModel, "_enable_peft_forward_hooks", lambda self, *a, **k: peft_hooks.append(k) or real(self, *a, **k)
    )
    row = measure(model, calls=1)
    assert len(row.calls_ms) == 3  # text, choice and per-item calls, each timed both ways
    assert min(row.peft_hooks_ms, row.model_hooks_ms, *(ms for pair in row.calls_ms.values() for ms in pair)) > 0
    assert row.lora_layers >= 6 * 30 and row.modules > row.lora_layers
    # 40 timed hook entries; the PEFT rounds' forwards: each call's first one at least, never Model's
    assert len(peft_hooks) >= 40 + 2
    assert all("alora_offsets" in k for k in peft_hooks)
    assert any("adapter_names" in k for k in peft_hooks)  # the per-item call's mixed batch too
    assert not model.peft_hooks  # Model's own hooks are back

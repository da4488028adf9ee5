"""Intrinsic cards: a README per built-in with its held-out results and the commands behind them."""

from __future__ import annotations

import json
from pathlib import Path

from .intrinsic import Intrinsic

_SHOWN = ("accuracy", "macro_f1", "auroc", "ece", "brier", "exact_match", "token_f1", "recall_at_3")


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def results_table(results: dict) -> str:
    """Markdown table: one row per path (aLoRA / LoRA / prompt), metrics and median latency."""
    paths = results["paths"]
    metrics = [m for m in _SHOWN if any(m in p["metrics"] for p in paths.values())]
    lines = ["| path | " + " | ".join(metrics) + " | median latency |",
             "|---" * (len(metrics) + 2) + "|"]
    for name, path in paths.items():
        cells = [_fmt(path["metrics"].get(m)) for m in metrics]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {path['latency_median_s'] * 1000:.0f} ms |")
    return "\n".join(lines)


def write_card(folder: Path, results: dict, targets: list[str]) -> Path:
    """Write ``folder/README.md`` for the trained intrinsic in ``folder``."""
    spec = Intrinsic.load(folder)
    training = spec.training
    args = ", ".join(f"`{k}: {v}`" for k, v in spec.arguments.items()) or "none"
    lora_note = (
        "" if "lora" in results["paths"] else
        "\nThe standard-LoRA baseline was not trained for this intrinsic (CPU budget); see the README.\n"
    )
    text = f"""# {spec.name}

{spec.description}

* arguments: {args}
* output: `{spec.output.kind}`{f" labels {list(spec.labels)}" if spec.labels else ""}
* invocation: `{spec.invocation!r}`; aLoRA rank {training["config"].get("rank") or 32} on q/k/v, fp16 safetensors
* base model: {spec.base_model.name} (fingerprint `{spec.base_model.fingerprint}`)
* training: {training.get("steps")} steps on `{training.get("data")}` (sha256 `{training.get("data_sha256")}`),
  {training.get("wall_seconds")} s wall on the 2-core CPU (shared with other jobs while it ran)

## Held-out results ({results["examples"]} test rows, split by template and entity; `test.jsonl` here)

{results_table(results)}
{lora_note}
Targets: {"; ".join(targets) if targets else "see README"}

## Reproduce

```bash
python -m alora_chain.recipes {spec.name} --out intrinsics/{spec.name}            # data + aLoRA
python -m alora_chain.recipes {spec.name} --kind lora --out runs/{spec.name}-lora # LoRA baseline
python -m alora_chain.recipes {spec.name} --evaluate --out intrinsics/{spec.name} [--lora runs/{spec.name}-lora]
```
Data comes from `alora_chain.datagen.{spec.name}` (seed 0); `alora-chain eval {spec.name} test.jsonl` re-scores.
"""
    path = folder / "README.md"
    path.write_text(text)
    (folder / "results.json").write_text(json.dumps(results, indent=1))
    return path

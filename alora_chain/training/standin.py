"""Intrinsics with random adapter weights: for benchmarks and tests that need an adapter's shape
(its rank, layers, invocation, output kind), not a trained adapter's skill.

Timing an aLoRA fork against a LoRA recompute, or checking that a cached call equals a recomputed
one, needs an adapter that visibly changes the output and is the same on every run; training one
would take minutes. Never ship one of these as an intrinsic.
"""

from __future__ import annotations

from pathlib import Path

import torch
import yaml

from ..intrinsic import Intrinsic
from ..model import Model

QKV = ("q_proj", "k_proj", "v_proj")


def random_intrinsic(
    model: Model,
    folder: Path,
    name: str,
    *,
    output: dict,
    arguments: dict | None = None,
    template: str = "Documents: {{ documents | join(' | ') }}\nIs the question answerable?",
    invocation: str = "<|im_start|>check\n",
    kind: str = "alora",
    rank: int = 4,
    targets: tuple[str, ...] = QKV,
    seed: int = 0,
    b_scale: float = 0.2,
) -> Intrinsic:
    """Write ``folder/name`` (intrinsic.yaml, prompt.jinja, adapter/) and load it.

    Both A and B come from ``seed`` (PEFT would draw A from the global RNG), so a caller sees the
    same adapter on every run; B is non-zero (``b_scale`` standard deviation), so the adapter is
    not the no-op a fresh LoRA is.
    """
    from peft import LoraConfig

    ids = model.tokenizer(invocation, add_special_tokens=False)["input_ids"]
    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        target_modules=list(targets),
        alora_invocation_tokens=ids if kind == "alora" else None,
        task_type="CAUSAL_LM",
    )
    folder = Path(folder) / name
    folder.mkdir(parents=True)
    model.add_fresh_adapter(name, config)
    generator = torch.Generator().manual_seed(seed)
    for param_name, param in model.peft.named_parameters():
        if f".{name}." in param_name and "lora_A" in param_name:  # PEFT's kaiming-uniform bound
            bound = param.shape[1] ** -0.5
            param.data = (torch.rand(param.shape, generator=generator) * 2 - 1) * bound
        elif f".{name}." in param_name and "lora_B" in param_name:
            param.data = torch.randn(param.shape, generator=generator) * b_scale
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
    return Intrinsic.load(folder)

"""The machine and libraries a measurement ran on, for benchmark results and ``intrinsic.yaml``.

Speed depends on them, and so do weights: the same training command, data and seed repeats
bit for bit on one machine, but another CPU's vector units or another library version round
differently and, over hundreds of steps, train another adapter (groundedness v0.4 and v0.8).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

# the vector units torch's CPU kernels pick between: they set both speed and rounding
_CPU_FEATURES = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def machine_facts() -> dict:
    """CPU (name, vector units, cores), torch threads and python/torch/transformers/peft versions."""
    import peft
    import transformers

    info = _cpuinfo().splitlines()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
        platform.processor() or platform.machine(),
    )
    flags = set(next((line.split(":", 1)[1].split() for line in info if line.startswith("flags")), []))
    return {
        "cpu": cpu,
        "cpu_features": [f for f in _CPU_FEATURES if f in flags],
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": str(torch.__version__),  # a TorchVersion, which yaml.safe_dump refuses
        "transformers": transformers.__version__,
        "peft": peft.__version__,
    }


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux
        return ""

"""Performance benchmarks: aLoRA on a fork vs LoRA recompute, the base-model floor and deep copy + generate."""

from .report import BenchResults as BenchResults
from .runner import run_bench as run_bench
from .workload import BenchConfig as BenchConfig

"""Running a llama-server process for a Model: a free port on 127.0.0.1, health checks, restart, shutdown."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BackendError


@dataclass
class ServerConfig:
    """How ``load_model(backend="llama-server")`` starts its server."""

    slots: int = 2  # parallel sequences (-np): sessions on different slots run at the same time
    context: int | None = None  # tokens per slot (default: the model's max_position_embeddings)
    threads: int | None = None  # CPU threads (-t); None: llama.cpp's default (all physical cores)
    args: list[str] = field(default_factory=list)  # anything else for llama-server, e.g. ["-ngl", "99"]
    start_timeout: float = 120.0  # seconds to wait for /health after starting


def needs_no_repack() -> bool:
    """True on CPUs with AVX-512 or AMX.

    On such a Xeon, llama-server b11434 segfaulted at start while repacking Q4 weights for those
    kernels (seen when this backend was probed); ``--no-repack`` keeps the plain layout and starts.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " amx" in flags or " avx512f" in flags


class ServerProcess:
    """One llama-server child process; stopped by :meth:`stop`, when collected, or at exit (weakref.finalize)."""

    def __init__(self, binary: Path, model: Path, adapters: list[Path], config: ServerConfig, context: int) -> None:
        self.binary, self.model, self.config, self.context = binary, model, config, context
        self.adapters = list(adapters)  # --lora order = the server's adapter ids
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self.log = Path(tempfile.mkdtemp(prefix="alora-chain-server-")) / "llama-server.log"
        self._finalizer = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        c = self.config
        args = [str(self.binary), "-m", str(self.model), "--host", "127.0.0.1", "--port", str(self.port)]
        args += ["-np", str(c.slots), "-c", str(c.slots * self.context), "--no-webui"]
        # no host-memory prompt cache: it saves a slot's tokens and may load them into another request
        # later, including keys and values an aLoRA computed, which the backend's per-slot bookkeeping
        # (llama_server._Slot) would not know about
        args += ["--cache-ram", "0"]
        for adapter in self.adapters:
            args += ["--lora", str(adapter)]
        if self.adapters:
            args.append("--lora-init-without-apply")  # base by default; requests name their adapter
        if c.threads:
            args += ["-t", str(c.threads)]
        if needs_no_repack():
            args.append("--no-repack")
        return args + list(c.args)

    def start(self) -> None:
        """Start on a free port and wait until /health answers; raise BackendError with the log's tail."""
        self.stop()
        self.port = _free_port()
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        self._finalizer = weakref.finalize(self, _terminate, self.process)
        deadline = time.monotonic() + self.config.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BackendError(f"llama-server exited with {self.process.returncode} at start:\n{self.tail()}")
            if _healthy(self.url):
                return
            time.sleep(0.1)
        self.stop()
        raise BackendError(f"llama-server did not answer /health in {self.config.start_timeout:.0f} s:\n{self.tail()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self._finalizer is not None:
            self._finalizer()  # runs once; later calls (and collection, and exit) do nothing
            self._finalizer = None
        self.process = None

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _terminate(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):  # 503 while loading, refused before listening
        return False

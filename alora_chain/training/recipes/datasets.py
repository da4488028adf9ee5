"""Each recipe's train/validation/test rows, written once and reused only when made the same way."""

from __future__ import annotations

import json
from pathlib import Path

from ...errors import DataError
from ..datagen import (
    GENERATORS,
    ITEM_GENERATORS,
    SEEDED_GENERATORS,
    SEEDED_ITEM_GENERATORS,
    seeded,
    write_jsonl,
)
from .catalog import RECIPES, SPLITS

# generators that can loosen their documents into prose (alora_chain.training.datagen.prose), and that
# can write dense rows (documents stating every attribute: alora_chain.training.datagen.groundedness),
# and that can write fact-sheet rows (alora_chain.training.datagen.factsheets)
PROSE = ("groundedness",)
DENSE = ("groundedness",)
SHEETS = ("groundedness",)
SEEDED = tuple(SEEDED_GENERATORS)  # generators whose rows can be mixed with seed-sheet rows


def make_data(
    name: str, folder: Path, seed: int = 0, train_rows: int | None = None, prose: float = 0.0,
    dense: float = 0.0, sheets: float = 0.0, seeded_share: float = 0.0,
) -> dict[str, Path]:
    """Write train/val/test JSONL for ``name`` into ``folder`` (once); return their paths.

    A split already on disk is reused (certainty's labels cost a model answer per row), but only
    if ``data.json`` there says it was made for this intrinsic, seed, row count and prose rate;
    otherwise this raises ``DataError`` instead of training on rows the command line did not ask
    for. ``prose``: how often a document sentence is loosened, in every split (``PROSE`` only);
    ``dense``: the share of dense rows, in every split (``DENSE`` only); ``sheets``: the share
    of fact-sheet rows, in every split (``SHEETS`` only); ``seeded_share``: the share of rows made
    from the hand-written seed sheets, in every split (``SEEDED`` only; validation and test rows
    from the held-out domains).
    """
    if prose and name not in PROSE:
        raise DataError(f"--prose loosens documents of {', '.join(PROSE)} only, not {name}")
    if dense and name not in DENSE:
        raise DataError(f"--dense writes dense rows for {', '.join(DENSE)} only, not {name}")
    if sheets and name not in SHEETS:
        raise DataError(f"--sheets writes fact-sheet rows for {', '.join(SHEETS)} only, not {name}")
    if seeded_share and name not in SEEDED:
        raise DataError(f"--seeded mixes seed-sheet rows into {', '.join(SEEDED)} only, not {name}")
    folder.mkdir(parents=True, exist_ok=True)
    sizes = dict(zip(SPLITS, RECIPES[name].sizes))
    sizes["train"] = train_rows or sizes["train"]
    paths = {split: folder / f"{split}.jsonl" for split in sizes}
    manifest_path = folder / "data.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    # absent when off: older folders stay reusable
    options = {"prose": prose, "dense": dense, "sheets": sheets, "seeded": seeded_share}
    style = {k: rate for k, rate in options.items() if rate}
    for split, n in sizes.items():
        made_for = {"intrinsic": name, "seed": seed, "rows": n} | style
        if paths[split].is_file():
            _check_reusable(paths[split], manifest.get(split), made_for)
            continue
        one_item = RECIPES[name].per_item is not None and split != "test"
        rows = _rows(name, split, n, seed, one_item, style)
        if name == "certainty":
            rows = _label_certainty(rows)
        write_jsonl(paths[split], rows)
        manifest[split] = made_for
        manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    return paths


def _rows(name: str, split: str, n: int, seed: int, one_item: bool, style: dict) -> list[dict]:
    """The generator's rows, ``style["seeded"]`` of them made from the seed sheets instead."""
    style = dict(style)
    k = round(n * style.pop("seeded", 0.0))
    rows = (ITEM_GENERATORS if one_item else GENERATORS)[name](split, n - k, seed=seed, **style) if n > k else []
    if not k:
        return rows
    made = (SEEDED_ITEM_GENERATORS if one_item else SEEDED_GENERATORS)[name](split, k, seed=seed)
    return seeded.mixed(rows, made, split, seed)


def _check_reusable(path: Path, made_for: dict | None, wanted: dict) -> None:
    """Raise ``DataError`` when a split on disk was made with other settings than ``wanted``.

    Folders from before ``data.json`` existed are checked by their row count alone.
    """
    if made_for is None:
        with path.open(encoding="utf-8") as lines:
            made_for = {**wanted, "rows": sum(1 for line in lines if line.strip())}
    if made_for != wanted:
        differs = ", ".join(
            f"{k} {made_for.get(k)!r} (asked {wanted.get(k)!r})"
            for k in {**wanted, **made_for}  # a key only one side has (prose, dense, sheets) differs too
            if made_for.get(k) != wanted.get(k)
        )
        raise DataError(
            f"{path} was made with other settings: {differs}; delete it or pass another --data folder"
        )


def _label_certainty(rows: list[dict]) -> list[dict]:
    """Answer each question with the base model (greedy) and grade the answer."""
    from rich.progress import track

    from ... import Session, load_model
    from ..datagen.certainty import label_rows

    model = load_model()

    def answer(messages: list[dict]) -> str:
        session = Session(model)
        for message in messages:
            getattr(session, message["role"])(message["content"])
        return session.generate(max_new_tokens=24)

    answered = []
    for row in track(rows, description="answering certainty questions with the base model"):
        answered += label_rows([row], answer)
    return answered

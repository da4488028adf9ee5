"""CLI: ``python -m alora_chain.training.datagen NAME --out DIR [--seed S] [--train N --val N --test N]``."""

from __future__ import annotations

import argparse
from collections import Counter

from . import DEFAULT_SIZES, GENERATORS, write_splits


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m alora_chain.training.datagen", description=__doc__)
    parser.add_argument("name", choices=sorted(GENERATORS))
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seed", type=int, default=0)
    for split, n in DEFAULT_SIZES.items():
        parser.add_argument(f"--{split}", type=int, default=n, help=f"rows (default {n})")
    args = parser.parse_args(argv)
    sizes = {split: getattr(args, split) for split in DEFAULT_SIZES}
    for split, rows in write_splits(args.name, args.out, sizes, args.seed).items():
        if args.name == "certainty":  # unlabelled until the base model answers
            balance = Counter(r["meta"]["category"] for r in rows)
        elif args.name == "query_rewrite":
            balance = Counter(r["meta"]["pattern"] for r in rows)
        else:
            balance = Counter(r["target"] for r in rows)
        shares = ", ".join(f"{k}: {v} ({v / len(rows):.0%})" for k, v in balance.most_common())
        print(f"{split}: {len(rows)} rows -> {shares}")


if __name__ == "__main__":
    main()

"""``python -m alora_chain.training.recipes NAME --out DIR``: make, train or score a built-in (see ``cli``)."""

from .cli import main

main()

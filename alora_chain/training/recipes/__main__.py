"""``python -m alora_chain.training.recipes NAME --out DIR``: make, train or score a built-in (see ``cli``)."""

import sys

from ...errors import AloraChainError
from .cli import main

try:
    main()
except AloraChainError as exc:  # a bad command line or data folder: say what, not a traceback
    sys.exit(f"error: {exc}")

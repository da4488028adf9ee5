"""How each built-in intrinsic is made: recipes (``catalog``), their rows (``datasets``), training
and scoring from the command line (``cli``: ``python -m alora_chain.training.recipes NAME --out DIR``), and
held-out results and cards (``scoring``)."""

from .catalog import ALL_LINEAR as ALL_LINEAR
from .catalog import QKV as QKV
from .catalog import RECIPES as RECIPES
from .catalog import SPLITS as SPLITS
from .catalog import Recipe as Recipe
from .catalog import spec as spec
from .cli import main as main
from .datasets import make_data as make_data
from .scoring import evaluate_builtin as evaluate_builtin
from .scoring import gaps_to_alora as gaps_to_alora

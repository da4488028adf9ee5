"""The built-in recipes: each intrinsic's spec, data sizes and training budget, and what was tried.

A recipe is inert data (like an ``Intrinsic``); ``datasets`` writes its rows, ``cli`` trains it,
``scoring`` scores it and writes its card. The ``tried`` and ``limits`` texts go into
docs/training-log.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...intrinsic import Intrinsic
from ..config import TrainConfig
from ..train import spec_for_training

ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
QKV = ("q_proj", "k_proj", "v_proj")
SPLITS = ("train", "val", "test")  # the order of Recipe.sizes


@dataclass(frozen=True)
class Recipe:
    description: str
    output: dict
    arguments: dict[str, str] = field(default_factory=dict)
    sizes: tuple[int, int, int] = (640, 64, 200)  # train / validation / test rows (CPU budget)
    epochs: int = 4  # later epochs are cheap: prefix caches are reused, only suffixes recomputed
    lr: float = 1e-3
    # All linear layers, not the paper's q/k/v: the adapter runs on a handful of invocation
    # tokens only; with MLPs too, certainty met its targets.
    modules: tuple[str, ...] = ALL_LINEAR
    patience: int = 3  # validation passes (one per epoch) without improvement before stopping
    # the aLoRA's rank; None: TrainConfig's default (32). A LoRA baseline keeps its own (8)
    rank: int | None = None
    template_weights: str = "base"  # "adapter": the adapter reads the rendered template too
    init_from: str | None = None  # built-in intrinsic whose adapter the training starts from
    precision: str = TrainConfig.precision  # "bf16": trained under bfloat16 autocast
    # {"argument": ..., "combine": ...}: the adapter reads one item per call (see PerItem) and
    # trains and validates on the generator's one-item rows; the test split keeps whole lists.
    per_item: dict | None = None
    tried: str = ""  # other settings measured on this intrinsic, for its card
    # the command-line arguments of each training run that made the shipped adapter, when the
    # defaults above alone do not (a run continued from an earlier one's adapter), for its card
    stages: tuple[str, ...] = ()
    # the same for the LoRA baseline (each with --kind lora), when it took more than one run
    lora_stages: tuple[str, ...] = ()
    # a shell command run before the stages, for its card: restores a start that a later release
    # replaced (an older built-in's folder, from git history)
    setup: str = ""
    limits: str = ""  # what the shipped adapter is known to get wrong, for its card
    # > 0: the test rows are scored a second time with their documents loosened into prose at
    # this rate (test_prose.jsonl, shipped beside test.jsonl; see alora_chain.training.datagen.prose)
    prose_test: float = 0.0
    # > 0: test rows drawn again with this share of dense rows (every fact of the entity in its
    # document; test_dense.jsonl beside test.jsonl; see alora_chain.training.datagen.groundedness)
    dense_test: float = 0.0
    # the share of fact-sheet rows in a third test file, test_sheets.jsonl (groundedness; see
    # alora_chain.training.datagen.factsheets)
    sheets_test: float = 0.0
    # the same recipe trained again with other --train-seed values (aLoRA and LoRA), scored on
    # the test rows: how far a figure moves between training runs, for its card
    seeds: str = ""

    @property
    def test_variants(self) -> dict[str, float]:
        """The generator options each scored a second test file with (``test_<option>.jsonl``)."""
        variants = (("prose", self.prose_test), ("dense", self.dense_test), ("sheets", self.sheets_test))
        return {k: rate for k, rate in variants if rate}


def _restore_context_relevance(version: str, commit: str) -> str:
    """The shell command that puts context_relevance ``version`` from ``commit`` in runs/, for a card."""
    folder = f"runs/context_relevance-v{version}"
    return (
        f"mkdir -p {folder} && git archive {commit} intrinsics/context_relevance "
        f"| tar -x --strip-components=2 -C {folder}  # the start: context_relevance v{version}.0"
    )


# groundedness v0.4 and v0.8 started from context_relevance v0.1 (the template read with base weights),
# which v0.2 replaced in the package, and answerability v0.5 from v0.2: their cards restore the
# start from git, so that a later context_relevance release does not move it.
_CONTEXT_RELEVANCE_V01 = _restore_context_relevance("0.1", "eb8b9cd")
_CONTEXT_RELEVANCE_V02 = _restore_context_relevance("0.2", "6e674ff")
_BOOL = "value is True for the positive label; score is its probability"
RECIPES: dict[str, Recipe] = {
    "answerability": Recipe(
        f"Can the last user question be answered from the documents? {_BOOL}.",
        {"kind": "choice", "labels": ["answerable", "unanswerable"], "positive": "answerable"},
        {"documents": "list[str]"},
        # Shipped v0.5: one document per call (per_item, combine any), trained on one-document
        # rows from context_relevance's adapter, which already matches entities but was never
        # shown a document about the right entity that lacks the asked attribute. 2,560 rows:
        # at 1,280 (v0.2) the adapter had not learned that case yet. The adapter reads the
        # document and question (template_weights adapter, as the LoRA baseline does; v0.3 read
        # them with base weights: 7 points behind LoRA); the conversation before them still comes
        # from the base cache. One epoch from context_relevance v0.2: v0.4's three from v0.1 took
        # 98 minutes for the same validation accuracy.
        sizes=(2560, 96, 200),
        epochs=1,
        patience=2,
        template_weights="adapter",
        init_from="context_relevance",
        per_item={"argument": "documents", "combine": "any"},
        setup=_CONTEXT_RELEVANCE_V02,
        stages=("--init-from runs/context_relevance-v0.2 --out intrinsics/answerability",),
        limits="test split (100 rows), by case: 48 of 51 answerable rows right, 14 of 15 rows whose "
        "only lead is a document about the right entity without the asked fact, 16 of 17 with a "
        "look-alike entity's document (Corvo Nova 7 for Corvo Nova 9), 16 of 17 with both; the "
        "LoRA baseline: 49, 12, 17 and 16",
        tried="v0.4 (these rows and template, 3 epochs from context_relevance v0.1, 960 steps, "
        "5,859 s: 98 minutes): validation accuracy 0.94 as this adapter's, AUROC 0.981 against 0.971, "
        "validation loss 0.047 against 0.053 (all 96 validation rows, one sitting); it was shipped "
        "before and scored 0.92 (AUROC 0.98) on this test split, where its LoRA baseline, trained "
        "the same 3 epochs (6,681 s), scored 0.97 (AUROC 0.998): 5 points ahead (interval -12 to +1); "
        "at one epoch each (this card's rows) aLoRA and LoRA tie; "
        "v0.4's settings for 2 epochs under bf16 autocast (`--epochs 2 --precision bf16`): "
        "2,945 s, validation loss 0.076 against v0.4's 0.047, validation accuracy 0.94 for both, "
        "AUROC 0.96 against 0.98 (all 96 validation rows, one sitting); not scored on the test split; "
        "v0.3 (v0.4's rows and epochs, the template read with base weights; 1,496 s): "
        "validation loss 0.091 against v0.4's 0.047, validation accuracy 0.90 (AUROC 0.94) "
        "against 0.94 (AUROC 0.98) on all 96 validation rows, the figures that chose v0.4; it was "
        "shipped before and scored 0.90 (AUROC 0.94) on this test split, 7 points behind LoRA; "
        "v0.1 (q/k/v, 320 rows x 5 epochs, all documents in one call): 0.50 validation accuracy "
        "on 64 rows, 0.53 on this test split; v0.2 (v0.3's settings with 1,280 "
        "rows x 4 epochs, shipped for an hour): 0.67 validation accuracy, 0.70 on this test split "
        "(AUROC 0.81), right on 3 of 21 validation rows with a right-entity document lacking the fact; "
        "all linear layers, lr 1e-3: 320 rows x 6 epochs reached 0.67 validation accuracy but 0.54 "
        "on this test split (AUROC 0.50); 640 rows x 4 epochs 0.53 validation accuracy; the template "
        "read by the adapter (template_weights: adapter), all linear, 640 rows: validation loss 0.205 "
        "after one epoch (chance level), about 3x slower per first epoch, stopped; the question restated "
        "beside the documents, 960 rows x 4 epochs, all linear, started from context_relevance's "
        "adapter: 0.53 validation accuracy (training loss 0.11: memorised); the same started from "
        "groundedness v0.2's adapter: validation loss 0.207 after one epoch (chance level), stopped; "
        "context_relevance's own adapter per document (no training): 0.64 validation accuracy, "
        "0.00 on rows whose only lead is a document about the right entity without the asked fact; "
        "per document with v0.1's template (question not restated): 0.58 validation accuracy",
    ),
    "groundedness": Recipe(
        f"Is the last assistant reply supported by the documents? {_BOOL}.",
        {"kind": "choice", "labels": ["grounded", "ungrounded"], "positive": "grounded"},
        {"documents": "list[str]"},
        # v0.8: v0.4's recipe run again, unchanged (same command, data sha and seed), on a 2-core
        # AVX-512/AMX VM: 31 minutes where v0.4 took 92 on an AVX2-only one, and another adapter:
        # on one machine the recipe repeats bit for bit (two 10-step runs, identical weights), so
        # the CPU's rounding, or library versions v0.4 did not record, made the difference.
        # Shipped by the rule fixed before it trained: under 45 minutes, validation accuracy
        # >= 0.97 and AUROC >= 0.99, the hand-written tests, 7 of the ten probes. v0.4: v0.3's data
        # and start, with the adapter reading the rendered template too (template_weights
        # "adapter"), so the reply restated next to the document passes through adapted weights.
        # v0.3 (one document per call, per_item/any, a reply is grounded when one document states
        # all its claims; one-document rows whose negatives are mostly the entity's own document
        # misstated and a look-alike's document; started from context_relevance's adapter) read it
        # with base weights.
        sizes=(2560, 96, 200),
        epochs=1,
        patience=2,
        template_weights="adapter",
        init_from="context_relevance",
        per_item={"argument": "documents", "combine": "any"},
        setup=_CONTEXT_RELEVANCE_V01,
        stages=("--init-from runs/context_relevance-v0.1 --out intrinsics/groundedness",),
        prose_test=0.5,
        dense_test=0.5,
        limits="validation (96 one-document rows, `--evaluate --split val`): 1.00 accuracy, AUROC "
        "1.00 (v0.4 0.99, AUROC 1.00, scored in the same sitting; validation loss 0.0007 against "
        "v0.4's 0.011); its three test misses are faithful replies judged ungrounded (P 0.00 to "
        "0.45), one of them a reply that names its subject only by a pronoun (\"It began in "
        "2011.\"), and its four prose-row misses too; the LoRA row trained one epoch as this adapter "
        "did (validation loss 0.090); v0.3's LoRA baseline, three epochs "
        "from zeros (960 steps, 3,535 s), got all 100 test rows right (AUROC 1.00) and 0.93 on the "
        "prose rows in an earlier sitting, so given three times the steps LoRA draws level: the +17 "
        "points are the one-epoch budget and context_relevance's head start, not a ceiling LoRA "
        "cannot reach; each call reads "
        "one document, so a reply whose claims are spread over several documents can be judged ungrounded "
        "(the README's per-sentence check helps there); "
        "hand-written checks and ten probes (tests/data/builtin_examples.jsonl; pairs of a faithful "
        "reply and an unsupported one, written before any adapter scored them): 13 of 14 right "
        "(v0.4 10): the Pier 4 case, a document sentence that goes on after the value (\"opened its "
        "doors in 1987 on Pier 4\"), P(grounded) 0.80 (v0.4 0.08), \"Lumen Foods, based in Oslo, "
        "makes frozen pizza ...\" 0.83 (v0.4 0.35), \"Born in Leeds in 1961, Ada Brook is a "
        "cellist.\" 0.99 (v0.4 0.26); it still accepts a claim whose value the document states in "
        "another relation (\"Ada Brook is a cellist who teaches in Leeds.\" for \"born in Leeds\": "
        "P 1.00, v0.4 0.99), as in the demo, where a battery life answered with the Scout R2's lease "
        "price (\"650 euros per month\") passes (P 1.00, v0.4 0.93); twenty more probes on the "
        "demo's knowledge base (the same file: ten documents, each with a faithful reply and one "
        "with a value misstated, beside a second document; written after this adapter had "
        "accepted a misstated battery life there): 17 right (v0.4 18, scored in the same sitting), "
        "all ten faithful replies accepted, three misstated values accepted in documents that "
        "state several facts (\"lasts 20 hours\" for 14: P 0.96; 90 kg for 60: 0.85; 2,400 euros "
        "for 1,200: 0.99; v0.4 missed the 90 kg and a wrong co-founder); and the widest gap, "
        "24 cases written by hand in a person's prose (the same file: twelve documents that "
        "state three to five facts each, a kettle, a hotel, a bank, a trail ..., each with a "
        "faithful reply and one that misstates a value, six of them with another number or name "
        "of the same document; written before any adapter scored them): all twelve faithful "
        "replies accepted, but only 2 of the 12 misstatements caught, both digit swaps (1912 for "
        "1921, 2,410 for 2,140 metres); \"The Alder Hotel has 120 rooms.\" where the hotel has "
        "84 rooms and a staff of 120 passes (P 1.00), as does a range of 520 km for 410 (1.00): "
        "in documents like these it checks that the reply is about what the document is about, "
        "not its values. The generator's documents state at most the nineteen attribute kinds of "
        "`alora_chain.training.datagen.kb`, one fact a sentence; its dense test rows above, drawn with every "
        "fact of the entity in its document, show the same failure at a smaller scale: 0.91 there "
        "(0.97 on the plain rows), all six wrong replies that borrow another number of the "
        "document accepted (P 0.74 to 0.99), all thirteen plainly misstated values caught; "
        "a second 24 in a person's prose (tests/data/groundedness_fresh.jsonl: a telescope, a "
        "shelter, a vineyard, a marathon ...; written before any adapter scored them, first scored "
        "on this adapter after v0.10 was set aside): all twelve faithful replies accepted, 4 of the "
        "5 plainly misstated values caught (missed: \"Around 2,100 animals\" for 1,200, P 0.69) "
        "and none of the 7 that borrow another value of the same document (P 0.97 to 1.00)",
        # v0.9 tried dense rows (--dense 0.5) after the demo probes showed misstated values
        # accepted in documents stating several facts; its rule, fixed before it trained: under 45
        # minutes, validation as v0.7's bar, dense validation 3 points above this adapter's, the
        # hand-written tests. v0.5, v0.6 and v0.7 were tries at the training-time target (one epoch over 1,920 rows,
        # under 45 minutes) from other starts. The rule fixed before v0.5: validation no worse than
        # v0.4's; v0.5 met it and failed a hand-written test, so v0.6's rule added: those tests pass
        # as v0.4's do. v0.7's, fixed before it trained: validation accuracy >= 0.97 and AUROC >=
        # 0.99, then those tests and 7 of the ten probes. A validation split from the generator does
        # not hold a namesake's document.
        tried="v0.10 candidate (this command with half its rows fact sheets, a paragraph packing "
        "three to five facts of one subject whose wrong replies borrow another value of it: `--sheets 0.5 "
        "--init-from runs/context_relevance-v0.1 --data data/groundedness-sheets05`; 320 steps, 2,310 s "
        "at 195 tok/s on a 2-core AVX-512 AMD EPYC VM without AMX, machine to itself; validation loss "
        "0.0655): plain validation 0.948, AUROC 0.985 (this adapter 1.00 and 1.00 in the same sitting), "
        "under the rule fixed before it trained (0.97 and 0.99), so not shipped; neither the hand-written "
        "cases nor the test split scored it; "
        "v0.9 candidate (the same command on rows half of which are dense, `--dense 0.5 "
        "--init-from runs/context_relevance-v0.1 --data data/groundedness-dense05`; 320 steps, "
        "2,241 s at 207 tok/s on a 2-core AVX-512 AMD EPYC VM, machine to itself): validation "
        "0.99 (AUROC 1.00; this adapter 1.00 in the same sitting), dense validation (96 rows "
        "made with `--dense 0.5`) 1.00 against this adapter's 0.99, one point where the rule "
        "fixed before it trained asked for three, so not shipped; the probes above: 32 of the 34 "
        "written before it (this adapter 30; 19 of the 20 demo probes, missing only the 90 kg), "
        "and on the 24 person-written cases, written after this decision and scored under a "
        "second rule fixed before either adapter saw them (ship at 3 or more right above this "
        "adapter): 15 (this adapter 14), one more misstatement caught (4,800 students for "
        "6,400); not scored on the test split; "
        "v0.4 (this command on a 2-core AVX2-only AMD EPYC VM, shipped before this adapter: "
        "320 steps, 5,491 s at 80 tok/s; validation loss 0.011): 1.00 on this test split (AUROC "
        "1.00), 0.96 on the prose rows (AUROC 0.993), 10 of the 14 hand-written cases; it let the "
        "README's two-sentence Pelling reply pass as a whole (P 0.99), this adapter does not (0.00); "
        "the same command, data and seed made two adapters on two machines, 3 points apart on the test "
        "rows (within the noise of 100 rows): a difference between training runs, not settings; "
        "v0.5 candidate (1,920 new one-document rows x 1 epoch from context_relevance v0.2, "
        "which reads its template inside the adapter: `--train-rows 1920 --epochs 1 --init-from "
        "intrinsics/context_relevance`; 240 steps, 2,496 s, under 45 minutes): validation accuracy "
        "0.99, AUROC 1.00, as v0.4's in the same sitting (validation loss 0.0087 against "
        "0.011), but it failed the README's per-sentence check: \"Pelling Dairy is run by Jonas "
        "Whitlock.\" judged supported by \"Pelling is a village of 900 people.\" (P 0.73; 0.54 as "
        "one sentence under check_sentences; v0.4 and this adapter 0.00 and 0.00), the habit of its start, "
        "which calls a document that names the entity relevant; it got the Pier 4 case right (0.96) "
        "but rejected the same fact with the phrase moved to the front (0.31); on the ten probes "
        "above (Known limits), 8 right; not scored on the test split; "
        "v0.6 candidate (the same rows and epoch from answerability v0.5, which rejects that "
        "village document: `--init-from intrinsics/answerability`; 2,367 s): validation accuracy "
        "0.93, AUROC 0.975 (validation loss 0.083), the hand-written checks in tests/ as this "
        "adapter's, 7 of the ten probes, rejecting three faithful replies (P 0.03 to 0.27); not "
        "scored on the test split; "
        "v0.7 candidate (the same rows and epoch from context_relevance v0.1, v0.4's own "
        "start: `--train-rows 1920 --epochs 1 --data data/groundedness-1920 --init-from "
        "runs/context_relevance-v0.1`; 240 steps, 1,120 s on a 2-core AVX-512/AMX VM): validation "
        "accuracy 0.95, AUROC 0.995, against v0.4's 0.99 and 1.00 in the same sitting "
        "(validation loss 0.054 against 0.011), under the bar fixed before it trained (0.97), so "
        "neither the tests nor the test split scored it; "
        "v0.3 (this recipe with the template read by base weights, 3 epochs, 960 steps, 2,525 s "
        "at 196 tok/s; shipped before v0.4): best validation loss 0.0522 (v0.4 0.0110), "
        "validation accuracy 0.958 (AUROC 0.994), 0.90 on this test split (AUROC 0.967), 10 points "
        "behind LoRA; "
        "v0.1 (q/k/v, 320 rows x 5 epochs, reply only in the conversation): 0.44 validation "
        "accuracy, 0.50 on this test split; all linear layers, lr 1e-3, 640 rows x 4 epochs: 0.52 "
        "validation accuracy (AUROC 0.65); v0.2 (960 rows x 4 epochs, all documents in one call, "
        "shipped before v0.3): 0.78 validation accuracy, 0.80 on this test split (AUROC 0.85), "
        "right on 24 of 32 faithful and 1 of 5 borrowed-value validation rows; v0.2's adapter per "
        "document, untrained: 0.84 validation accuracy; v0.2 settings with 1,280 rows x 3 epochs: "
        "best validation loss 0.187 against v0.2's 0.153; v0.3 trained on for 2 epochs over "
        "1,280 new one-document rows whose documents were loosened into prose (`--init-from "
        "intrinsics/groundedness --train-rows 1280 --epochs 2 --data data/groundedness-prose1280`), "
        "chosen on validation (96 rows, plain and loosened the same way) against v0.3: "
        "comma clauses and joined sentences (`--prose 0.5`, before sentences could go on after the "
        "value; 1,805 s) 0.948 plain and 0.948 loosened (v0.3 0.958 and 0.969: comma clauses "
        "did not trouble it); with sentences also going on after the value (`--prose 0.35`, "
        "`--data data/groundedness-prose035-1280`; 1,653 s) 0.906 and 0.927 (v0.3 0.958 and "
        "0.948): every faithful reply on the loosened split accepted (48 of 48, v0.3 46), "
        "but look-alike values caught less often (16 of 19 against 17; plain 15 against 18)",
    ),
    "requirement_check": Recipe(
        f"Does the last assistant reply satisfy the requirement? {_BOOL}.",
        {"kind": "choice", "labels": ["yes", "no"], "positive": "yes"},
        {"requirement": "str"},
        # v0.3: v0.2's adapter (2,560 rows x 3 epochs, validation loss still falling: 0.324,
        # 0.243, 0.201) trained on for 2 epochs over 5,120 new rows (another world of entities:
        # the generator sizes its world by the row count). The defaults are that second stage.
        sizes=(5120, 64, 200),
        epochs=2,
        patience=1,
        stages=(
            "--train-rows 2560 --epochs 3 --patience 2 --data data/requirement_check-2560 "
            "--out runs/requirement_check-v0.2",
            "--init-from runs/requirement_check-v0.2 --data data/requirement_check-5120 "
            "--out intrinsics/requirement_check",
        ),
        lora_stages=(
            "--train-rows 2560 --epochs 3 --patience 2 --data data/requirement_check-2560 "
            "--out runs/requirement_check-lora-v0.2",
            "--init-from runs/requirement_check-lora-v0.2 --data data/requirement_check-5120 "
            "--out runs/requirement_check-lora",
        ),
        tried="v0.3.3, this adapter's second stage run again byte for byte (the command below, fp32, "
        "seed 0, from v0.2 restored from git) on a 2-core AVX-512 AMD EPYC VM with the machine to itself, "
        "to time the recipe unloaded (training is bit-for-bit repeatable on one VM: two 4-step runs gave the "
        "same adapter): 1,280 steps, 2,376 s (40 minutes, under 45), validation loss 0.118 against this "
        "adapter's 0.120, but not this adapter's bytes (presumably another VM's kernels, so another draw); "
        "validation accuracy 0.906 (AUROC 0.971), over the 0.86 bar, so scored once on the test split: 0.84 "
        "(AUROC 0.932) against this adapter's 0.90 and its LoRA baseline's 0.88 (interval -13 to +5), under "
        "the 0.86 fixed before it trained, so not shipped: the recipe fits the time target on an unloaded "
        "machine, but of the five second-stage draws so far only this adapter reached 0.86 on the test "
        "split (two more scored 0.78 and 0.84 there, two missed the validation bar); "
        "v0.3.2 candidate, v0.3.1 below run again with `--train-seed 1` (another initialisation "
        "and batch order, nothing else changed; the last draw, fixed before it trained): 1,280 steps, "
        "2,121 s (35 minutes), validation loss 0.122, validation accuracy 0.906 (58 of 64, AUROC 0.978), "
        "over the 0.86 bar, so scored once on the test split: 0.78 (AUROC 0.951) against this "
        "adapter's 0.90 and its LoRA baseline's 0.88 (interval -21 to 0), under the 0.85 target, so not "
        "shipped: on 64 validation rows a 35-minute run's accuracy moves by 5 points from draw to draw "
        "and does not foretell the test split's; "
        "v0.3.1 candidate, this adapter's second stage unchanged but for the prefix prefilled in "
        "bf16 (`--precision bf16-prefill`, from v0.2 restored from git as below): 1,280 steps, 2,081 s "
        "(35 minutes, machine to itself), validation loss 0.106 against this adapter's 0.120, but "
        "validation accuracy 0.859 (55 of 64, AUROC 0.972), a row under the 0.86 fixed before it "
        "trained, so not scored on the test split; "
        "v0.4 candidate, a one-run recipe for the time target: from zeros, 4,800 fresh rows x 2 "
        "epochs, the frozen prefix prefilled in bf16 (`--train-rows 4800 --epochs 2 --precision "
        "bf16-prefill --data data/requirement_check-4800`; 1,200 steps, 2,014 s: 34 minutes on a 2-core "
        "AVX-512 AMD EPYC VM, machine to itself but for two minutes of tests; validation loss 0.192 "
        "against this adapter's 0.120): validation accuracy 0.80 (AUROC 0.947), under the 0.86 fixed "
        "before it trained, so not scored on the test split (a first try, 8,000 rows x 1 epoch in fp32, "
        "was stopped after 80 steps: about 3.2 s a step, some 53 minutes in all); "
        "the second stage run again, unchanged, on a 2-core AVX-512/AMX VM, short tests beside "
        "it for its first 8 minutes (its start, v0.2, restored from git: `git archive 5e26c78 "
        "intrinsics/requirement_check`): 1,280 steps, 2,613 s (44 minutes, under the 45 this "
        "adapter's run missed by one), validation loss 0.110 (this adapter 0.120), but validation "
        "accuracy 0.83 (AUROC 0.959) against this adapter's 0.875 (0.962) in the same sitting, "
        "under the bar fixed before it trained (0.86), so not scored on the test split: the same "
        "command run again trains another adapter; "
        "v0.2 (the first stage alone, 2,560 rows x 3 epochs): 0.80 validation accuracy, "
        "AUROC 0.92; 0.69 on this test split, AUROC 0.82, against 0.74 (AUROC 0.81; interval -13 "
        "to +4) for its standard-LoRA baseline, the first stage's arguments with `--kind lora "
        "--out runs/requirement_check-lora-v0.2` (960 steps, 2,832 s; validation loss 0.160 "
        "against 0.201): at that budget 5 points behind LoRA; v0.1 (q/k/v, 320 rows x 5 epochs): 0.56 "
        "validation accuracy, 0.54 on this test split (its standard-LoRA baseline, same rows: 0.54, the "
        "prompted base model 0.53); all linear layers, lr 1e-3, 640 rows x 4 epochs: 0.84 accuracy on "
        "training rows, 0.55 on validation (memorises, does not generalise); the reply restated beside "
        "the requirement, 960 rows, all linear layers: validation loss 0.357 then 0.374 after epochs 1 "
        "and 2 (chance level, 0.35), stopped",
        limits="validation (64 rows): 0.875 accuracy, AUROC 0.96 (validation loss 0.158, 0.120 after "
        "the two epochs); by requirement type, bullets (3 of 5), word limits (max_words 2 of 3, "
        "min_words 4 of 6), mention of an attribute (1 of 2) and yes/no openings (2 of 3) are the weak "
        "kinds; the language, forbidden-word, comma, JSON and question checks were all right. Only the "
        "17 generated kinds are trained: a sentence count (\"at most two sentences\") is not one of "
        "them; hand-written checks (tests/data/builtin_examples.jsonl): \"End your reply with a "
        "question.\" on a reply that does is missed (P(yes) 0.22), and \"Answer in at most 10 words.\" on a "
        "28-word reply is wrong by a hair (0.52); on the demo's two-sentence summary (a reply unlike the "
        "generator's), \"Don't use any commas.\" is judged met (P 1.00) though it has one, \"Do not use "
        "the word 'cheap'.\" unmet (0.14) though it is met, and \"Is at most two sentences long.\" unmet "
        "(0.01). Training took two runs, 2,401 s then 2,785 s",
    ),
    "context_relevance": Recipe(
        f"Is the document relevant to the last user question? {_BOOL}.",
        {"kind": "choice", "labels": ["relevant", "irrelevant"], "positive": "relevant"},
        {"document": "str"},
        # v0.2: the adapter reads the rendered template (document and question restated) too, as
        # the LoRA baseline does; v0.1 read it with base weights. The LoRA baseline is unchanged:
        # template_weights only decides where an aLoRA's adaptation starts.
        template_weights="adapter",
        limits="the generator's negatives are look-alike entities, other entities and documents that "
        "only mention the asked one, never the asked entity's own document without the asked fact, "
        "and such a document can be judged relevant: hand-written checks "
        "(tests/data/builtin_examples.jsonl and others scored once beside them), \"Lumen Foods employs "
        "230 people in Oslo.\" for \"What does Lumen Foods make?\" (P(relevant) 1.00; v0.1 0.93) and a "
        "document on Redwick's town hall for its population (0.60; v0.1 0.21); on the demo's "
        "knowledge base, for \"What is the battery life of the Scout R2?\", the Scout R2's price "
        "document 1.00 (v0.1 0.93) and its safety-certification document 1.00 (v0.1 0.36), so in "
        "the demo every Scout R2 document is kept, as with v0.1; `answerability`, "
        "which `RagGuard` runs next on the documents kept, is trained on that case. Eight of ten such "
        "hand-written checks right, as v0.1 (which missed a casual \"how many people live in Redwick "
        "these days?\" instead, 0.25)",
        tried="chosen on validation (`--evaluate --split val`, 64 rows, one sitting): v0.1 (these "
        "rows and settings, the template read with base weights; 1,273 s): validation loss 0.086 "
        "against this adapter's 0.044, validation accuracy 0.938 against 0.984 (AUROC 0.968 and "
        "0.969); it was shipped before and scored 0.92 (AUROC 0.965) on this test split, 3 points "
        "behind LoRA; on v0.1's settings: lr 5e-4 (the same 640 rows x 4 epochs): best validation "
        "loss 0.125 against v0.1's 0.086 (still falling after 4 epochs: 0.262, 0.195, 0.166, 0.125); "
        "rank 64 (the same rows, epochs and lr; the LoRA baseline's settings unchanged): validation "
        "loss 0.062 against 0.086, validation accuracy 0.938 for both, AUROC 0.985 against 0.968; "
        "scored once on the test split, 0.91 (AUROC 0.971) against v0.1's 0.92: not shipped, no "
        "gain for twice the size (a choice that saw the test split); the LoRA row is its baseline "
        "trained again with the same command for a paired comparison (a v0.1-era run kept no "
        "per-row answers): that first run, on an earlier VM, scored 0.95 (AUROC 0.986), one row "
        "more than this one, so v0.2 is 0 or 1 point behind depending on the LoRA run; "
        "the generator with a fifth negative, the asked entity's own document without the asked "
        "fact (`same_entity`, weight 3 beside look-alike 4, same kind 2, other kind 2, mentions 2: "
        "72 of the 640 rows), these settings (2,671 s, evaluations beside it): on that generator's "
        "validation split (64 rows, 10 of them such documents) 0.83 accuracy, the same as this "
        "adapter's there, 2 of the 10 such rows right against none, 29 of 32 relevant rows against "
        "31, validation loss 0.159; not shipped, its LoRA baseline not finished: the case needs "
        "more rows than that (`answerability`'s one-document adapter learnt it from 2,560)",
    ),
    "query_rewrite": Recipe(
        "Rewrite the last user turn as a standalone query that resolves references to earlier turns.",
        {"kind": "text", "max_new_tokens": 32},
        # v0.2: the template restates the last question and the adapter reads it (template_weights
        # "adapter"), so the turn to rewrite passes through adapted weights, not only the base cache.
        # v0.5: the aLoRA at rank 128 (v0.2 had 32), the paper's lever for an aLoRA against a LoRA:
        # it adapts only the invocation and output tokens, so it does with fewer tokens what a LoRA
        # spreads over the whole history. The LoRA baseline keeps rank 8 and every other setting.
        sizes=(320, 64, 200),
        epochs=5,
        lr=5e-4,
        modules=QKV,
        patience=2,
        rank=128,
        template_weights="adapter",
        tried="chosen on validation BM25 recall@3 (`--evaluate --split val`, 64 rows; raw last turn "
        "0.16, gold rewrite 0.84) by a rule fixed before it trained (within 2 points of the LoRA's "
        "0.75 and token F1 at least 0.47): this adapter 0.75 (token F1 0.516; 200 steps, validation "
        "loss 0.665, 872 s on one thread, v0.5a beside it); v0.5a, rank 64, trained beside it: 0.75 "
        "but token F1 0.457, under the 0.47, so not scored on test (160 steps, validation loss 0.622, "
        "698 s); v0.2, the same recipe at rank 32, shipped before this adapter: 0.72 on validation "
        "(token F1 0.479), 0.65 on this test split (token F1 0.479, exact match 0.05; 160 steps, "
        "487 s) against its LoRA baseline's 0.68 (interval -9 to +3), 3 points behind, and with "
        "`--train-seed 1` for both 0.67 (token F1 0.530, 860 s) against 0.70 (token F1 0.549, 1,237 s), "
        "the same gap; the rest below are v0.2-era tries at rank 32 (\"this recipe\" is v0.2's): "
        "this recipe on all linear layers (`--modules q_proj,...,down_proj`, 160 steps, 1,293 s on "
        "one thread): 0.73 (token F1 0.460), one validation row more, but validation loss 0.682 "
        "against 0.591 and a lower token F1, so not worth a LoRA baseline on all linear layers to match; "
        "v0.1 (q/k/v, instruction only, read with base weights, lr 5e-4 x 2 epochs): 0.62 (token F1 "
        "0.444; its LoRA baseline then had lr 2e-3, not the same settings); this recipe with lr 2e-3: best validation loss 0.593 but recall 0.66 (token F1 0.382); the "
        "v0.1 template with lr 2e-3: validation loss 0.692, token F1 0.425; 1,280 rows x 3 epochs "
        "(v0.1 template, lr 2e-3): validation loss 0.824, token F1 0.386 (more rows of the same "
        "training templates fit them, not the validation ones); on 320 rows with the v0.1 template, "
        "each stopping early: all linear layers, lr 1e-3 (validation loss 0.647), rank 64 (0.723), "
        "lr 1e-3 (0.629), lr 5e-4 (0.614), lr 5e-4 with the adapter reading the instruction (0.634); "
        "this recipe on 640 rows (`--train-rows 640`; early stop after 240 steps, 865 s): 0.66 "
        "(token F1 0.456), validation loss 0.637 against 0.591: twice the rows of the same training "
        "templates did not close the gap to LoRA; v0.3 candidate (the template also restates the "
        "last four turns, each cut to 200 characters, read by the adapter: 78 invocation tokens per "
        "call against 35; 160 steps, validation loss 0.546, 680 s): 0.69 (token F1 0.503; its LoRA "
        "baseline 0.77, validation loss 0.516, 946 s), under the 0.72 fixed before it trained, so "
        "not scored on test and not shipped; v0.4 candidate (this recipe on all linear layers for "
        "the aLoRA and its LoRA baseline alike, to test whether an aLoRA, which cannot change the "
        "history's keys and values, gains more than a LoRA from o_proj and the MLP; both trained at "
        "once on one thread each): aLoRA 0.73 (token F1 0.460; 160 steps, validation loss 0.682, "
        "833 s), LoRA 0.78 (token F1 0.473; 160 steps, validation loss 0.600, 1,406 s): the gap "
        "widened to 5 points, so not scored on test (the bar fixed before they trained: within 2 "
        "points of its LoRA on validation) and not shipped",
        limits="one training run: the 1-point lead over the LoRA baseline is inside the interval "
        "(-6 to +8), and no other --train-seed has been run at rank 128 (at rank 32 a second seed "
        "moved both paths by 2 points); exact match (0.04) and token F1 (0.467) stay at or under "
        "v0.2's (0.05, 0.479) and the LoRA's (0.10, 0.516): more queries retrieve the right document, "
        "but fewer are word for word the gold rewrite; the adapter is 20 MB (rank 128 on q/k/v)",
    ),
    "jailbreak": Recipe(
        f"Does the last user turn try to make the assistant drop its rules or instructions? {_BOOL}.",
        {"kind": "choice", "labels": ["jailbreak", "benign"], "positive": "jailbreak"},
        # The conversation is already in the session's cache: the call reads only its instruction
        # (base weights), the invocation and the label. One epoch of 960 rows composed from the
        # hand-written seeds (alora_chain.training.datagen.guards).
        sizes=(960, 96, 200),
        epochs=1,
        patience=2,
    ),
    "prompt_injection": Recipe(
        f"Does the document carry instructions aimed at the assistant rather than its reader? {_BOOL}.",
        {"kind": "choice", "labels": ["injection", "clean"], "positive": "injection"},
        {"document": "str"},
        # The document is new text (a retrieved page, screened before it reaches the conversation),
        # read by the adapter after the invocation (template_weights "adapter"): read with base
        # weights, the same rows and steps scored 0.61 on the hand-written dev half, against 0.98.
        sizes=(960, 96, 200),
        epochs=1,
        patience=2,
        template_weights="adapter",
        tried="v0.1 A (these rows and steps, the document read with base weights before the "
        "invocation; 1,944 s): 0.612 on the hand-written dev half (AUROC 0.826), calling most "
        "injections clean, against this adapter's 0.976 there",
        limits="hand-written test half (130 rows, 13 kinds of case): 4 misses, two texts about prompt "
        "injection judged injections (9 of 11 right), one fake system message and one promotion "
        "aimed at the assistant passed as clean; 3 % of clean documents flagged. Trained 71 minutes "
        "with three runs sharing two cores (over the 45-minute budget)",
    ),
    "certainty": Recipe(
        "Probability that the base model's last answer is correct (expectation over digits 0..9).",
        {"kind": "score"},
        sizes=(320, 64, 160),
    ),
}


def spec(name: str, recipe: Recipe | None = None):
    recipe = recipe or RECIPES[name]
    base = spec_for_training(name, template=f"{name}.jinja", output=recipe.output, arguments=recipe.arguments)
    return Intrinsic.model_validate(
        base.model_dump(by_alias=True)
        | {
            "description": recipe.description,
            "template_weights": recipe.template_weights,
            "per_item": recipe.per_item,
        }
    )

"""Training aLoRA intrinsics (and standard LoRA baselines) with PEFT, using the cached-prefix trick.

An aLoRA adapter is inactive before its invocation tokens, so the history and the
instruction turn are constants for its gradient: each batch prefills those prefixes
under ``no_grad`` with the adapter off, then runs forward and backward only over the
invocation and target tokens on top of that cache. A standard LoRA changes every
token, so the baseline (``kind="lora"``) backpropagates through the whole sequence.

The token sequence of an example is built by ``invocation.invocation_tokens``, the code
``Session.invoke`` runs at inference: no train/serve skew.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file, save_file

from ..chat import conversation_ids
from ..errors import DataError, InvalidArgumentError
from ..intrinsic import Intrinsic
from ..invocation import invocation_tokens
from ..model import Model, load_model
from .config import PRECISIONS as PRECISIONS  # re-exported: callers import them from here too
from .config import Schedule as Schedule
from .config import TrainConfig
from .data import Row, load_rows
from .leakage import refuse_eval_rows
from .machine import machine_facts


@dataclass
class Example:
    """One training row as ids: prefix (base weights) | invocation + target (adapter)."""

    prefix: list[int]
    invocation: list[int]
    target: list[int]

    @property
    def suffix(self) -> list[int]:
        return self.invocation + self.target


@dataclass
class TrainResult:
    folder: Path
    steps: int
    best_val_loss: float  # of the weights kept: the best, or the last (Schedule.early_stopping)
    train_tokens_per_s: float  # tokens run through the model per second of step time (prefixes included)
    examples_per_s: float
    seconds: float  # wall time, all runs of a resumed training together
    history: list[dict] = field(default_factory=list)
    validation: list[Row] = field(default_factory=list)  # the rows held out (a validation file's, or DATA's)


def encode_example(model: Model, spec: Intrinsic, row: Row) -> Example:
    """The ids ``Session.invoke`` would run for ``row``, plus the target's ids."""
    tokenizer = model.tokenizer
    history = conversation_ids(tokenizer, row.messages)
    tokens = invocation_tokens(tokenizer, spec, row.messages, row.arguments, history)
    target = spec.target_ids(tokenizer, row.target, model.end_of_turn_id)
    return Example(tokens.history + tokens.prompt, tokens.invocation, target)


# -- batching -------------------------------------------------------------------------------
def _batches(examples: list[Example], size: int, rng: random.Random, bucket: int = 32) -> list[list[Example]]:
    """Seeded batches of similar prefix length (within ``bucket`` tokens: less padding).

    Buckets are coarse on purpose: sorting by exact length would group examples whose
    length correlates with their label (e.g. all short "yes" rows) into one batch.
    """
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i].prefix) // bucket, rng.random()))
    batches = [[examples[i] for i in order[s : s + size]] for s in range(0, len(order), size)]
    rng.shuffle(batches)
    return batches


def _left_pad(seqs: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, width - len(s) :] = torch.tensor(s)
        mask[i, width - len(s) :] = 1
    return ids, mask


def _right_pad(seqs: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return ids, mask


@dataclass
class _Prefix:
    """A batch's prefilled prefix: its padding mask and per-layer keys/values kept in fp16."""

    mask: torch.Tensor  # (B, P) 1 where a real token is
    keys: list[torch.Tensor]  # per layer (B, kv_heads, P, head_dim), fp16 to halve memory
    values: list[torch.Tensor]


def _prefill(model: Model, batch: list[Example]) -> _Prefix:
    from transformers import DynamicCache

    ids, mask = _left_pad([e.prefix for e in batch], model.tokenizer.pad_token_id or 0)
    cache = DynamicCache(config=model.config)
    with torch.no_grad(), model.peft.disable_adapter():
        model.peft(input_ids=ids, attention_mask=mask, **{model.cache_keyword: cache}, use_cache=True,
                   position_ids=(mask.cumsum(1) - 1).clamp(min=0), logits_to_keep=1)
    layers = cache.layers
    return _Prefix(mask, [lay.keys.half() for lay in layers], [lay.values.half() for lay in layers])


def _as_cache(model: Model, prefix: _Prefix):
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    for i, (k, v) in enumerate(zip(prefix.keys, prefix.values)):
        cache.update(k.float(), v.float(), i)
    return cache


def batch_loss(
    model: Model, batch: list[Example], kind: str, prefix: _Prefix | None = None
) -> tuple[torch.Tensor, int]:
    """Mean cross-entropy over the target tokens of ``batch``; returns (loss, tokens computed).

    For aLoRA, ``prefix`` (from :func:`_prefill`) may be reused across epochs: the prefix
    never sees the adapter, so its keys and values do not change while training.
    """
    peft, pad = model.peft, model.tokenizer.pad_token_id or 0
    if kind == "lora":  # the baseline: every token under the adapter, gradient through all of it
        ids, mask = _right_pad([e.prefix + e.suffix for e in batch], pad)
        starts = [len(e.prefix) + len(e.invocation) for e in batch]
        loss = _kept_target_loss(peft, ids, batch, starts, attention_mask=mask,
                                 position_ids=(mask.cumsum(1) - 1).clamp(min=0))
        return loss, int(mask.sum())
    prefix = prefix or _prefill(model, batch)
    cache = _as_cache(model, prefix)
    suffix_ids, suffix_mask = _right_pad([e.suffix for e in batch], pad)
    mask = torch.cat([prefix.mask, suffix_mask], dim=1)
    positions = prefix.mask.sum(1, keepdim=True) + torch.arange(suffix_ids.shape[1])[None]
    # right padding: every row's last S positions (its suffix and pads) get the adapter
    starts = [len(e.invocation) for e in batch]  # a template the adapter reads is part of it
    loss = _kept_target_loss(peft, suffix_ids, batch, starts, attention_mask=mask, position_ids=positions,
                             **{model.cache_keyword: cache}, use_cache=True,
                             alora_offsets=[suffix_ids.shape[1]] * len(batch))
    return loss, int(suffix_mask.sum())


def _autocast(config: TrainConfig):
    """The compute precision of ``config``'s adapter passes: bfloat16 autocast, or a no-op."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.precision == "bf16")


def _prefill_autocast(config: TrainConfig):
    """The compute precision of ``config``'s training-prefix prefills (validation's follow
    :func:`_autocast`): bfloat16 under "bf16" and "bf16-prefill"."""
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.precision != "fp32")


def _kept_target_loss(peft, ids, batch, starts, **forward) -> torch.Tensor:
    """:func:`_target_loss` with logits kept only from the position that predicts the batch's
    first target token on: the rest would be ignored by the loss, yet each position costs the
    49k-word head's forward and backward (about a fifth of this model's multiply-adds per token),
    which adds up when the adapter reads a long template or, for the LoRA baseline, everything."""
    keep = ids.shape[1] - min(starts) + 1
    logits = peft(input_ids=ids, logits_to_keep=keep, **forward).logits
    dropped = ids.shape[1] - keep
    return _target_loss(logits, ids[:, dropped:], batch, [s - dropped for s in starts])


def _target_loss(logits, ids, batch, starts) -> torch.Tensor:
    """Cross-entropy of each row's target tokens, which begin at ``starts[i]`` in ``ids``."""
    labels = torch.full_like(ids, -100)
    for i, (e, start) in enumerate(zip(batch, starts)):
        labels[i, start : start + len(e.target)] = ids[i, start : start + len(e.target)]
    return torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]).float(), labels[:, 1:].reshape(-1), ignore_index=-100
    )


# -- the loop -------------------------------------------------------------------------------
def train(
    data: str | Path,
    spec: Intrinsic,
    out: str | Path,
    config: TrainConfig | None = None,
    *,
    validation: str | Path | None = None,
    model_path: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> TrainResult:
    """Train ``spec``'s adapter on ``data`` (JSONL) and write a ready intrinsic folder to ``out``."""
    from peft import LoraConfig
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    config = config or TrainConfig()
    out = Path(out)
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    model = load_model(model_path)
    rows = load_rows(Path(data), spec, max_length=config.max_length, tokenizer=model.tokenizer)
    refuse_eval_rows(rows, data)  # never train on a line of the hand-written evaluation suites
    if validation is not None:
        val_rows = load_rows(Path(validation), spec, max_length=config.max_length, tokenizer=model.tokenizer)
    else:
        split = random.Random(config.seed).sample(range(len(rows)), len(rows))
        n_val = max(1, int(len(rows) * config.val_fraction)) if len(rows) > 4 else 0
        val_rows = [rows[i] for i in split[:n_val]]
        rows = [rows[i] for i in split[n_val:]]
    if not rows:
        raise DataError(f"{data}: no training rows")
    train_set = [encode_example(model, spec, r) for r in rows]
    val_set = [encode_example(model, spec, r) for r in val_rows]
    plan = config.schedule(len(train_set), len(val_set))
    # recorded with the numbers this run used, so that intrinsic.yaml reproduces it as it is
    config = replace(config, epochs=plan.epochs, warmup_steps=plan.warmup_steps)

    rank = config.resolved_rank()
    invocation = spec.invocation_ids(model.tokenizer)
    lora = LoraConfig(
        r=rank,
        lora_alpha=config.alpha or 2 * rank,
        lora_dropout=0.0,  # deterministic, and resumable without RNG bookkeeping
        target_modules=list(config.target_modules),
        alora_invocation_tokens=invocation if config.kind == "alora" else None,
        task_type="CAUSAL_LM",
    )
    model.add_fresh_adapter("in_training", lora)
    peft = model.peft
    peft.set_adapter("in_training")
    start = None
    if config.init_from:
        start = _load_initial_weights(peft, Path(config.init_from), lora)
    params = [p for n, p in peft.named_parameters() if "lora_" in n and ".in_training." in n]
    for p in peft.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    steps_per_epoch, total_steps = plan.steps_per_epoch, plan.total_steps
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_cosine(plan.warmup_steps, total_steps))

    ckpt = out / "checkpoints"
    state = _TrainState()
    if resume and (ckpt / "state.json").is_file():
        state = _load_checkpoint(ckpt, params, optimizer, schedule)
    earlier_wall = state.wall_seconds  # a resumed run's wall time counts its earlier runs too

    def wall() -> float:
        return earlier_wall + time.perf_counter() - started
    eval_every = config.eval_every or steps_per_epoch
    # fixed, length-bucketed batches (only their order changes per epoch), so that an
    # aLoRA batch's prefix is prefilled once and reused by every later epoch
    batches = _batches(train_set, config.batch_size, random.Random(config.seed))
    prefixes: dict[int, _Prefix] = {}

    def _prefix(index: int, epoch: int) -> _Prefix | None:
        """An aLoRA batch's prefilled prefix, kept for later epochs (``cache_prefixes``)."""
        if config.kind != "alora":
            return None
        if index in prefixes:
            return prefixes[index]
        with _prefill_autocast(config):
            prefix = _prefill(model, batches[index])
        state.tokens += int(prefix.mask.sum())
        if config.cache_prefixes and epoch + 1 < config.epochs:  # a batch first met in the last epoch is never met again
            prefixes[index] = prefix
        return prefix

    peft.train()
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("loss {task.fields[loss]:.3f} | {task.fields[tps]:.0f} tok/s"), TimeRemainingColumn()]
    with Progress(*columns, disable=not progress, transient=False) as bar:
        task = bar.add_task(f"train {spec.name} ({config.kind}, r={rank})", total=total_steps,
                            completed=state.step, loss=float("nan"), tps=0.0)
        stop_at = min(total_steps, state.step + config.max_steps) if config.max_steps else total_steps
        while state.step < stop_at and not state.stopped:
            epoch, within = divmod(state.step, steps_per_epoch)
            order = random.Random(config.seed * 1000 + epoch).sample(range(len(batches)), len(batches))
            for index in order[within:]:
                tick = time.perf_counter()
                prefix = _prefix(index, epoch)
                with _autocast(config):
                    loss, n_tokens = batch_loss(model, batches[index], config.kind, prefix)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad(set_to_none=True)
                state.step += 1
                state.tokens += n_tokens
                state.examples += len(batches[index])
                state.seconds += time.perf_counter() - tick
                tps = state.tokens / max(state.seconds, 1e-9)
                bar.update(task, advance=1, loss=loss.detach().item(), tps=tps)
                if progress and not bar.console.is_terminal and state.step % 10 == 0:  # logs, CI
                    print(f"step {state.step}/{total_steps} loss {loss.item():.4f} {tps:.0f} tok/s", flush=True)
                if state.step % eval_every == 0 or state.step == total_steps:
                    _validate(model, val_set, config, params, state, keep_best=plan.early_stopping)
                    if plan.early_stopping and state.bad_evals >= config.patience:
                        state.stopped = True
                if state.step % config.checkpoint_every == 0 or state.stopped or state.step in (stop_at, total_steps):
                    state.wall_seconds = wall()
                    _save_checkpoint(ckpt, params, optimizer, schedule, state)
                if state.stopped or state.step >= stop_at:
                    break
    peft.eval()
    if plan.early_stopping and state.best is not None:
        with torch.no_grad():
            for p, best in zip(params, state.best):
                p.copy_(best)
    result = TrainResult(out, state.step, state.best_loss, state.tokens / max(state.seconds, 1e-9),
                         state.examples / max(state.seconds, 1e-9), wall(), state.history, val_rows)
    _write_intrinsic(model, spec, config, lora, out, data, result, start)
    model.remove_adapter("in_training")
    return result


def _warmup_cosine(warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


@dataclass
class _TrainState:
    step: int = 0
    tokens: int = 0
    examples: int = 0
    seconds: float = 0.0  # step time: forward, backward, optimizer (the tokens/s denominator)
    # wall time of every run of this training so far, loading and validation included; a
    # checkpoint from before this field resumes at 0 and undercounts its earlier runs
    wall_seconds: float = 0.0
    best_loss: float = float("inf")
    bad_evals: int = 0
    stopped: bool = False
    history: list[dict] = field(default_factory=list)
    best: list[torch.Tensor] | None = None
    val_prefixes: dict = field(default_factory=dict, repr=False)  # not checkpointed: recomputed


@torch.no_grad()
def _validate(model: Model, val_set, config: TrainConfig, params, state: _TrainState, keep_best: bool) -> None:
    """Log the validation loss; with ``keep_best``, keep the best weights and count passes without gain."""
    if not val_set:
        return
    total, count = 0.0, 0
    for start in range(0, len(val_set), config.batch_size):
        batch = val_set[start : start + config.batch_size]
        prefix = None
        if config.kind == "alora" and config.cache_prefixes:
            if start not in state.val_prefixes:
                with _autocast(config):
                    state.val_prefixes[start] = _prefill(model, batch)
            prefix = state.val_prefixes[start]
        with _autocast(config):
            loss, _ = batch_loss(model, batch, config.kind, prefix)
        total += float(loss) * len(batch)
        count += len(batch)
    val_loss = total / count
    state.history.append({"step": state.step, "val_loss": val_loss})
    if not keep_best:  # the last weights are kept: theirs is the loss to report
        state.best_loss = val_loss
    elif val_loss < state.best_loss - 1e-4:
        state.best_loss, state.bad_evals = val_loss, 0
        state.best = [p.detach().clone() for p in params]
    else:
        state.bad_evals += 1


def _save_checkpoint(folder: Path, params, optimizer, schedule, state: _TrainState) -> None:
    """Adapter, optimizer moments and loop state; safetensors + JSON, written atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"param.{i}": p.detach().contiguous() for i, p in enumerate(params)}
    for i, p in enumerate(params):
        moments = optimizer.state.get(p, {})
        for key in ("exp_avg", "exp_avg_sq", "step"):
            if key in moments:
                tensors[f"opt.{i}.{key}"] = torch.as_tensor(moments[key]).reshape(-1).float().contiguous() \
                    if key == "step" else moments[key].contiguous()
    if state.best is not None:
        tensors |= {f"best.{i}": b.contiguous() for i, b in enumerate(state.best)}
    tmp = folder / "state.safetensors.tmp"
    save_file(tensors, tmp)
    tmp.replace(folder / "state.safetensors")
    meta = {k: v for k, v in vars(state).items() if k not in ("best", "val_prefixes")}
    meta["schedule"] = schedule.state_dict()
    (folder / "state.json.tmp").write_text(json.dumps(meta))
    (folder / "state.json.tmp").replace(folder / "state.json")


def _load_checkpoint(folder: Path, params, optimizer, schedule) -> _TrainState:
    meta = json.loads((folder / "state.json").read_text())
    tensors = load_file(folder / "state.safetensors")
    with torch.no_grad():
        for i, p in enumerate(params):
            p.copy_(tensors[f"param.{i}"])
            if f"opt.{i}.exp_avg" in tensors:
                optimizer.state[p] = {
                    "step": tensors[f"opt.{i}.step"].reshape(()),
                    "exp_avg": tensors[f"opt.{i}.exp_avg"].clone(),
                    "exp_avg_sq": tensors[f"opt.{i}.exp_avg_sq"].clone(),
                }
    schedule.load_state_dict(meta.pop("schedule"))
    for group, lr in zip(optimizer.param_groups, schedule.get_last_lr()):
        group["lr"] = lr  # the scheduler's state does not carry the optimizer's current rate
    state = _TrainState(**meta)
    if "best.0" in tensors:
        state.best = [tensors[f"best.{i}"].clone() for i in range(len(params))]
    return state


def _load_initial_weights(peft, folder: Path, lora) -> Path:
    """Copy an existing adapter's weights into the fresh ``in_training`` adapter (same shapes only);
    return the weights file."""
    from peft import set_peft_model_state_dict

    weights_file = next(
        (f for f in (folder / "adapter_model.safetensors", folder / "adapter" / "adapter_model.safetensors")
         if f.is_file()),
        None,
    )
    if weights_file is None:
        raise DataError(f"init_from: no adapter_model.safetensors in {folder} or {folder}/adapter")
    config = json.loads((weights_file.parent / "adapter_config.json").read_text())
    if config.get("r") != lora.r or sorted(config.get("target_modules", [])) != sorted(lora.target_modules):
        raise DataError(
            f"init_from: {weights_file.parent} has rank {config.get('r')} on {config.get('target_modules')}; "
            f"this run trains rank {lora.r} on {sorted(lora.target_modules)}"
        )
    weights = {k: v.float() for k, v in load_file(weights_file).items()}
    result = set_peft_model_state_dict(peft, weights, adapter_name="in_training")
    if getattr(result, "unexpected_keys", None):
        raise DataError(f"init_from: {len(result.unexpected_keys)} weights of {weights_file} fit no layer")
    return weights_file


def _write_intrinsic(model: Model, spec: Intrinsic, config, lora, out: Path, data, result, start) -> None:
    """The ready intrinsic folder: adapter (fp16 safetensors) + intrinsic.yaml.

    ``start`` is the weights file the run started from (``config.init_from``), or None.
    """
    from peft import get_peft_model_state_dict

    adapter_dir = out / "adapter"
    adapter_dir.mkdir(parents=True, exist_ok=True)
    weights = get_peft_model_state_dict(model.peft, adapter_name="in_training")
    save_file({k: v.detach().to(torch.float16).contiguous() for k, v in weights.items()},
              adapter_dir / "adapter_model.safetensors")
    lora_dict = lora.to_dict()
    lora_dict["base_model_name_or_path"] = model.identity.name
    lora_dict["target_modules"] = sorted(lora_dict["target_modules"])
    (adapter_dir / "adapter_config.json").write_text(json.dumps(lora_dict, indent=2, default=str))
    template_src = spec.template_obj.source
    (out / spec.template).parent.mkdir(parents=True, exist_ok=True)
    (out / spec.template).write_text(template_src)  # the folder is self-contained
    digest = hashlib.sha256(Path(data).read_bytes()).hexdigest()[:16]
    fields = spec.model_dump(by_alias=True, exclude={"metrics", "training"})
    recorded = asdict(config) | {"init_from": _recorded_path(config.init_from)}
    fields |= {
        "base_model": {"name": model.identity.name, "fingerprint": model.identity.fingerprint},
        "adapter": "adapter",
        "adapter_kind": config.kind,
        "training": {
            "data": Path(data).name,
            "data_sha256": digest,
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in recorded.items()},
            # what the run started from, by content: the folder at init_from may change later
            **({"init_from_sha256": hashlib.sha256(start.read_bytes()).hexdigest()[:16]} if start else {}),
            "steps": result.steps,
            "train_tokens_per_s": round(result.train_tokens_per_s, 1),
            "examples_per_s": round(result.examples_per_s, 2),
            "wall_seconds": round(result.seconds, 1),
            "environment": machine_facts(),  # which machine and versions made these weights
        },
        "metrics": {"best_val_loss": round(result.best_val_loss, 4)} if math.isfinite(result.best_val_loss) else {},
    }
    (out / "intrinsic.yaml").write_text(yaml.safe_dump(fields, sort_keys=False, allow_unicode=True))


def _recorded_path(path: str | None) -> str | None:
    """``init_from`` as intrinsic.yaml records it: a path (relative to the working directory when
    inside it, so that no machine's prefix is written), or None. A path, never a description:
    what it held is recorded by ``init_from_sha256``.

    Example: ``/work/main/intrinsics/context_relevance/adapter`` run from ``/work/main`` ->
    ``intrinsics/context_relevance/adapter``.
    """
    if path is None:
        return None
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return resolved.as_posix()


def spec_for_training(
    name: str,
    *,
    like: Intrinsic | None = None,
    template: str | None = None,
    invocation: str | None = None,
    output: dict | None = None,
    arguments: dict[str, str] | None = None,
    base=None,
) -> Intrinsic:
    """An Intrinsic to train: copied from ``like`` where given, with the overrides applied."""
    if like is None and output is None:
        raise InvalidArgumentError("give an output spec (or an intrinsic to copy it from)")
    fields = like.model_dump(by_alias=True) if like is not None else {}
    fields |= {"name": name, "base_model": {"name": "untrained", "fingerprint": "none"}}
    for key, value in (("template", template), ("invocation", invocation), ("output", output),
                       ("arguments", arguments)):
        if value is not None:
            fields[key] = value
    fields.setdefault("invocation", f"<|im_start|>{name}\n")
    spec = Intrinsic.model_validate(fields)
    return spec.with_folder(like.folder) if like is not None and like.folder else spec

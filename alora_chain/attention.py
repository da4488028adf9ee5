"""CPU attention for cached inference: grouped-query heads stay grouped, rows may share one flat cache.

transformers' ``sdpa`` path repeats every key/value head ``num_key_value_groups`` times
whenever an explicit mask is given (as for a ``choice`` intrinsic's trie mask): on CPU that
copies the whole history per layer per call, ~0.6 GB at 4k tokens for SmolLM2, and made a
choice call at 4k history ~4x its cost at 256. ``torch``'s SDPA takes ``enable_gqa=True``
with a mask on CPU, so we pass it through instead.

It also lets several rows (PEFT mixed-adapter batches, one intrinsic per row) attend to one
cache whose batch dimension is 1: the keys are broadcast with ``expand`` (a view, no copy).
On other devices it defers to transformers' own ``sdpa`` unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

NAME = "alora_chain_sdpa"


def grouped_sdpa(
    module: torch.nn.Module,
    query: torch.Tensor,  # (B, heads, Q, head_dim)
    key: torch.Tensor,  # (B or 1, kv_heads, K, head_dim)
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,  # (B or 1, 1, Q, >=K) bool or additive, or None
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    rows = query.shape[0]
    if key.shape[0] != rows:  # rows share one flat cache (Session.invoke_many): broadcast, no copy
        key = key.expand(rows, -1, -1, -1)
        value = value.expand(rows, -1, -1, -1)
    if query.device.type != "cpu" or kwargs.get("softcap") is not None:
        return sdpa_attention_forward(
            module,
            query,
            key,
            value,
            attention_mask,
            dropout=dropout,
            scaling=scaling,
            is_causal=is_causal,
            **kwargs,
        )
    if attention_mask is not None and attention_mask.ndim == 4:
        attention_mask = attention_mask[:, :, :, : key.shape[-2]]
    causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
    causal = query.shape[2] > 1 and attention_mask is None and causal
    out = F.scaled_dot_product_attention(
        query,
        key,
        value,
        attn_mask=attention_mask,
        dropout_p=dropout,
        scale=scaling,
        is_causal=causal,
        enable_gqa=query.shape[1] != key.shape[1],
    )
    return out.transpose(1, 2).contiguous(), None  # (B, Q, heads, head_dim)


def use_grouped_sdpa(hf) -> None:
    """Switch a transformers model that uses ``sdpa`` to :func:`grouped_sdpa` (idempotent)."""
    if NAME not in AttentionInterface._global_mapping:
        AttentionInterface.register(NAME, grouped_sdpa)
        AttentionMaskInterface.register(NAME, sdpa_mask)  # same masks as sdpa
    if getattr(hf.config, "_attn_implementation", None) == "sdpa":
        hf.set_attn_implementation(NAME)

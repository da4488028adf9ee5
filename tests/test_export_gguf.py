"""GGUF export: llama.cpp's metadata and tensor layout, and the delta it applies equals PEFT's."""

from __future__ import annotations

import json
import shutil

import gguf
import numpy as np
import pytest
import torch
from conftest import make_intrinsic
from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor
from typer.testing import CliRunner

from alora_chain.cli import app
from alora_chain.errors import BaseModelMismatchError, InvalidArgumentError, ModelLoadError
from alora_chain.export_gguf import BaseShape, export_gguf
from alora_chain.model import embedded_gguf

CHOICE = {"kind": "choice", "labels": ["yes", "no"], "positive": "yes"}
PROJECTIONS = {"q": "q_proj", "k": "k_proj", "v": "v_proj"}  # what make_intrinsic adapts


@pytest.fixture(scope="module")
def intrinsic(model, tmp_path_factory):
    return make_intrinsic(model, tmp_path_factory.mktemp("gguf"), output=CHOICE, seed=3)


@pytest.fixture(scope="module")
def exported(intrinsic, tmp_path_factory):
    path = export_gguf(intrinsic, tmp_path_factory.mktemp("out") / "check.gguf")
    return gguf.GGUFReader(path)


@pytest.fixture(scope="module")
def base_reader():
    return gguf.GGUFReader(embedded_gguf())


def _field(reader, key):
    return reader.fields[key].contents()


def _tensor(reader, name) -> torch.Tensor:
    t = next(t for t in reader.tensors if t.name == name)
    return torch.from_numpy(np.array(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32))


def _undo_permutation(model, weight: torch.Tensor, name: str) -> torch.Tensor:
    """transformers' own GGUF->HF row order (what it applies when it loads a Llama GGUF)."""
    config = {
        "num_attention_heads": model.config.num_attention_heads,
        "num_key_value_heads": model.config.num_key_value_heads,
    }
    return torch.from_numpy(LlamaTensorProcessor(config=config).process(weight.numpy(), name).weights)


def _peft_module(model, intrinsic, layer: int, proj: str):
    adapter = intrinsic.bind(model)
    attn = model.peft.base_model.model.model.layers[layer].self_attn
    return getattr(attn, PROJECTIONS[proj]), adapter


def test_metadata_is_what_llama_cpp_reads(model, intrinsic, exported):
    assert _field(exported, "general.type") == "adapter"
    assert _field(exported, "general.architecture") == "llama"
    assert _field(exported, "adapter.type") == "lora"
    assert _field(exported, "adapter.lora.alpha") == pytest.approx(8.0)
    field = exported.fields["adapter.alora.invocation_tokens"]
    assert field.types == [gguf.GGUFValueType.ARRAY, gguf.GGUFValueType.UINT32]
    assert field.contents() == intrinsic.invocation_ids(model.tokenizer)


def test_one_pair_per_projection_with_llama_cpp_shapes(model, exported, base_reader):
    names = {t.name for t in exported.tensors}
    expected = {
        f"blk.{i}.attn_{p}.weight.lora_{x}"
        for i in range(model.config.num_hidden_layers)
        for p in PROJECTIONS
        for x in "ab"
    }
    assert names == expected
    base = {t.name: tuple(int(n) for n in t.shape) for t in base_reader.tensors}
    shapes = {t.name: tuple(int(n) for n in t.shape) for t in exported.tensors}  # ggml ne order
    for name in {n.rsplit(".", 1)[0] for n in names}:
        a, b = shapes[name + ".lora_a"], shapes[name + ".lora_b"]
        assert a[1] == b[0] == 4  # rank
        assert (a[0], b[1]) == base[name][:2]  # llama.cpp: base ne0 == a ne0, base ne1 == b ne1
    assert all(t.tensor_type == gguf.GGMLQuantizationType.F32 for t in exported.tensors)


@pytest.mark.parametrize("proj", list(PROJECTIONS))
def test_delta_equals_peft_after_undoing_the_permutation(model, intrinsic, exported, proj):
    for layer in (0, model.config.num_hidden_layers - 1):
        module, adapter = _peft_module(model, intrinsic, layer, proj)
        name = f"blk.{layer}.attn_{proj}.weight"
        a, b = _tensor(exported, name + ".lora_a"), _tensor(exported, name + ".lora_b")
        assert torch.equal(a, module.lora_A[adapter].weight)  # lora_a is never permuted
        assert torch.equal(_undo_permutation(model, b, name), module.lora_B[adapter].weight)
        if proj != "v":
            assert not torch.equal(b, module.lora_B[adapter].weight)  # q/k really are reordered
        scale = _field(exported, "adapter.lora.alpha") / a.shape[0]  # llama.cpp's scale
        delta = _undo_permutation(model, scale * b @ a, name)
        torch.testing.assert_close(delta, module.get_delta_weight(adapter), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("proj", ["q", "k"])
def test_merged_base_gguf_reads_back_as_peft_merged_weight(model, intrinsic, exported, base_reader, proj):
    """Base GGUF + exported delta, read the way transformers reads a GGUF, equals HF weight + PEFT delta."""
    module, adapter = _peft_module(model, intrinsic, 5, proj)
    name = f"blk.5.attn_{proj}.weight"
    a, b = _tensor(exported, name + ".lora_a"), _tensor(exported, name + ".lora_b")
    merged = _tensor(base_reader, name) + _field(exported, "adapter.lora.alpha") / 4 * b @ a
    expected = module.base_layer.weight + module.get_delta_weight(adapter)
    torch.testing.assert_close(_undo_permutation(model, merged, name), expected, rtol=1e-5, atol=1e-5)


def test_standard_lora_has_no_invocation_tokens(model, tmp_path):
    spec = make_intrinsic(model, tmp_path, output=CHOICE, kind="lora", seed=4)
    reader = gguf.GGUFReader(export_gguf(spec, tmp_path / "lora.gguf", base=model, dtype="f16"))
    assert "adapter.alora.invocation_tokens" not in reader.fields
    assert _field(reader, "adapter.lora.alpha") == pytest.approx(8.0)
    assert all(t.tensor_type == gguf.GGMLQuantizationType.F16 for t in reader.tensors)


def test_missing_adapter_is_a_typed_error(model, tmp_path):
    spec = make_intrinsic(model, tmp_path, output=CHOICE, seed=5)
    shutil.rmtree(spec.adapter_path)
    with pytest.raises(ModelLoadError, match=r"adapter folder .* does not exist"):
        export_gguf(spec, tmp_path / "x.gguf")
    result = CliRunner().invoke(app, ["export-gguf", str(spec.folder), "--out", str(tmp_path / "x.gguf")])
    assert result.exit_code == 1 and "does not exist" in " ".join(result.output.split())  # rich wraps
    assert not (tmp_path / "x.gguf").exists()


def test_wrong_base_is_refused(intrinsic, tmp_path):
    with pytest.raises(InvalidArgumentError, match="Llama-architecture"):
        BaseShape.from_config({"model_type": "gpt2", "num_attention_heads": 12, "num_hidden_layers": 2}, "g")
    other = {"model_type": "llama", "num_attention_heads": 7, "num_key_value_heads": 7, "num_hidden_layers": 30}
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(other))
    with pytest.raises(BaseModelMismatchError, match="rows"):  # 576 q rows are not a multiple of 2 x 7 heads
        export_gguf(intrinsic, tmp_path / "y.gguf", base=folder)
    assert not (tmp_path / "y.gguf").exists()


def test_cli_writes_a_loadable_file(intrinsic, tmp_path):
    out = tmp_path / "cli.gguf"
    result = CliRunner().invoke(app, ["export-gguf", str(intrinsic.folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "--lora-init-without-apply" in result.output
    assert _field(gguf.GGUFReader(out), "general.type") == "adapter"

"""Mapping.rules(): the mapping compressed into rules over indices, on real implementations."""

# transformers imports triton (through torch._dynamo); triton's LLVM crashes the process when it is
# loaded after TensorFlow's (test_readers reads a TF checkpoint). Loaded here, at collection, it comes first.
import torch._dynamo  # noqa: F401

import weightbridge
from weightbridge import Mapping, Pair


def test_transformers_vit_into_timm_compresses_to_one_rule_per_weight_kind():
    from benchmarks.zoo.catalog import PAIRS

    pair = PAIRS["vit: transformers -> timm"]
    mapping = weightbridge.match(pair.build_source().weights(), pair.build_target().weights())

    assert mapping.rules() == [
        "cls_token <- vit.embeddings.cls_token",
        "pos_embed <- vit.embeddings.position_embeddings",
        "patch_embed.proj.weight <- vit.embeddings.patch_embeddings.projection.weight",
        "patch_embed.proj.bias <- vit.embeddings.patch_embeddings.projection.bias",
        "blocks.{i}.norm1.weight <- vit.layers.{i}.layernorm_before.weight",
        "blocks.{i}.norm1.bias <- vit.layers.{i}.layernorm_before.bias",
        "blocks.{i}.attn.qkv.weight <- vit.layers.{i}.attention.{q_proj,k_proj,v_proj}.weight  [a i, b i, c i -> (a + b + c) i]",
        "blocks.{i}.attn.qkv.bias <- vit.layers.{i}.attention.{q_proj,k_proj,v_proj}.bias  [a, b, c -> (a + b + c)]",
        "blocks.{i}.attn.proj.weight <- vit.layers.{i}.attention.o_proj.weight",
        "blocks.{i}.attn.proj.bias <- vit.layers.{i}.attention.o_proj.bias",
        "blocks.{i}.norm2.weight <- vit.layers.{i}.layernorm_after.weight",
        "blocks.{i}.norm2.bias <- vit.layers.{i}.layernorm_after.bias",
        "blocks.{i}.mlp.fc{j}.weight <- vit.layers.{i}.mlp.fc{j}.weight",
        "blocks.{i}.mlp.fc{j}.bias <- vit.layers.{i}.mlp.fc{j}.bias",
        "norm.weight <- vit.layernorm.weight",
        "norm.bias <- vit.layernorm.bias",
        "head.weight <- classifier.weight",
        "head.bias <- classifier.bias",
    ]


def signature(names):
    return tuple((name, (2,), "float32") for name in names)


def test_indices_counted_from_another_start_become_offsets():
    pairs = [("stages.0.conv.weight", "layer1.conv.weight"), ("stages.1.conv.weight", "layer2.conv.weight")]
    mapping = Mapping(pairs=tuple(Pair(my, (their,), "") for my, their in pairs),
                      my_signature=signature(m for m, _ in pairs), their_signature=signature(t for _, t in pairs),
                      options={})
    assert mapping.rules() == ["stages.{i}.conv.weight <- layer{i+1}.conv.weight"]


def test_pairs_whose_indices_follow_no_pattern_get_a_rule_each():
    pairs = [("blocks.0.fc.weight", "layers.5.fc.weight"), ("blocks.1.fc.weight", "layers.2.fc.weight")]
    mapping = Mapping(pairs=tuple(Pair(my, (their,), "o i -> i o") for my, their in pairs),
                      my_signature=signature(m for m, _ in pairs), their_signature=signature(t for _, t in pairs),
                      options={})
    assert mapping.rules() == ["blocks.0.fc.weight <- layers.5.fc.weight  [o i -> i o]",
                               "blocks.1.fc.weight <- layers.2.fc.weight  [o i -> i o]"]

"""Templates: repeated weights are matched once per template and paired by the order of their indices."""

import numpy as np
import pytest

import weightbridge
from weightbridge._leaves import read_leaves
from weightbridge._templates import fold, template_key


class Shape:
    """A shape-only leaf, as a signature file or a meta tensor gives it."""

    def __init__(self, *shape, dtype="float32"):
        self.shape, self.dtype = shape, dtype


def moe_checkpoints(layers, experts, hidden=16, inner=8):
    """A transformers-style and an original-release-style mixture of experts, and the true mapping."""
    transformers_style, original_style, truth = {}, {}, {}

    def add(mine, theirs, *shape):
        transformers_style[mine], original_style[theirs], truth[mine] = Shape(*shape), Shape(*shape), theirs

    add("model.embed_tokens.weight", "tok_embeddings.weight", 50, hidden)
    for l in range(layers):
        add(f"model.layers.{l}.self_attn.q_proj.weight", f"layers.{l}.attention.wq.weight", hidden, hidden)
        add(f"model.layers.{l}.self_attn.k_proj.weight", f"layers.{l}.attention.wk.weight", hidden // 2, hidden)
        add(f"model.layers.{l}.self_attn.v_proj.weight", f"layers.{l}.attention.wv.weight", hidden // 2, hidden)
        add(f"model.layers.{l}.self_attn.o_proj.weight", f"layers.{l}.attention.wo.weight", hidden, hidden)
        add(f"model.layers.{l}.mlp.gate.weight", f"layers.{l}.feed_forward.gate.weight", experts, hidden)
        for e in range(experts):
            add(f"model.layers.{l}.mlp.experts.{e}.gate_proj.weight", f"layers.{l}.feed_forward.experts.{e}.w1.weight", inner, hidden)
            add(f"model.layers.{l}.mlp.experts.{e}.down_proj.weight", f"layers.{l}.feed_forward.experts.{e}.w2.weight", hidden, inner)
            add(f"model.layers.{l}.mlp.experts.{e}.up_proj.weight", f"layers.{l}.feed_forward.experts.{e}.w3.weight", inner, hidden)
        add(f"model.layers.{l}.input_layernorm.weight", f"layers.{l}.attention_norm.weight", hidden)
        add(f"model.layers.{l}.post_attention_layernorm.weight", f"layers.{l}.ffn_norm.weight", hidden)
    add("model.norm.weight", "norm.weight", hidden)
    add("lm_head.weight", "output.weight", 50, hidden)
    return transformers_style, original_style, truth


def test_template_key_replaces_list_indices_and_keeps_numbered_names():
    assert template_key(("model", "layers", "7", "mlp", "experts", "3", "w1", "weight")) == (
        ("model", "layers", "{}", "mlp", "experts", "{}", "w1", "weight"), (7, 3))
    assert template_key(("params", "layers_12", "Dense_0", "kernel")) == (("params", "layers_{}", "Dense_{}", "kernel"), (12, 0))
    assert template_key(("layer1", "0", "conv2", "weight")) == (("layer1", "{}", "conv2", "weight"), (0,))


def test_fold_groups_by_template_shape_and_dtype_in_index_order():
    tree = {
        "blocks.10.fc.weight": np.zeros((4, 4)),
        "blocks.2.fc.weight": np.zeros((4, 4)),
        "blocks.3.fc.weight": np.zeros((8, 4)),
        "head.weight": np.zeros((4,)),
    }
    leaves, _, _ = read_leaves(tree, "my", ".")
    templates = fold(leaves)
    assert [[leaves[k].name for k in t.members] for t in templates] == [
        ["blocks.2.fc.weight", "blocks.10.fc.weight"],
        ["blocks.3.fc.weight"],
        ["head.weight"],
    ]


def test_repeated_checkpoint_is_matched_on_its_templates():
    mine, theirs, truth = moe_checkpoints(layers=12, experts=8)
    mapping = weightbridge.match(theirs, mine)
    assert {pair.my: pair.their for pair in mapping.pairs} == {m: (t,) for m, t in truth.items()}
    assert [pair.my for pair in mapping.pairs] == list(mine)
    nodes = dict(mapping.graph.nodes(data=True))
    # 3 single weights, 7 templates per layer and 3 per expert a side, not 12 * (7 + 8 * 3) + 3 = 375 leaves
    assert len(nodes) == 2 * 13
    assert sorted(d["instances"] for n, d in nodes.items() if n[0] == "my") == [1] * 3 + [12] * 7 + [96] * 3


def test_pairs_of_a_template_carry_its_evidence():
    mine, theirs, _ = moe_checkpoints(layers=3, experts=4)
    mapping = weightbridge.match(theirs, mine)
    first, last = mapping["model.layers.0.mlp.experts.0.up_proj.weight"], mapping["model.layers.2.mlp.experts.3.up_proj.weight"]
    assert last.their == ("layers.2.feed_forward.experts.3.w3.weight",)
    assert (last.cost, last.margin, last.features, last.transform) == (first.cost, first.margin, first.features, first.transform)


def test_cost_graph_shows_the_templates():
    mine, theirs, _ = moe_checkpoints(layers=6, experts=4)
    graph = weightbridge.cost_graph(theirs, mine)
    names = {d["name"]: d["instances"] for _, d in graph.nodes(data=True)}
    assert names["model.layers.0.mlp.experts.0.gate_proj.weight"] == 24
    assert names["layers.0.feed_forward.experts.0.w1.weight"] == 24
    assert names["lm_head.weight"] == 1


def test_templates_that_one_side_names_apart_are_split():
    # Flax numbers a list's modules (layers_0, layers_1); the torch side numbers dense layers by name
    # (fc1, fc2): their templates cannot pair with my single weights, so they are split and matched one by one.
    mine = {f"params/layers_{k}/Dense_{d}/kernel": Shape(16, 16) for k in range(6) for d in range(2)}
    theirs = {f"layers.{k}.fc{d + 1}.weight": Shape(16, 16) for k in range(6) for d in range(2)}
    mapping = weightbridge.match(theirs, mine)
    assert {pair.my: pair.their[0] for pair in mapping.pairs} == {
        f"params/layers_{k}/Dense_{d}/kernel": f"layers.{k}.fc{d + 1}.weight" for k in range(6) for d in range(2)}


def test_templates_whose_indices_disagree_are_matched_leaf_by_leaf():
    # Both sides fold conv weights into a template of 2, but mine repeats over blocks and theirs over
    # convs: paired in sorted order, blocks.1.conv1 would get blocks1.conv_2. Their indices disagree,
    # so the templates are split and every leaf is matched on its own evidence.
    mine = {f"blocks.{b}.conv{c}.weight": Shape(4, 4, 3, 3) for b in range(2) for c in (1, 2)}
    theirs = {f"blocks{b + 1}.conv_{c}.weight": Shape(4, 4, 3, 3) for b in range(2) for c in (1, 2)}
    mapping = weightbridge.match(theirs, mine)
    assert {pair.my: pair.their[0] for pair in mapping.pairs} == {
        f"blocks.{b}.conv{c}.weight": f"blocks{b + 1}.conv_{c}.weight" for b in range(2) for c in (1, 2)}
    assert {d["instances"] for _, d in mapping.graph.nodes(data=True)} == {1}


def test_flat_and_nested_indices_pair_by_enumeration_order():
    mine = {"head.weight": Shape(3, 8), **{f"blocks.{k}.norm.weight": Shape(8) for k in range(6)}}
    theirs = {f"stages.{s}.blocks.{b}.norm.weight": Shape(8) for s in range(2) for b in range(3)}
    theirs["classifier.weight"] = Shape(3, 8)
    mapping = weightbridge.match(theirs, mine)
    assert [pair.their[0] for pair in mapping.pairs][1:] == [f"stages.{s}.blocks.{b}.norm.weight" for s in range(2) for b in range(3)]


def test_hint_naming_one_index_is_applied_leaf_by_leaf():
    mine = {f"blocks.{k}.weight": Shape(8) for k in range(4)}
    theirs = {f"layers.{k}.weight": Shape(8) for k in range(4)}
    with pytest.raises(weightbridge.HintError, match=r"hint \('blocks.1', 'layers.1'\) is never needed"):
        weightbridge.match(theirs, mine, hints=[("blocks.1", "layers.1")])


def test_unmatched_template_is_reported_with_every_member():
    mine, theirs, _ = moe_checkpoints(layers=2, experts=2)
    del theirs["layers.0.attention.wo.weight"]
    mapping = weightbridge.match(theirs, mine, ignore_unmatched_outputs=True)
    assert mapping.unmatched_my == ("model.layers.0.self_attn.o_proj.weight",)
    assert mapping["model.layers.1.self_attn.o_proj.weight"].their == ("layers.1.attention.wo.weight",)



def test_a_split_template_keeps_every_candidate_of_its_size():
    # keras-hub GPT-2 lists its feed-forward norm after the MLP, transformers before it: the first
    # solve on templates pairs some norms wrongly, their members disagree and they are split. Had only
    # those been split, the feed-forward norm's beta would have lost its true partner (h.{}.ln_2.bias,
    # then single leaves) and kept mlp.c_proj.bias; the whole size class is split instead.
    from benchmarks.zoo.catalog import PAIRS
    from benchmarks.zoo.verify import verify

    # The order that puts the norms elsewhere is no evidence for them once names speak against it
    # (ln_1 is the self-attention norm): names decide.
    result = verify(PAIRS["gpt2: transformers -> keras-hub"], weightbridge.adapt)
    assert result.outcome == "correct", result.message

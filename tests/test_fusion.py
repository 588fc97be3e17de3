"""Fused and stacked weights: q, k, v into qkv, gate and up into gate_up, experts into one stacked tensor,
and back; the order inside a concatenation is decided by evidence or reported."""

import numpy as np
import pytest
import torch

import weightbridge

D = 8


def random_tree(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}


def zeros_tree(shapes):
    return {name: np.zeros(shape, np.float32) for name, shape in shapes.items()}


def bert_like(layers=2):
    """Separate query, key and value, as transformers' BERT and ViT keep them."""
    shapes = {}
    for l in range(layers):
        for name in ("query", "key", "value"):
            shapes[f"encoder.layer.{l}.attention.self.{name}.weight"] = (D, D)
            shapes[f"encoder.layer.{l}.attention.self.{name}.bias"] = (D,)
        shapes[f"encoder.layer.{l}.attention.output.dense.weight"] = (D, D)
        shapes[f"encoder.layer.{l}.attention.output.dense.bias"] = (D,)
        shapes[f"encoder.layer.{l}.intermediate.dense.weight"] = (4 * D, D)
    return shapes


def timm_like(layers=2):
    """One fused qkv projection, as timm's ViT."""
    shapes = {}
    for l in range(layers):
        shapes[f"blocks.{l}.attn.qkv.weight"] = (3 * D, D)
        shapes[f"blocks.{l}.attn.qkv.bias"] = (3 * D,)
        shapes[f"blocks.{l}.attn.proj.weight"] = (D, D)
        shapes[f"blocks.{l}.attn.proj.bias"] = (D,)
        shapes[f"blocks.{l}.mlp.fc1.weight"] = (4 * D, D)
    return shapes


def qkv(their, layer, kind):
    return [their[f"encoder.layer.{layer}.attention.self.{name}.{kind}"] for name in ("query", "key", "value")]


def test_separate_query_key_value_fuse_into_qkv():
    their = random_tree(bert_like())
    mapping = weightbridge.match(their, zeros_tree(timm_like()))
    pieces = "encoder.layer.0.attention.self.query.{0} + encoder.layer.0.attention.self.key.{0} + encoder.layer.0.attention.self.value.{0}"
    assert [(p.my, " + ".join(p.their), p.transform) for p in mapping.pairs][:5] == [
        ("blocks.0.attn.qkv.weight", pieces.format("weight"), "a i, b i, c i -> (a + b + c) i"),
        ("blocks.0.attn.qkv.bias", pieces.format("bias"), "a, b, c -> (a + b + c)"),
        ("blocks.0.attn.proj.weight", "encoder.layer.0.attention.output.dense.weight", ""),
        ("blocks.0.attn.proj.bias", "encoder.layer.0.attention.output.dense.bias", ""),
        ("blocks.0.mlp.fc1.weight", "encoder.layer.0.intermediate.dense.weight", ""),
    ]
    result = mapping.apply(their)
    for layer in range(2):
        np.testing.assert_array_equal(result[f"blocks.{layer}.attn.qkv.weight"], np.concatenate(qkv(their, layer, "weight")))
        np.testing.assert_array_equal(result[f"blocks.{layer}.attn.qkv.bias"], np.concatenate(qkv(their, layer, "bias")))


def test_fused_qkv_splits_into_query_key_value():
    their = random_tree(timm_like())
    mapping = weightbridge.match(their, zeros_tree(bert_like()))
    split = [(p.my, p.their, p.transform, p.axes, p.part) for p in mapping.pairs if p.my.startswith("encoder.layer.1.attention.self")]
    assert split == [
        (f"encoder.layer.1.attention.self.{name}.{kind}", (f"blocks.1.attn.qkv.{kind}",),
         "(a + b + c) i -> a i, b i, c i" if kind == "weight" else "(a + b + c) -> a, b, c", (("a", D), ("b", D), ("c", D)), part)
        for part, name in enumerate(("query", "key", "value")) for kind in ("weight", "bias")
    ]
    result = mapping.apply(their)
    for part, name in enumerate(("query", "key", "value")):
        np.testing.assert_array_equal(result[f"encoder.layer.1.attention.self.{name}.weight"],
                                      their["blocks.1.attn.qkv.weight"][part * D:(part + 1) * D])


def test_torch_pieces_fuse_into_a_flax_kernel_in_the_layout_the_other_weights_prove():
    their, my = {}, {}
    for l in range(2):
        for name in ("query", "key", "value"):
            their[f"layer.{l}.attention.{name}.weight"] = (D, D)
        their[f"layer.{l}.attention.out.weight"] = (D, D)
        their[f"layer.{l}.mlp.fc1.weight"] = (4 * D, D)
        my[f"layers_{l}/attn/qkv/kernel"] = (D, 3 * D)
        my[f"layers_{l}/attn/out/kernel"] = (D, D)
        my[f"layers_{l}/mlp/fc1/kernel"] = (D, 4 * D)
    their = random_tree(their)
    mapping = weightbridge.match(their, zeros_tree(my))
    assert mapping["layers_1/attn/qkv/kernel"].transform == "a i, b i, c i -> i (a + b + c)"
    assert mapping["layers_1/attn/out/kernel"].transform == "a b -> b a"
    result = mapping.apply(their)
    expected = np.concatenate([their[f"layer.1.attention.{name}.weight"] for name in ("query", "key", "value")]).T
    np.testing.assert_array_equal(result["layers_1/attn/qkv/kernel"], expected)


def test_grouped_query_attention_fuses_pieces_of_different_sizes():
    heads, kv = 16, 4
    their, my = {}, {}
    for l in range(2):
        their[f"model.layers.{l}.self_attn.q_proj.weight"] = (heads, heads)
        their[f"model.layers.{l}.self_attn.k_proj.weight"] = (kv, heads)
        their[f"model.layers.{l}.self_attn.v_proj.weight"] = (kv, heads)
        their[f"model.layers.{l}.self_attn.o_proj.weight"] = (heads, heads)
        their[f"model.layers.{l}.mlp.up_proj.weight"] = (2 * heads, heads)
        my[f"layers.{l}.attention.qkv_proj.weight"] = (heads + 2 * kv, heads)
        my[f"layers.{l}.attention.o_proj.weight"] = (heads, heads)
        my[f"layers.{l}.mlp.up_proj.weight"] = (2 * heads, heads)
    their = random_tree(their)
    mapping = weightbridge.match(their, zeros_tree(my))
    pair = mapping["layers.0.attention.qkv_proj.weight"]
    assert pair.their == tuple(f"model.layers.0.self_attn.{p}_proj.weight" for p in "qkv")
    assert pair.transform == "a i, b i, c i -> (a + b + c) i"
    assert mapping["layers.0.attention.o_proj.weight"].their == ("model.layers.0.self_attn.o_proj.weight",)
    back = weightbridge.match(random_tree(my), zeros_tree({k: v.shape for k, v in their.items()}))
    assert back["model.layers.0.self_attn.k_proj.weight"].axes == (("a", heads), ("b", kv), ("c", kv))
    assert back["model.layers.0.self_attn.k_proj.weight"].part == 1


def gated(their_names, my_names, sorted_their=False):
    their, my = {}, {}
    for l in range(2):
        for name in their_names:
            their[f"layers.{l}.ffn.{name}.weight"] = (D, 2 * D) if name in ("w2", "down_proj", "lin_b") else (2 * D, D)
        for name in my_names:
            my[f"layers.{l}.mlp.{name}.weight"] = (D, 2 * D) if name == "down_proj" else (4 * D, D)
    if sorted_their:
        their = dict(sorted(their.items()))
    return random_tree(their), zeros_tree(my)


def test_gate_up_proj_takes_gate_and_up_in_the_order_its_name_spells():
    their, my = gated(("up_proj", "down_proj", "gate_proj"), ("gate_up_proj", "down_proj"))
    mapping = weightbridge.match(their, my)
    assert mapping["layers.1.mlp.gate_up_proj.weight"].their == ("layers.1.ffn.gate_proj.weight", "layers.1.ffn.up_proj.weight")
    result = mapping.apply(their)
    np.testing.assert_array_equal(result["layers.1.mlp.gate_up_proj.weight"],
                                  np.concatenate([their["layers.1.ffn.gate_proj.weight"], their["layers.1.ffn.up_proj.weight"]]))


def test_w1_and_w3_fuse_in_their_enumeration_order():
    their, my = gated(("w1", "w3", "w2"), ("gate_up_proj", "down_proj"))
    mapping = weightbridge.match(their, my)
    assert mapping["layers.0.mlp.gate_up_proj.weight"].their == ("layers.0.ffn.w1.weight", "layers.0.ffn.w3.weight")
    assert mapping["layers.0.mlp.down_proj.weight"].their == ("layers.0.ffn.w2.weight",)


def test_unevidenced_order_inside_a_concatenation_is_an_ambiguity_with_the_hint_that_settles_it():
    # lin_a and lin_c say nothing of gate and up (as Meta's w1 and w3 do), and they come in alphabetical order.
    their, my = gated(("lin_a", "lin_b", "lin_c"), ("gate_up_proj", "down_proj"), sorted_their=True)
    with pytest.raises(weightbridge.AmbiguityError) as raised:
        weightbridge.match(their, my)
    assert str(raised.value) == (
        "the mapping is not unique: 1 fused weight can be put together in more than one way at the same cost: "
        "no name spells the order of the pieces (as 'qkv' or 'gate_up_proj' do) and the pieces' enumeration order is "
        "alphabetical, so it is no evidence.\n"
        "  my layers.0.mlp.gate_up_proj.weight (32, 8) and 1 more alike <- their\n"
        "    layers.0.ffn.lin_a.weight + layers.0.ffn.lin_c.weight\n"
        "    or layers.0.ffn.lin_c.weight + layers.0.ffn.lin_a.weight\n"
        "Say which pieces go in which order with hints (my_substring, \"their_piece + their_piece\"), or "
        "(\"my_piece + my_piece\", their_substring) for a split; if the first rows above are right:\n"
        "  hints=[(\"gate_up_proj\", \"lin_a + lin_c\")]"
    )
    assert raised.value.hints == [("gate_up_proj", "lin_a + lin_c")]
    mapping = weightbridge.match(their, my, hints=[("gate_up_proj", "lin_c + lin_a")])
    assert mapping["layers.0.mlp.gate_up_proj.weight"].their == ("layers.0.ffn.lin_c.weight", "layers.0.ffn.lin_a.weight")


def test_an_order_hint_also_settles_a_split():
    their, my = gated(("lin_a", "lin_b", "lin_c"), ("gate_up_proj", "down_proj"), sorted_their=True)
    with pytest.raises(weightbridge.AmbiguityError) as raised:
        weightbridge.match(my, their)
    assert raised.value.hints == [("lin_a + lin_c", "gate_up_proj")]
    mapping = weightbridge.match(random_tree({k: v.shape for k, v in my.items()}), their, hints=raised.value.hints)
    assert [(p.my, p.part) for p in mapping.pairs if "gate_up" in p.their[0]][:2] == [("layers.0.ffn.lin_a.weight", 0), ("layers.0.ffn.lin_c.weight", 1)]


def test_a_fused_tie_carries_the_pieces_in_the_order_its_first_rows_propose():
    their, my = gated(("lin_a", "lin_b", "lin_c"), ("gate_up_proj", "down_proj"), sorted_their=True)
    for source, target, hints in ((their, my, [("gate_up_proj", "lin_a + lin_c")]), (my, their, [("lin_a + lin_c", "gate_up_proj")])):
        with pytest.raises(weightbridge.AmbiguityError) as raised:
            weightbridge.match(source, target)
        assert raised.value.hints == hints
        proposed = [(p.my, p.their, p.transform, p.part) for p in weightbridge.match(source, target, hints=hints)]
        assert [(p.my, p.their, p.transform, p.part) for p in raised.value.tentative] == proposed
    # The split: both pieces of both layers are tied, in the order the hint names them.
    assert raised.value.tied == {f"layers.{l}.ffn.{piece}.weight": 1 for piece in ("lin_a", "lin_c") for l in range(2)}
    assert proposed[0] == ("layers.0.ffn.lin_a.weight", ("layers.0.mlp.gate_up_proj.weight",), "(a + b) i -> a i, b i", 0)


def test_an_order_hint_naming_missing_pieces_is_an_error():
    their, my = gated(("lin_a", "lin_b", "lin_c"), ("gate_up_proj", "down_proj"), sorted_their=True)
    with pytest.raises(weightbridge.HintError, match="hint \\('gate_up_proj', 'lin_a \\+ lin_d'\\): no weight of `their` contains 'lin_d'"):
        weightbridge.match(their, my, hints=[("gate_up_proj", "lin_a + lin_d")])


def mistral_reference(hidden, intermediate, experts, layers, kv, vocabulary):
    """The original Mixtral checkpoint layout: a list of experts with w1 (gate), w2 (down), w3 (up)."""
    shapes = {"tok_embeddings.weight": (vocabulary, hidden)}
    for l in range(layers):
        shapes[f"layers.{l}.attention.wq.weight"] = (hidden, hidden)
        shapes[f"layers.{l}.attention.wk.weight"] = (kv, hidden)
        shapes[f"layers.{l}.attention.wv.weight"] = (kv, hidden)
        shapes[f"layers.{l}.attention.wo.weight"] = (hidden, hidden)
        shapes[f"layers.{l}.feed_forward.gate.weight"] = (experts, hidden)
        for e in range(experts):
            shapes[f"layers.{l}.feed_forward.experts.{e}.w1.weight"] = (intermediate, hidden)
            shapes[f"layers.{l}.feed_forward.experts.{e}.w2.weight"] = (hidden, intermediate)
            shapes[f"layers.{l}.feed_forward.experts.{e}.w3.weight"] = (intermediate, hidden)
        shapes[f"layers.{l}.attention_norm.weight"] = (hidden,)
        shapes[f"layers.{l}.ffn_norm.weight"] = (hidden,)
    shapes["norm.weight"] = (hidden,)
    shapes["output.weight"] = (vocabulary, hidden)
    return shapes


def test_a_list_of_experts_stacks_into_transformers_mixtral_experts_and_back():
    from transformers import MixtralConfig, MixtralForCausalLM

    hidden, intermediate, experts = 16, 24, 4
    config = MixtralConfig(vocab_size=32, hidden_size=hidden, intermediate_size=intermediate, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, num_local_experts=experts, num_experts_per_tok=2)
    with torch.device("meta"):
        my = MixtralForCausalLM(config).state_dict()
    their = random_tree(mistral_reference(hidden, intermediate, experts, 2, 8, 32))
    mapping = weightbridge.match(their, my)
    gate_up = mapping["model.layers.1.mlp.experts.gate_up_proj"]
    assert gate_up.their == tuple(f"layers.1.feed_forward.experts.{e}.{w}.weight" for e in range(experts) for w in ("w1", "w3"))
    assert gate_up.transform == "a i, b i, a i, b i, a i, b i, a i, b i -> (1 + 1 + 1 + 1) (a + b) i"
    down = mapping["model.layers.1.mlp.experts.down_proj"]
    assert down.their == tuple(f"layers.1.feed_forward.experts.{e}.w2.weight" for e in range(experts))
    assert down.transform == "i j, i j, i j, i j -> (1 + 1 + 1 + 1) i j"
    assert mapping["model.layers.1.input_layernorm.weight"].their == ("layers.1.attention_norm.weight",)
    assert all(len(p.their) == 1 for p in mapping.pairs if "experts" not in p.my)

    result = mapping.apply(their)
    expected = np.stack([np.concatenate([their[f"layers.1.feed_forward.experts.{e}.{w}.weight"] for w in ("w1", "w3")])
                         for e in range(experts)])
    np.testing.assert_array_equal(result["model.layers.1.mlp.experts.gate_up_proj"], expected)

    back = weightbridge.match(result, {k: np.zeros_like(v) for k, v in their.items()})
    assert back["layers.0.feed_forward.experts.2.w3.weight"].transform == (
        "(1 + 1 + 1 + 1) (a + b) i -> a i, b i, a i, b i, a i, b i, a i, b i")
    assert back["layers.0.feed_forward.experts.2.w3.weight"].part == 5
    restored = back.apply(result)
    for name, value in their.items():
        np.testing.assert_array_equal(restored[name], value)


def test_save_load_and_reverse_restore_the_exact_values(tmp_path):
    their = random_tree(bert_like())
    mapping = weightbridge.match(their, zeros_tree(timm_like()))
    mapping.save(tmp_path / "mapping.json")
    loaded = weightbridge.Mapping.load(tmp_path / "mapping.json")
    assert [(p.my, p.their, p.transform, p.axes, p.part) for p in loaded] == [(p.my, p.their, p.transform, p.axes, p.part) for p in mapping]
    mine = loaded.apply(their)
    assert [name for name, _ in loaded.iter_apply(their)] == list(timm_like())
    for name, value in loaded.iter_apply(their):
        np.testing.assert_array_equal(value, mine[name])
    reverse = loaded.reverse()
    assert reverse["encoder.layer.0.attention.self.value.bias"].transform == "(a + b + c) -> a, b, c"
    assert reverse["encoder.layer.0.attention.self.value.bias"].axes == (("a", D), ("b", D), ("c", D))
    assert reverse["encoder.layer.0.attention.self.value.bias"].part == 2
    restored = reverse.apply(mine)
    assert list(restored) == list(their)
    for name, value in their.items():
        np.testing.assert_array_equal(restored[name], value)
    assert reverse.reverse().apply(restored).keys() == mine.keys()
    for name, value in reverse.reverse().apply(restored).items():
        np.testing.assert_array_equal(value, mine[name])


def test_iter_apply_streams_the_pieces_of_a_split():
    their = random_tree(timm_like())
    mapping = weightbridge.match(their, zeros_tree(bert_like()))
    streamed = dict(mapping.iter_apply(their))
    for part, name in enumerate(("query", "key", "value")):
        np.testing.assert_array_equal(streamed[f"encoder.layer.0.attention.self.{name}.bias"], their["blocks.0.attn.qkv.bias"][part * D:(part + 1) * D])


def projections_apart(layers=3):
    """q, k, v and an output projection o, each a module of its own beside them, as transformers' DINOv2."""
    shapes = {}
    for l in range(layers):
        for name in "qkvo":
            shapes[f"encoder.layer.{l}.attention.{name}_proj.weight"] = (D, D)
            shapes[f"encoder.layer.{l}.attention.{name}_proj.bias"] = (D,)
        shapes[f"encoder.layer.{l}.mlp.fc1.weight"] = (4 * D, D)
    return shapes


@pytest.mark.parametrize("layers", [3, 8])
@pytest.mark.parametrize("piece", ["q", "k", "v"])
def test_a_fused_group_takes_no_member_whose_module_pairs_elsewhere(piece, layers):
    # One weight of block 1's q, k, v missing: qkv.weight has no partner (templates fold the other blocks
    # and leave block 1 leaf by leaf). o_proj.weight has the size of
    # the missing piece, but its bias pairs with proj.bias: o_proj is the output projection, never a piece
    # of qkv (a group that took it would leave proj.weight without a partner and load garbage).
    dropped = f"encoder.layer.1.attention.{piece}_proj.weight"
    their = {name: value for name, value in random_tree(projections_apart(layers)).items() if name != dropped}
    mapping = weightbridge.match(their, zeros_tree(timm_like(layers)), ignore_unmatched_inputs=True, ignore_unmatched_outputs=True)
    assert mapping.unmatched_my == ("blocks.1.attn.qkv.weight",)
    assert mapping.unmatched_their == tuple(f"encoder.layer.1.attention.{name}_proj.weight" for name in "qkv" if name != piece)
    assert mapping["blocks.1.attn.proj.weight"].their == ("encoder.layer.1.attention.o_proj.weight",)
    assert mapping["blocks.1.attn.qkv.bias"].their == tuple(f"encoder.layer.1.attention.{name}_proj.bias" for name in "qkv")
    assert mapping["blocks.0.attn.qkv.weight"].their == tuple(f"encoder.layer.0.attention.{name}_proj.weight" for name in "qkv")


def test_a_checkpoint_without_fused_weights_gets_no_groups():
    their = random_tree(bert_like())
    graph = weightbridge.cost_graph(their, zeros_tree(bert_like()))
    assert graph.graph["groups"] == []


def test_gpt2_c_attn_splits_into_per_head_query_key_value_kernels():
    """keras-hub keeps (hidden, heads, head_dim) kernels; GPT-2's Conv1D c_attn is (hidden, 3 * hidden)."""
    heads, head_dim = 2, 4
    hidden = heads * head_dim
    their = random_tree({"h.0.attn.c_attn.weight": (hidden, 3 * hidden), "h.0.attn.c_attn.bias": (3 * hidden,),
                         "h.0.mlp.c_fc.weight": (hidden, 4 * hidden)})
    my = zeros_tree({
        **{f"layer_0/self_attention/{name}/kernel": (hidden, heads, head_dim) for name in ("query", "key", "value")},
        **{f"layer_0/self_attention/{name}/bias": (heads, head_dim) for name in ("query", "key", "value")},
        "layer_0/feedforward_intermediate_dense/kernel": (hidden, 4 * hidden),
    })
    mapping = weightbridge.match(their, my)
    key = mapping["layer_0/self_attention/key/kernel"]
    assert (key.their, key.transform, key.axes, key.part) == (
        ("h.0.attn.c_attn.weight",), "i ((a j) + (b j) + (c j)) -> i a j, i b j, i c j",
        (("a", heads), ("b", heads), ("c", heads), ("j", head_dim)), 1)
    result = mapping.apply(their)
    np.testing.assert_array_equal(result["layer_0/self_attention/key/kernel"],
                                  their["h.0.attn.c_attn.weight"][:, hidden:2 * hidden].reshape(hidden, heads, head_dim))
    np.testing.assert_array_equal(result["layer_0/self_attention/value/bias"],
                                  their["h.0.attn.c_attn.bias"][2 * hidden:].reshape(heads, head_dim))


@pytest.mark.parametrize("name", ["vit: transformers -> timm", "deit-distilled: transformers -> timm"])
@pytest.mark.parametrize("direction", ["forward", "reversed"])
def test_transformers_query_key_value_and_timm_qkv_map_both_ways_on_real_models(name, direction):
    """Randomised source, mapped with zero hints, loaded into the target: both compute the same."""
    import dataclasses

    from benchmarks.zoo.catalog import PAIRS
    from benchmarks.zoo.verify import verify

    torch.set_num_threads(1)
    pair = PAIRS[name]
    if direction == "reversed":
        pair = dataclasses.replace(pair, build_source=pair.build_target, build_target=pair.build_source)
    result = verify(pair, weightbridge.adapt)
    assert result.outcome == "correct", f"{name} {direction}: {result.outcome} {result.message}"


def test_bert_query_key_value_fuse_into_torch_multihead_attention_in_proj():
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=4, intermediate_size=32,
                        max_position_embeddings=32)
    their = BertModel(config, add_pooling_layer=False).state_dict()
    layer = torch.nn.TransformerEncoderLayer(16, 4, 32, batch_first=True, dropout=0.0)
    my = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).state_dict()
    their = {k: v for k, v in their.items() if k.startswith("encoder.")}
    # torch defines both norms after the MLP, transformers each after its sublayer: enumeration order cannot
    # tell the norms apart, and the names do not; the error says so and its hint settles it.
    with pytest.raises(weightbridge.AmbiguityError) as raised:
        weightbridge.match(their, my)
    mapping = weightbridge.match(their, my, hints=raised.value.hints)
    assert raised.value.hints == [("norm1", "attention.output.LayerNorm")]
    for l in range(2):
        for kind in ("weight", "bias"):
            pair = mapping[f"layers.{l}.self_attn.in_proj_{kind}"]
            assert pair.their == tuple(f"encoder.layer.{l}.attention.self.{p}.{kind}" for p in ("query", "key", "value"))
            assert pair.transform == ("a i, b i, c i -> (a + b + c) i" if kind == "weight" else "a, b, c -> (a + b + c)")
        assert mapping[f"layers.{l}.norm1.weight"].their == (f"encoder.layer.{l}.attention.output.LayerNorm.weight",)
        assert mapping[f"layers.{l}.linear2.weight"].their == (f"encoder.layer.{l}.output.dense.weight",)


def test_square_pieces_without_layout_evidence_are_an_ambiguity_not_a_guess():
    their = random_tree({f"attn.{p}.weight": (D, D) for p in ("query", "key", "value")})
    with pytest.raises(weightbridge.AmbiguityError) as raised:
        weightbridge.match(their, zeros_tree({"attn.in_proj_weight": (3 * D, D)}))
    assert str(raised.value) == (
        "the mapping is not unique: 1 fused weight can be put together along more than one axis at the same cost: "
        "the pieces are square and no weight of the same kind around them proves the axis order.\n"
        "  my attn.in_proj_weight (24, 8) <- their\n"
        "    attn.query.weight + attn.key.weight + attn.value.weight  (a i, b i, c i -> (a + b + c) i)\n"
        "    or attn.query.weight + attn.key.weight + attn.value.weight  (i a, i b, i c -> (a + b + c) i)"
    )
    assert raised.value.hints == []


def test_meta_w1_and_w3_are_gate_and_up_whatever_their_order():
    their, my = gated(("w1", "w2", "w3"), ("gate_up_proj", "down_proj"), sorted_their=True)
    mapping = weightbridge.match(their, my)
    assert mapping["layers.1.mlp.gate_up_proj.weight"].their == ("layers.1.ffn.w1.weight", "layers.1.ffn.w3.weight")
    assert mapping["layers.1.mlp.down_proj.weight"].their == ("layers.1.ffn.w2.weight",)


def test_torch_in_proj_packs_query_key_value_in_that_order():
    # out_proj has the shape of q, k and v too, and the enumeration order of the separate side is k, v, q, out
    # (as transformers' CLIP defines them): only the knowledge that in_proj packs q, k, v decides.
    # A non-square MLP weight proves that no axes are swapped.
    their = {"attn.in_proj_weight": (3 * D, D), "attn.out_proj.weight": (D, D), "mlp.fc1.weight": (2 * D, D)}
    my = {**{f"attn.{name}_proj.weight": (D, D) for name in ("k", "v", "q", "out")}, "mlp.fc1.weight": (2 * D, D)}
    mapping = weightbridge.match(random_tree(their), zeros_tree(my))
    assert {p.my: p.part for p in mapping.pairs if p.their == ("attn.in_proj_weight",)} == {
        "attn.q_proj.weight": 0, "attn.k_proj.weight": 1, "attn.v_proj.weight": 2}
    assert mapping["attn.out_proj.weight"].their == ("attn.out_proj.weight",)

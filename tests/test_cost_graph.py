import numpy as np
import pytest

import weightbridge
from weightbridge._names import leaf_name, module_tokens, numbers, raw_tokens


def test_tokens_split_words_numbers_and_camel_case():
    assert raw_tokens("encoder_layer3.LayerNorm") == ["encoder", "layer", "3", "layernorm"]
    assert raw_tokens("downsampleConv") == ["downsample", "conv"]


def test_plural_words_are_their_singular_and_a_compound_leaf_name_keeps_its_kind():
    from weightbridge._names import leaf_tokens

    assert raw_tokens("embed_tokens") == ["embed", "token"]
    assert raw_tokens("patches.batch_stats") == ["patch", "batch", "stat"]
    assert raw_tokens("axis_bias_class") == ["axis", "bias", "class"]
    assert leaf_tokens(("attn", "conv1d_kernel")) == {"conv", "d", "weight"}
    assert leaf_tokens(("attn", "q_bias")) == {"q", "bias"}


@pytest.mark.parametrize("name, canonical", [
    ("kernel", "weight"), ("w", "weight"), ("scale", "weight"), ("gamma", "weight"), ("embedding", "weight"),
    ("b", "bias"), ("beta", "bias"), ("offset", "bias"),
    ("moving_mean", "running_mean"), ("mean", "running_mean"), ("moving_variance", "running_var"), ("var", "running_var"),
    ("kernel:0", "weight"), ("layer_scale", "weight"), ("inv_freq", "inv_freq"),
])
def test_leaf_synonyms(name, canonical):
    assert leaf_name(("m", name)) == canonical


def test_module_synonyms_and_numbers():
    assert module_tokens(("resnet", "encoder", "stages", "0", "layers", "1", "shortcut", "normalization", "weight")) == [
        "resnet", "encoder", "stage", "block", "downsample", "norm"]
    assert numbers(("layer1", "0", "conv3", "weight")) == ((1, 0, 3), "layer{}.{}.conv{}.weight")


def their_my():
    their = {"fc1.weight": np.ones((4, 3)), "fc1.bias": np.ones(4), "fc2.weight": np.ones((2, 4)), "fc2.bias": np.ones(2)}
    my = {"Dense_0": {"kernel": np.ones((3, 4)), "bias": np.ones(4)}, "Dense_1": {"kernel": np.ones((4, 2)), "bias": np.ones(2)}}
    return their, my


def test_cost_graph_edges_carry_cost_features_and_transform():
    g = weightbridge.cost_graph(*their_my())
    names = {n: d["name"] for n, d in g.nodes(data=True)}
    edges = sorted((names[u], names[v], d["transform"]) for u, v, d in g.edges(data=True))
    assert edges == [
        ("Dense_0/bias", "fc1.bias", ""),
        ("Dense_0/kernel", "fc1.weight", "a b -> b a"),
        ("Dense_1/bias", "fc2.bias", ""),
        ("Dense_1/kernel", "fc2.weight", "a b -> b a"),
    ]
    data = g.edges[("my", 0), ("their", 0)]
    assert set(weightbridge.FEATURE_WEIGHTS) <= set(data)
    assert data["cost"] == pytest.approx(sum(weightbridge.FEATURE_WEIGHTS[k] * data[k] for k in weightbridge.FEATURE_WEIGHTS))
    assert data["leaf_name"] == 0.0 and data["layout_change"] == 0.0


def test_hints_remove_the_edges_that_contradict_them():
    their = {"a.conv1.weight": np.ones((3, 3)), "a.conv3.weight": np.ones((3, 3))}
    my = {"reduce": {"w": np.ones((3, 3))}, "expand": {"w": np.ones((3, 3))}}
    g = weightbridge.cost_graph(their, my, hints=[("reduce", "conv1")])
    names = {n: d["name"] for n, d in g.nodes(data=True)}
    assert sorted((names[u], names[v]) for u, v in g.edges()) == [("expand/w", "a.conv3.weight"), ("reduce/w", "a.conv1.weight")]


def test_different_dtype_kinds_are_never_candidates():
    g = weightbridge.cost_graph({"n": np.zeros((), np.int64), "x": np.zeros(())}, {"n": np.zeros((), np.int64), "x": np.zeros((), np.float32)})
    assert sorted((g.nodes[u]["name"], g.nodes[v]["name"]) for u, v in g.edges()) == [("n", "n"), ("x", "x")]

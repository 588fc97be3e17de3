"""Structure first: modules pair by their bags and list indices before any name, and leaves pair only inside matched modules."""

import numpy as np
import pytest

import weightbridge
from weightbridge._leaves import read_leaves
from weightbridge._structure import match_modules


def zeros(shapes):
    return {name: np.zeros(shape, np.float32) for name, shape in shapes.items()}


def module_pairs(their, my):
    their_leaves, _, _ = read_leaves(their, "their", ".")
    my_leaves, _, _ = read_leaves(my, "my", ".")
    pairs = match_modules(my_leaves, their_leaves).pairs
    return sorted((".".join(m), ".".join(t)) for m, t in pairs)


def conv_bn(prefix, out, inp, style):
    conv, norm = ("0", "1") if style == "sequential" else ("conv", "bn")
    shapes = {f"{prefix}.{conv}.weight": (out, inp, 3, 3)}
    shapes.update({f"{prefix}.{norm}.{kind}": (out,) for kind in ("weight", "bias", "running_mean", "running_var")})
    return shapes


def test_modules_pair_by_bag_and_list_rank_across_a_level_of_nesting():
    their = zeros({**conv_bn("features.0", 8, 3, "sequential"), **conv_bn("features.1.block.0", 16, 8, "sequential"),
                   **conv_bn("features.2.block.0", 16, 16, "sequential")})
    my = zeros({**conv_bn("stem", 8, 3, "named"), **conv_bn("blocks.0", 16, 8, "named"), **conv_bn("blocks.1", 16, 16, "named")})
    assert module_pairs(their, my) == [
        ("", ""),
        ("blocks.0", "features.1"), ("blocks.0.bn", "features.1.block.0.1"), ("blocks.0.conv", "features.1.block.0.0"),
        ("blocks.1", "features.2"), ("blocks.1.bn", "features.2.block.0.1"), ("blocks.1.conv", "features.2.block.0.0"),
        ("stem", "features.0"), ("stem.bn", "features.0.1"), ("stem.conv", "features.0.0"),
    ]


def test_equal_blocks_pair_by_their_indices_in_any_key_order():
    blocks = {f"layers.{i}.{part}.weight": (4, 4) for i in range(3) for part in ("a", "b")}
    their = zeros(dict(sorted({k.replace("layers.", "h."): v for k, v in blocks.items()}.items(), reverse=True)))
    pairs = module_pairs(their, zeros(blocks))
    assert [pair for pair in pairs if pair[0].count(".") == 1] == [("layers.0", "h.0"), ("layers.1", "h.1"), ("layers.2", "h.2")]


def test_keras_numbers_a_repeated_name_from_the_second_on():
    their = zeros({"block.layer.0.layer_norm.weight": (8,), "block.layer.1.layer_norm.weight": (8,), "block.x.weight": (3, 8)})
    my = zeros({"layer/t5_layer_norm/weight": (8,), "layer/t5_layer_norm_1/weight": (8,), "layer/x/kernel": (8, 3)})
    their_leaves, _, _ = read_leaves(their, "their", ".")
    my_leaves, _, _ = read_leaves(my, "my", "/")
    pairs = sorted(("/".join(m), ".".join(t)) for m, t in match_modules(my_leaves, their_leaves).pairs)
    # A module that holds only one other is that module: block.layer.0 is known by its outer path.
    assert pairs == [("", ""), ("layer/t5_layer_norm", "block.layer.0"), ("layer/t5_layer_norm_1", "block.layer.1"),
                     ("layer/x", "block.x")]


def test_numbered_names_against_definition_order_are_no_pairing():
    # Meta's w1, w2, w3 are the gate, down and up projections; transformers defines gate, up, down.
    their = zeros({"mlp.w1.weight": (6, 4), "mlp.w2.weight": (4, 6), "mlp.w3.weight": (6, 4)})
    my = zeros({"mlp.gate_proj.weight": (6, 4), "mlp.up_proj.weight": (6, 4), "mlp.down_proj.weight": (4, 6)})
    assert module_pairs(their, my) == [("", "")]
    mapping = weightbridge.match(their, my)
    assert {pair.my: pair.their for pair in mapping.pairs} == {
        "mlp.gate_proj.weight": ("mlp.w1.weight",), "mlp.up_proj.weight": ("mlp.w3.weight",), "mlp.down_proj.weight": ("mlp.w2.weight",),
    }


HEADLINE = "the mapping is not unique: 5 groups of weights can be paired in more than one way at exactly the same cost."
HINTS = [("conv1", "f.a")]


def test_a_shortcut_defined_first_on_one_side_and_last_on_the_other_is_an_ambiguity():
    # torchvision's RegNet defines the shortcut (proj) before the main path (f.a, f.b); timm's after it.
    # The shortcut and the first conv have one shape: order is the only evidence, and it misleads.
    their = zeros({**conv_bn("s.proj", 8, 4, "sequential"), **conv_bn("s.f.a", 8, 4, "sequential"),
                   **conv_bn("s.f.b", 8, 8, "sequential")})
    my = zeros({**conv_bn("s.conv1", 8, 4, "named"), **conv_bn("s.conv2", 8, 8, "named"), **conv_bn("s.downsample", 8, 4, "named")})
    with pytest.raises(weightbridge.AmbiguityError) as raised:
        weightbridge.match(their, my)
    assert str(raised.value).splitlines()[0] == HEADLINE
    assert raised.value.hints == HINTS
    mapping = weightbridge.match(their, my, hints=HINTS)
    assert mapping["s.downsample.conv.weight"].their == ("s.proj.0.weight",)
    assert mapping["s.downsample.bn.running_var"].their == ("s.proj.1.running_var",)

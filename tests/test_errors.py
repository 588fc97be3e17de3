import copy
import math

import numpy as np
import pytest

import weightbridge


def ambiguous_pair():
    their = {"backbone.layer3.5.conv1.weight": np.arange(16.0).reshape(4, 4), "backbone.layer3.5.conv3.weight": -np.arange(16.0).reshape(4, 4)}
    my = {"block6": {"expand": {"w": np.zeros((4, 4))}, "reduce": {"w": np.zeros((4, 4))}}}
    return their, my


def test_ambiguity_shows_the_tied_weights_the_missing_evidence_and_the_hint():
    with pytest.raises(weightbridge.AmbiguityError) as error:
        weightbridge.adapt(*ambiguous_pair())
    assert str(error.value) == (
        "the mapping is not unique: 1 group of weights can be paired in more than one way at costs within 0.25 of each other, "
        "too close to tell without enumeration order.\n"
        "  group 1: 2 my and 2 their weights tie\n"
        "    my                       their\n"
        "    block6/expand/w (4, 4)   backbone.layer3.5.conv1.weight (4, 4)\n"
        "    block6/reduce/w (4, 4)   backbone.layer3.5.conv3.weight (4, 4)\n"
        "    missing evidence: the parameter names (weight, bias, ...) are alike; the module names are equally similar; "
        "the module paths end equally alike; the block indices agree equally; the layouts fit equally well; "
        "no sibling weight pins their modules to each other; their layouts agree equally with the weights around them; "
        "the enumeration order of my and their is alphabetical, so it is no evidence\n"
        "Say which weights correspond with hints (my_substring, their_substring); if the rows shown above are the right pairs:\n"
        '  hints=[("expand", "conv1")]'
    )
    assert error.value.hints == [("expand", "conv1")]
    assert error.value.groups == ((("block6/expand/w", "block6/reduce/w"), ("backbone.layer3.5.conv1.weight", "backbone.layer3.5.conv3.weight")),)


def test_a_tie_of_two_norms_proposes_one_hint_for_the_whole_module():
    # Nothing tells norm1 from ln_after: weight and bias of each norm go together, and one hint for
    # the module settles both norms of every block (before: one hint for a bias, `norm2.bias`).
    their = {f"enc.layer.{i}.{n}.{k}": np.ones(4) for i in range(2) for n in ("ln_after", "ln_before") for k in ("bias", "weight")}
    their.update({f"enc.layer.{i}.fc.weight": np.ones((4, 4)) for i in range(2)})
    my = {f"blocks.{i}.{n}.{k}": np.zeros(4) for i in range(2) for n in ("norm1", "norm2") for k in ("bias", "weight")}
    my.update({f"blocks.{i}.fc.weight": np.zeros((4, 4)) for i in range(2)})
    with pytest.raises(weightbridge.AmbiguityError) as error:
        weightbridge.match(dict(sorted(their.items())), dict(sorted(my.items())))
    assert error.value.hints == [("norm1", "after")]
    rows = [line.split() for line in str(error.value).splitlines() if line.startswith("    blocks.0.")]
    assert [(row[0], row[6]) for row in rows] == [
        ("blocks.0.norm1.bias", "enc.layer.0.ln_after.bias"), ("blocks.0.norm1.weight", "enc.layer.0.ln_after.weight"),
        ("blocks.0.norm2.bias", "enc.layer.0.ln_before.bias"), ("blocks.0.norm2.weight", "enc.layer.0.ln_before.weight")]
    mapping = weightbridge.match(their, my, hints=error.value.hints)
    assert {pair.my: pair.their for pair in mapping.pairs if "norm" in pair.my} == {
        name: (name.replace("blocks", "enc.layer").replace("norm1", "ln_after").replace("norm2", "ln_before"),)
        for name in my if "norm" in name}


def test_an_ambiguity_carries_the_mapping_its_rows_propose_with_the_tied_weights_marked():
    their, my = ambiguous_pair()
    with pytest.raises(weightbridge.AmbiguityError) as error:
        weightbridge.adapt(their, my)
    tentative = error.value.tentative
    assert [(p.my, p.their, p.transform, p.margin, p.runner_up) for p in tentative.pairs] == [
        ("block6/expand/w", ("backbone.layer3.5.conv1.weight",), "", 0.0, "backbone.layer3.5.conv3.weight"),
        ("block6/reduce/w", ("backbone.layer3.5.conv3.weight",), "", 0.0, "backbone.layer3.5.conv1.weight"),
    ]
    # Tied: the runner-up has the very features of the partner, and so the same cost.
    assert [p.features == p.runner_up_features and p.features["name_suffix"] == 1.0 for p in tentative.pairs] == [True, True]
    assert tentative.pairs[0].cost == tentative.pairs[1].cost
    assert error.value.tied == {"block6/expand/w": 1, "block6/reduce/w": 1}
    assert (tentative.unmatched_my, tentative.unmatched_their) == ((), ())
    # The proposed hint makes exactly this mapping, for sure.
    assert [(p.my, p.their) for p in weightbridge.match(their, my, hints=error.value.hints)] == [(p.my, p.their) for p in tentative]


def test_an_ambiguity_of_repeated_blocks_carries_every_weight_of_every_block():
    their = {f"layers.{i}.{m}.weight": np.ones(4) for i in range(3) for m in ("norm_a", "norm_b")}
    their.update({f"layers.{i}.fc.weight": np.ones((8, 4)) for i in range(3)})
    my = {f"blocks.{i}.{m}.scale": np.ones(4) for i in range(3) for m in ("first", "second")}
    my.update({f"blocks.{i}.fc.weight": np.ones((8, 4)) for i in range(3)})
    # Sorted, neither order is evidence: the templates tie and the error speaks of them.
    their, my = dict(sorted(their.items())), dict(sorted(my.items()))
    with pytest.raises(weightbridge.AmbiguityError, match="blocks.0.first.scale \\(4,\\) and 2 more alike") as error:
        weightbridge.match(their, my)
    assert [(p.my, p.their[0], p.margin) for p in error.value.tentative.pairs] == [
        (f"blocks.{i}.{m}", f"layers.{i}.{t}.weight", margin)
        for i in range(3) for m, t, margin in (("fc.weight", "fc", math.inf), ("first.scale", "norm_a", 0.0), ("second.scale", "norm_b", 0.0))
    ]
    assert error.value.tied == {f"blocks.{i}.{m}.scale": 1 for m in ("first", "second") for i in range(3)}
    hinted = weightbridge.match(their, my, hints=error.value.hints)
    assert [(p.my, p.their) for p in hinted] == [(p.my, p.their) for p in error.value.tentative]


def test_an_open_axis_order_carries_the_mapping_with_that_weight_tied():
    rng = np.random.default_rng(0)
    their = {"m.a.weight": rng.standard_normal((4, 6)), "m.b.weight": rng.standard_normal((3, 5)), "m.c.weight": rng.standard_normal((4, 4))}
    my = {"m.a.weight": np.zeros((6, 4)), "m.b.weight": np.zeros((3, 5)), "m.c.weight": np.zeros((4, 4))}
    with pytest.raises(weightbridge.AmbiguityError, match="^the axis order of my 'm.c.weight'") as error:
        weightbridge.match(their, my)
    # The open weight keeps its first candidate layout, as it is.
    assert [(p.my, p.their, p.transform) for p in error.value.tentative.pairs] == [
        ("m.a.weight", ("m.a.weight",), "a b -> b a"), ("m.b.weight", ("m.b.weight",), ""), ("m.c.weight", ("m.c.weight",), "")]
    assert error.value.tied == {"m.c.weight": 1}


def test_hint_settles_tied_projections():
    their, my = ambiguous_pair()
    new = weightbridge.adapt(their, my, hints=[("reduce", "conv1")])
    assert np.array_equal(new["block6"]["reduce"]["w"], their["backbone.layer3.5.conv1.weight"])
    assert np.array_equal(new["block6"]["expand"]["w"], their["backbone.layer3.5.conv3.weight"])


def test_a_hint_that_matches_nothing_is_named():
    with pytest.raises(weightbridge.HintError) as error:
        weightbridge.adapt(*ambiguous_pair(), hints=[("reduce", "conv9")])
    assert str(error.value) == "hint ('reduce', 'conv9'): no weight of `their` contains 'conv9'"
    with pytest.raises(weightbridge.HintError, match=r"^hint \('squeeze', 'conv1'\): no weight of `my` contains 'squeeze'$"):
        weightbridge.adapt(*ambiguous_pair(), hints=[("squeeze", "conv1")])


def test_a_hint_that_is_never_needed_is_named():
    their = {"fc.weight": np.ones((3, 2)), "fc.bias": np.ones(3)}
    my = {"fc.weight": np.ones((3, 2)), "fc.bias": np.ones(3)}
    with pytest.raises(weightbridge.HintError) as error:
        weightbridge.adapt(their, my, hints=[("bias", "bias")])
    assert str(error.value) == "hint ('bias', 'bias') is never needed: the mapping is the same and unique without it; remove it"


@pytest.mark.parametrize("hint", [("a",), ("a", 1), "ab", ("", "b")])
def test_malformed_hints_are_rejected(hint):
    with pytest.raises(weightbridge.HintError, match=r"^a hint is a pair of non-empty strings"):
        weightbridge.adapt(*ambiguous_pair(), hints=[hint])


def test_unmatched_weights_are_counted_with_their_nearest_candidates():
    their = {"a.weight": np.ones((3, 4)), "b.weight": np.ones(7)}
    my = {"a.weight": np.ones((3, 4)), "c.weight": np.ones(5)}
    with pytest.raises(weightbridge.UnmatchedError) as error:
        weightbridge.adapt(their, my)
    assert str(error.value) == (
        "1 of 2 weights of `my` have no partner in `their` (pass ignore_unmatched_outputs=True to allow this):\n"
        "  c.weight (5,) float64; nearest in `their`: b.weight (7,), a.weight (3, 4)\n"
        "1 of 2 weights of `their` have no partner in `my` (pass ignore_unmatched_inputs=True to allow this):\n"
        "  b.weight (7,) float64; nearest in `my`: c.weight (5,), a.weight (3, 4)"
    )


def test_a_checkpoint_counter_without_partner_is_no_unmatched_input():
    # timm's BatchNorm keeps num_batches_tracked; a Keras BatchNormalization keeps no counter.
    their = {"bn.weight": np.full(4, 2.0), "bn.bias": np.full(4, 3.0), "bn.num_batches_tracked": np.array(7, np.int64)}
    my = {"norm.gamma": np.zeros(4), "norm.beta": np.zeros(4)}
    mapping = weightbridge.match(their, my)
    assert [(p.my, p.their) for p in mapping.pairs] == [("norm.gamma", ("bn.weight",)), ("norm.beta", ("bn.bias",))]
    assert mapping.unmatched_their == ("bn.num_batches_tracked",)
    # A float of one element is a weight like any other: its missing partner is reported.
    with pytest.raises(weightbridge.UnmatchedError, match="bn.temperature"):
        weightbridge.match({**their, "bn.temperature": np.ones(1)}, my)


def test_ignoring_unmatched_keeps_my_values():
    their = {"a.weight": np.full((3, 4), 2.0), "b.weight": np.ones(7)}
    my = {"a.weight": np.zeros((3, 4)), "c.weight": np.full(5, 9.0)}
    new = weightbridge.adapt(their, my, ignore_unmatched_inputs=True, ignore_unmatched_outputs=True)
    assert np.array_equal(new["a.weight"], np.full((3, 4), 2.0))
    assert new["c.weight"] is my["c.weight"]


def test_incompatible_shapes_name_both_weights():
    with pytest.raises(weightbridge.ShapeError) as error:
        weightbridge.adapt({"fc.weight": np.ones((10, 4)), "x": np.ones(3)}, {"fc.weight": np.ones((12, 4)), "x": np.ones(3)})
    assert str(error.value) == "my 'fc.weight' (12, 4) and their 'fc.weight' (10, 4) correspond by name, but no layout transform makes their shapes equal"


def test_mismatched_dtype_kinds_name_both_weights():
    with pytest.raises(weightbridge.DtypeError) as error:
        weightbridge.adapt({"fc.weight": np.ones((10, 4), np.int32), "x": np.ones(3)}, {"fc.weight": np.ones((10, 4)), "x": np.ones(3)})
    assert str(error.value) == (
        "my 'fc.weight' (float64) and their 'fc.weight' (int32) correspond by name and shape, but hold different kinds of numbers (float vs int)"
    )


def test_unknown_format_lists_the_known_ones():
    with pytest.raises(weightbridge.FormatError) as error:
        weightbridge.adapt(*ambiguous_pair(), in_format="caffe", out_format="flax")
    assert str(error.value) == (
        "unknown in_format 'caffe'; known formats: flax, haiku, jittor, keras, pytorch, tensorflow, tf, torch, "
        "or a Format / dict of einx expressions"
    )


def test_all_errors_are_value_errors():
    for error in (weightbridge.AmbiguityError, weightbridge.UnmatchedError, weightbridge.ShapeError, weightbridge.DtypeError,
                  weightbridge.HintError, weightbridge.TreeError, weightbridge.FormatError):
        assert issubclass(error, ValueError)


def test_nothing_the_caller_passed_is_mutated():
    their = {"layer.0.weight": np.arange(6.0).reshape(2, 3), "layer.0.bias": np.arange(2.0)}
    my = {"params": {"Dense_0": {"kernel": np.zeros((3, 2)), "bias": np.zeros(2)}}}
    their_copy, my_copy = copy.deepcopy(their), copy.deepcopy(my)
    new = weightbridge.adapt(their, my)
    for before, after in ((their, their_copy), (my, my_copy)):
        assert before.keys() == after.keys()
    assert np.array_equal(their["layer.0.weight"], their_copy["layer.0.weight"])
    assert np.array_equal(my["params"]["Dense_0"]["kernel"], my_copy["params"]["Dense_0"]["kernel"])
    assert np.array_equal(new["params"]["Dense_0"]["kernel"], their["layer.0.weight"].T)

"""Building an error never fails: every raise site of the sources, reached by a case that checks the message.

The cases are grouped by area: trees, formats, hints, matching, mappings, decoding and the solver here;
checkpoint files in test_error_construction_readers.py; conversion and the command line in
test_error_construction_convert.py. Each case names the site it reaches (`raises_at(module, function,
type)`), and the first test below holds the cases and the sources' raise statements to each other.
"""

import json
from collections import Counter
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from raise_sites import RE_RAISE, declared_sites, raise_sites, raises_at

import solver
import solver.cover
import weightbridge
from solver import SolveLimitError
from weightbridge._leaves import Leaf
from weightbridge._limits import problem_too_large_error
from weightbridge._readers import TensorSignature

CASE_FILES = sorted(Path(__file__).parent.glob("test_error_construction*.py"))

# Re-raises build nothing: each passes on an error built elsewhere (and reached there by its own case).
RE_RAISES = {
    ("weightbridge._cli", "_match"),  # an ambiguity, after its HTML report is written
    ("weightbridge._mapping", "write_text_atomically"),  # any error, after the temporary file is removed
    ("weightbridge._match", "solve_problem"),  # a template error that leaf by leaf cannot settle
}


def test_every_raise_site_has_a_case_and_every_case_a_raise_site():
    sites = Counter(site for site in raise_sites().values() if site[2] != RE_RAISE)
    declared = declared_sites(CASE_FILES)
    without_case, without_site = sites - declared, declared - sites
    assert not without_case, f"raise sites without a case: {sorted(without_case.elements())}"
    assert not without_site, f"cases whose raise site is gone: {sorted(without_site.elements())}"
    assert {site[:2] for site in raise_sites().values() if site[2] == RE_RAISE} == RE_RAISES


def test_a_solve_limit_becomes_a_problem_too_large_error_naming_the_weights_and_what_helps():
    my = [Leaf(("blocks", "6", "attn", "qkv", "weight"), "blocks.6.attn.qkv.weight", (192, 64), "float32", 0)]
    their = [Leaf(("layer", str(k), "query", "weight"), f"layer.{k}.query.weight", (64, 64), "float32", k) for k in range(5)]
    limit = SolveLimitError([("my", 0)] + [("their", k) for k in range(5)], 40, 5.0)
    error = problem_too_large_error(limit, my, their)
    assert isinstance(error, weightbridge.ProblemTooLargeError) and isinstance(error, weightbridge.WeightbridgeError)
    assert str(error) == (
        "the problem is too large to settle: 1 my and 5 their weights with 40 candidate pairs (fused weights among them) "
        "were not solved within 5 deterministic seconds.\n"
        "  my: 'blocks.6.attn.qkv.weight'\n"
        "  their: 'layer.0.query.weight', 'layer.1.query.weight', 'layer.2.query.weight' and 2 more\n"
        "Hints that pair some of these weights split the problem (hints=[(my_substring, their_substring)]); if one side "
        "has weights the other lacks (a block more or fewer), leave them out of the tree you pass and allow the rest "
        "with ignore_unmatched_inputs=True or ignore_unmatched_outputs=True."
    )
    assert error.my_names == ("blocks.6.attn.qkv.weight",)
    assert error.their_names == tuple(f"layer.{k}.query.weight" for k in range(5))


def linear(out=3, into=2):
    return {"fc.weight": np.ones((out, into)), "fc.bias": np.ones(out)}


def separate_and_fused_attention():
    """Square query, key and value projections against one fused projection: no weight proves their axis order."""
    return {f"attn.{p}.weight": np.ones((8, 8)) for p in ("query", "key", "value")}, {"attn.in_proj_weight": np.zeros((24, 8))}


# Trees


def test_names_with_both_separators_ask_which_one_separates_modules():
    with raises_at("weightbridge._leaves", "infer_separator", weightbridge.FormatError) as error:
        weightbridge.adapt({"enc.fc.weight": np.ones((3, 2)), "enc/fc/bias": np.ones(3)}, linear())
    assert str(error.value) == (
        "the names of `their` contain both '/' and '.'; pass in_separator= to say which one separates modules")


def test_a_separator_that_is_not_a_string_is_refused():
    with raises_at("weightbridge._leaves", "read_leaves", weightbridge.FormatError) as error:
        weightbridge.adapt(linear(), linear(), in_separator=1)
    assert str(error.value) == "separator of `their` must be a string, got 1"


def test_an_array_is_not_a_weight_tree():
    with raises_at("weightbridge._leaves", "read_leaves", weightbridge.TreeError) as error:
        weightbridge.adapt(np.ones((3, 2)), linear())
    assert str(error.value) == "`their` must be a tree of arrays (a dict, Mapping, list or tuple), got ndarray"


def test_a_training_checkpoint_names_its_leaves_that_are_not_arrays_and_the_subtree_to_pass():
    with raises_at("weightbridge._leaves", "read_leaves", weightbridge.TreeError) as error:
        weightbridge.adapt({"epoch": 3, "model": linear()}, linear())
    assert str(error.value) == (
        "`their` has 1 leaves that are not arrays ('epoch': int); this looks like a training checkpoint: "
        "pass their['model'] instead")


def test_a_tree_of_empty_modules_holds_no_arrays():
    with raises_at("weightbridge._leaves", "read_leaves", weightbridge.TreeError) as error:
        weightbridge.adapt(linear(), {"params": {"fc": {}}})
    assert str(error.value) == "`my` holds no arrays"


def test_two_leaves_that_flatten_to_one_name_are_named():
    with raises_at("weightbridge._leaves", "read_leaves", weightbridge.TreeError) as error:
        weightbridge.adapt(linear(), {"fc.weight": np.ones((3, 2)), "fc": {"weight": np.ones((3, 2))}})
    assert str(error.value) == "`my` has two weights named 'fc.weight' after flattening with separator '.'"


# Formats


@pytest.mark.parametrize("expression", ["o-i", 5])
def test_a_format_expression_must_be_axis_names(expression):
    with raises_at("weightbridge._formats", "_axis_tokens", weightbridge.FormatError) as error:
        weightbridge.Format({"weight": expression})
    assert str(error.value) == (
        f"format expression {expression!r} for 'weight' must be axis names separated by spaces, e.g. 'o i k...'")


def test_a_format_expression_has_one_ellipsis_at_most():
    with raises_at("weightbridge._formats", "_axis_tokens", weightbridge.FormatError) as error:
        weightbridge.adapt(linear(), linear(), in_format={"weight": "a... b..."})
    assert str(error.value) == "format expression 'a... b...' for 'weight' has more than one ellipsis"


def test_a_format_needs_an_expression():
    with raises_at("weightbridge._formats", "Format.__post_init__", weightbridge.FormatError) as error:
        weightbridge.Format({})
    assert str(error.value) == "a Format needs a dict of einx expressions per kind of weight, got {}"


def test_an_unknown_format_name_lists_the_known_ones():
    with raises_at("weightbridge._formats", "resolve_format", weightbridge.FormatError) as error:
        weightbridge.adapt(linear(), linear(), out_format="jax")
    assert str(error.value) == (
        "unknown out_format 'jax'; known formats: flax, haiku, jittor, keras, pytorch, tensorflow, tf, torch, "
        "or a Format / dict of einx expressions")


def test_a_format_of_another_type_is_named_by_its_type():
    with raises_at("weightbridge._formats", "resolve_format", weightbridge.FormatError) as error:
        weightbridge.adapt(linear(), linear(), in_format=3)
    assert str(error.value) == "in_format must be a format name, a Format or a dict of einx expressions, got int"


# Hints


@pytest.mark.parametrize("hints", ["fc", 5, {"fc": "weight"}])
def test_hints_are_a_list_of_pairs(hints):
    with raises_at("weightbridge._match", "_check_hints", weightbridge.HintError) as error:
        weightbridge.match(linear(), linear(), hints=hints)
    assert str(error.value) == f"hints is a list of (my_substring, their_substring) pairs, got {hints!r}"


def test_no_hints_may_be_written_none():
    assert weightbridge.match(linear(), linear(), hints=None).pairs == weightbridge.match(linear(), linear()).pairs


@pytest.mark.parametrize("hint", [("fc",), ("fc", 1), "fc", ("", "fc")])
def test_a_hint_is_a_pair_of_non_empty_strings(hint):
    with raises_at("weightbridge._match", "_check_hints", weightbridge.HintError) as error:
        weightbridge.match(linear(), linear(), hints=[hint])
    assert str(error.value) == f"a hint is a pair of non-empty strings (my_substring, their_substring), got {hint!r}"


def test_each_piece_of_an_order_hint_must_be_in_my():
    with raises_at("weightbridge._match", "_check_hints", weightbridge.HintError) as error:
        weightbridge.match(linear(), linear(), hints=[("fc.weight + fc.gate", "fc")])
    assert str(error.value) == "hint ('fc.weight + fc.gate', 'fc'): no weight of `my` contains 'fc.gate'"
    assert (error.value.hint, error.value.never_needed) == (("fc.weight + fc.gate", "fc"), False)


def test_the_their_part_of_a_hint_must_be_in_their():
    with raises_at("weightbridge._match", "_check_hints", weightbridge.HintError) as error:
        weightbridge.match(linear(), linear(), hints=[["bias", "conv"]])
    assert str(error.value) == "hint ('bias', 'conv'): no weight of `their` contains 'conv'"
    assert (error.value.hint, error.value.never_needed) == (("bias", "conv"), False)


def test_a_hint_that_changes_nothing_is_named():
    with raises_at("weightbridge._match", "_check_hints_needed", weightbridge.HintError) as error:
        weightbridge.match(linear(), linear(), hints=[("weight", "weight")])
    assert str(error.value) == (
        "hint ('weight', 'weight') is never needed: the mapping is the same and unique without it; remove it")
    assert (error.value.hint, error.value.never_needed) == (("weight", "weight"), True)


# Matching


def test_a_solve_over_its_budget_is_a_problem_too_large_error(monkeypatch):
    monkeypatch.setattr(solver.cover, "CEILING", 0.0)
    with raises_at("weightbridge._match", "solve", weightbridge.ProblemTooLargeError) as error:
        weightbridge.match(*separate_and_fused_attention())
    assert str(error.value).splitlines()[0] == (
        "the problem is too large to settle: 1 my and 3 their weights with 2 candidate pairs (fused weights among them) "
        "were not solved within 0 deterministic seconds.")
    assert (error.value.my_names, error.value.their_names) == (
        ("attn.in_proj_weight",), ("attn.query.weight", "attn.key.weight", "attn.value.weight"))


def test_layout_evidence_that_fits_no_layout_is_an_ambiguity():
    their = {"m.a.weight": np.ones((4, 6)), "m.b.weight": np.ones((3, 5)), "m.c.weight": np.ones((4, 4))}
    my = {"m.a.weight": np.zeros((6, 4)), "m.b.weight": np.zeros((3, 5)), "m.c.weight": np.zeros((4, 4))}
    # settle_layouts returns the open layout; _solve_leaves raises it with the tentative mapping (the
    # tied-weights case below declares that raise).
    with pytest.raises(weightbridge.AmbiguityError) as error:
        weightbridge.adapt(their, my)
    assert error.value.tied == {"m.c.weight": 1}
    assert str(error.value).splitlines()[0] == (
        "the axis order of my 'm.c.weight' (4, 4) <- their 'm.c.weight' (4, 4) is open: its shape fits more than one "
        "layout and the weights of the same kind around it do not settle which (keep, transposed).")
    assert error.value.groups == ((("m.c.weight",), ("m.c.weight",)),)


def test_layout_evidence_that_fits_several_layouts_is_an_ambiguity():
    # A transposed matrix proves a change of framework, which each channel move of a cube fits.
    their = {"m.a.weight": np.ones((4, 6)), "m.c.weight": np.ones((4, 4, 4))}
    my = {"m.a.weight": np.zeros((6, 4)), "m.c.weight": np.zeros((4, 4, 4))}
    with pytest.raises(weightbridge.AmbiguityError) as error:
        weightbridge.adapt(their, my)
    assert str(error.value) == (
        "the axis order of my 'm.c.weight' (4, 4, 4) <- their 'm.c.weight' (4, 4, 4) is open: its shape fits more than "
        "one layout and the weights of the same kind around it do not settle which "
        "(channels_last, inputs_last, keep, outputs_first).\n"
        "Pass in_format= and out_format= (e.g. 'pytorch', 'flax') to fix the layouts.")
    assert error.value.hints == []


def test_weights_alike_by_name_whose_shapes_cannot_be_reconciled_are_a_shape_error():
    with raises_at("weightbridge._match", "check_unmatched", weightbridge.ShapeError) as error:
        weightbridge.adapt(linear(), {"fc.weight": np.ones((3, 5)), "fc.bias": np.ones(3)})
    assert str(error.value) == (
        "my 'fc.weight' (3, 5) and their 'fc.weight' (3, 2) correspond by name, but no layout transform makes their "
        "shapes equal")


def test_weights_alike_by_name_and_shape_with_other_kinds_of_numbers_are_a_dtype_error():
    with raises_at("weightbridge._match", "check_unmatched", weightbridge.DtypeError) as error:
        weightbridge.adapt(linear(), {"fc.weight": np.ones((3, 2)), "fc.bias": np.ones(3, bool)})
    assert str(error.value) == (
        "my 'fc.bias' (bool) and their 'fc.bias' (float64) correspond by name and shape, but hold different kinds of "
        "numbers (bool vs float)")


def test_weights_without_a_partner_are_listed_with_their_nearest_candidates():
    with raises_at("weightbridge._match", "check_unmatched", weightbridge.UnmatchedError) as error:
        weightbridge.adapt(linear(), {**linear(), "fc.scale": np.ones(7)})
    assert str(error.value) == (
        "1 of 3 weights of `my` have no partner in `their` (pass ignore_unmatched_outputs=True to allow this):\n"
        "  fc.scale (7,) float64; nearest in `their`: fc.weight (3, 2), fc.bias (3,)")


def test_pieces_of_a_fused_weight_in_no_provable_order_are_an_ambiguity():
    with pytest.raises(weightbridge.AmbiguityError) as error:
        weightbridge.match(*separate_and_fused_attention())
    assert str(error.value) == (
        "the mapping is not unique: 1 fused weight can be put together along more than one axis at the same cost: "
        "the pieces are square and no weight of the same kind around them proves the axis order.\n"
        "  my attn.in_proj_weight (24, 8) <- their\n"
        "    attn.query.weight + attn.key.weight + attn.value.weight  (a i, b i, c i -> (a + b + c) i)\n"
        "    or attn.query.weight + attn.key.weight + attn.value.weight  (i a, i b, i c -> (a + b + c) i)")
    assert error.value.groups == ((("attn.in_proj_weight",), ("attn.query.weight", "attn.key.weight", "attn.value.weight")),)


def test_tied_weights_are_an_ambiguity_that_proposes_the_settling_hint():
    their = {"enc.layer.0.a.weight": np.ones((4, 4)), "enc.layer.0.b.weight": np.ones((4, 4))}
    my = {"blocks.0.left.weight": np.zeros((4, 4)), "blocks.0.right.weight": np.zeros((4, 4))}
    with raises_at("weightbridge._match", "_solve_leaves", weightbridge.AmbiguityError) as error:
        weightbridge.match(their, my)
    assert str(error.value).splitlines()[0] == (
        "the mapping is not unique: 1 group of weights can be paired in more than one way at costs within 0.25 of "
        "each other, too close to tell without enumeration order.")
    assert error.value.hints == [("left", "a.weight")]


def tied_blocks(count):
    """`count` blocks, each with two square weights that only their definition order could tell apart,
    both sides sorted by name as a file gives them (so the order is no evidence)."""
    their = {f"enc.layer.{i}.{side}.weight": np.ones((4, 4)) for i in range(count) for side in "ab"}
    my = {f"blocks.{i}.{side}.weight": np.zeros((4, 4)) for i in range(count) for side in ("left", "right")}
    return dict(sorted(their.items())), dict(sorted(my.items()))


def test_tied_repeated_blocks_are_one_ambiguity_spelled_out_for_every_block():
    with raises_at("weightbridge._match", "solve_problem", weightbridge.AmbiguityError) as error:
        weightbridge.match(*tied_blocks(8))
    assert str(error.value).splitlines()[0] == (
        "the mapping is not unique: 1 group of weights can be paired in more than one way at costs within 0.25 of "
        "each other, too close to tell without enumeration order.")
    assert error.value.hints == [("left", "a.weight")]
    assert sorted(error.value.tied) == sorted(f"blocks.{i}.{side}.weight" for i in range(8) for side in ("left", "right"))


def test_tied_blocks_beyond_the_leaf_level_size_are_the_templates_ambiguity():
    with raises_at("weightbridge._match", "solve_problem", weightbridge.AmbiguityError) as error:
        weightbridge.match(*tied_blocks(1100))
    assert error.value.hints == [("left", "a.weight")]
    assert len(error.value.tied) == 2200
    assert len(error.value.tentative.pairs) == 2200


# Mappings


def test_a_weight_the_mapping_does_not_make_has_no_explanation():
    with raises_at("weightbridge._mapping", "Mapping.__getitem__", KeyError) as error:
        weightbridge.match(linear(), linear()).explain("fc.scale")
    assert error.value.args == ("no pair for my weight 'fc.scale'",)


def test_a_loaded_mapping_needs_my_values_for_my_weights_without_a_partner(tmp_path):
    weightbridge.match(linear(), {**linear(), "fc.scale": np.ones(7)}, ignore_unmatched_outputs=True).save(tmp_path / "m.json")
    mapping = weightbridge.Mapping.load(tmp_path / "m.json")
    with raises_at("weightbridge._mapping", "Mapping.apply.value_of", weightbridge.TreeError) as error:
        mapping.apply(linear())
    assert str(error.value) == "my weight 'fc.scale' has no partner and no initial value was given; pass my="


def test_a_mapping_applied_to_a_tree_without_its_weights_names_one_of_them():
    mapping = weightbridge.match(linear(), linear())
    with raises_at("weightbridge._mapping", "Mapping._their_values", weightbridge.TreeError) as error:
        mapping.apply({"fc.weight": np.ones((3, 2))})
    assert str(error.value) == "`their` lacks 1 weights this mapping needs, e.g. 'fc.bias'"


def test_a_mapping_file_of_another_version_is_refused(tmp_path):
    (tmp_path / "m.json").write_text(json.dumps({"format": "weightbridge-mapping", "version": 2}))
    with raises_at("weightbridge._mapping", "Mapping.from_json", ValueError) as error:
        weightbridge.Mapping.load(tmp_path / "m.json")
    assert str(error.value) == "not a weightbridge mapping file of version 1"


# Decoding


def test_a_shape_only_their_leaf_is_named_when_its_data_is_needed():
    their = {"fc.weight": TensorSignature((3, 2), np.float64), "fc.bias": np.ones(3)}
    with raises_at("weightbridge._decode", "materialise", weightbridge.TreeError) as error:
        weightbridge.adapt(their, linear())
    assert str(error.value) == (
        "`their` 'fc.weight' is a TensorSignature, which holds no data (shape-only leaves can only be on the `my` side)")


def test_an_unknown_cast_lists_the_known_ones():
    with raises_at("weightbridge._decode", "as_like", ValueError) as error:
        weightbridge.adapt(linear(), linear(), cast="lossy")
    assert str(error.value) == "cast='lossy' is not one of ('safe', 'unsafe')"


def test_a_cast_that_overflows_names_the_weight_and_the_first_changed_value():
    their = {"fc.weight": np.ones((3, 2)), "fc.bias": np.array([1.0, 1e300, -1e300])}
    my = {"fc.weight": np.ones((3, 2), np.float32), "fc.bias": np.ones(3, np.float32)}
    with raises_at("weightbridge._decode", "_check_lossless", weightbridge.DtypeError) as error:
        weightbridge.adapt(their, my)
    assert str(error.value) == (
        "my 'fc.bias': casting float64 to float32 changes its values (2 of 3; at [1]: 1e+300 becomes inf); "
        'pass cast="unsafe" to allow this')


# The solver


def test_costs_beyond_what_the_assignment_solver_can_scale_are_refused():
    graph = nx.Graph()
    graph.add_edge("a", "b", cost=2.5e15)
    with raises_at("solver.assignment", "_solve", RuntimeError) as error:
        solver.solve_assignment(graph, ["a"], ["b"], unmatched_cost=2.5e15, tolerance=0)
    assert str(error.value) == "linear sum assignment failed with status Status.POSSIBLE_OVERFLOW on 2 nodes"


def test_a_cover_without_budget_names_its_nodes():
    with raises_at("solver.cover", "_solve", SolveLimitError) as error:
        solver.solve_cover([("x", ("g", 0), 3)], [("x", "p", "q")], unmatched=10, tolerance=0, exact_below=None, budget=0.0)
    assert str(error.value) == "CP-SAT did not settle a component of 3 nodes and 1 edges within 0 deterministic seconds"
    assert error.value.nodes == ("x", "p", "q")

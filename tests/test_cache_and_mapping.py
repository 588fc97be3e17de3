import json
import math
import os

import numpy as np
import pytest

import weightbridge
from weightbridge._mapping import format_margin


def pair():
    their = {"enc.layer.0.weight": np.arange(6.0).reshape(2, 3), "enc.layer.0.bias": np.arange(2.0), "enc.layer.1.weight": np.arange(8.0).reshape(4, 2)}
    my = {"params": {"Dense_0": {"kernel": np.zeros((3, 2)), "bias": np.zeros(2)}, "Dense_1": {"kernel": np.zeros((2, 4))}}}
    return their, my


def test_mapping_pairs_transforms_and_table():
    mapping = weightbridge.match(*pair())
    assert [(p.my, p.their, p.transform) for p in mapping.pairs] == [
        ("params/Dense_0/kernel", ("enc.layer.0.weight",), "a b -> b a"),
        ("params/Dense_0/bias", ("enc.layer.0.bias",), ""),
        ("params/Dense_1/kernel", ("enc.layer.1.weight",), "a b -> b a"),
    ]
    assert all(math.isinf(p.margin) for p in mapping.pairs)
    assert mapping.table().splitlines() == [
        "my                     their               transform   margin",
        "params/Dense_0/kernel  enc.layer.0.weight  a b -> b a  inf",
        "params/Dense_0/bias    enc.layer.0.bias    =           inf",
        "params/Dense_1/kernel  enc.layer.1.weight  a b -> b a  inf",
    ]


def test_explain_aligns_the_feature_columns_to_the_longest_feature_name():
    their = {"fc.weight": np.ones(4), "fc.bias": np.ones(4)}
    my = {"fc": {"scale": np.ones(4), "offset": np.ones(4)}}
    assert weightbridge.match(their, my).explain("fc/scale") == (
        "fc/scale <- fc.weight\n"
        "  transform: (as is)\n"
        "  cost 0.000, margin >=1.000\n"
        "  feature             weight  chosen  runner-up\n"
        "  leaf_name              3.0   0.000      3.000\n"
        "  module_name            1.0   0.000      0.000\n"
        "  name_suffix            3.0   0.000      0.000\n"
        "  block_index            1.0   0.000      0.000\n"
        "  order                  4.0   0.000      0.000\n"
        "  layout_change          1.0   0.000      0.000\n"
        "  structure              2.0   0.000      0.000\n"
        "  layout_consistency     1.0   0.000      0.000\n"
        "  concat_order           1.0   0.000      0.000\n"
        "  runner-up: fc.bias"
    )


def test_explain_without_a_runner_up_has_no_runner_up_column():
    text = weightbridge.match({"fc.weight": np.ones((3, 2))}, {"fc.weight": np.ones((3, 2))}).explain("fc.weight")
    assert text.splitlines()[3:5] == ["  feature             weight  chosen", "  leaf_name              3.0   0.000"]
    assert text.splitlines()[-1] == "  runner-up: none (no other weight has a compatible shape and dtype)"


def test_margins_from_one_on_print_alike_in_the_table_and_the_explanation():
    # The solver proves 3.0 here (swapping both pairs costs 6.0); from 1.0 on it reports lower bounds only.
    their = {"fc.weight": np.ones(4), "fc.bias": np.ones(4)}
    mapping = weightbridge.match(their, {"fc": {"scale": np.ones(4), "offset": np.ones(4)}})
    assert [pair.margin for pair in mapping.pairs] == [3.0, 3.0]
    assert mapping.table().splitlines() == [
        "my         their      transform  margin",
        "fc/scale   fc.weight  =          >=1.000",
        "fc/offset  fc.bias    =          >=1.000",
    ]
    assert mapping.explain("fc/offset").splitlines()[2] == "  cost 0.000, margin >=1.000"
    assert [format_margin(m) for m in (0.0, 0.25, 0.9996, 1.0, 3.0, math.inf)] == [
        "0.000", "0.250", "1.000", ">=1.000", ">=1.000", "inf"]


def test_save_load_apply_round_trip(tmp_path):
    their, my = pair()
    mapping = weightbridge.match(their, my)
    mapping.save(tmp_path / "m.json")
    loaded = weightbridge.Mapping.load(tmp_path / "m.json")
    assert loaded == mapping
    data = json.loads((tmp_path / "m.json").read_text())
    assert data["pairs"][0]["transform"] == "a b -> b a" and data["pairs"][0]["margin"] is None
    flat = loaded.apply(their)
    assert list(flat) == ["params/Dense_0/kernel", "params/Dense_0/bias", "params/Dense_1/kernel"]
    assert np.array_equal(flat["params/Dense_1/kernel"], their["enc.layer.1.weight"].T)
    tree = loaded.apply(their, my)
    assert np.array_equal(tree["params"]["Dense_0"]["kernel"], their["enc.layer.0.weight"].T)
    assert [name for name, _ in loaded.iter_apply(their)] == list(flat)


def test_cache_is_written_reused_and_rewritten_when_stale(tmp_path, capsys):
    their, my = pair()
    path = tmp_path / "mapping"
    weightbridge.adapt(their, my, cache=str(path), verbose=True)
    assert "does not exist yet; matching" in capsys.readouterr().out
    assert (tmp_path / "mapping.json").exists()
    new = weightbridge.adapt(their, my, cache=str(path), verbose=True)
    assert f"cache {path}.json matches; using its mapping" in capsys.readouterr().out
    assert np.array_equal(new["params"]["Dense_0"]["kernel"], their["enc.layer.0.weight"].T)

    their["enc.layer.2.weight"] = np.ones(5)
    my["params"]["Dense_2"] = {"kernel": np.zeros(5)}
    weightbridge.adapt(their, my, cache=str(path), verbose=True)
    assert "is stale (different names, shapes, dtypes or options); matching again" in capsys.readouterr().out
    assert [p["my"] for p in json.loads((tmp_path / "mapping.json").read_text())["pairs"]][-1] == "params/Dense_2/kernel"


def test_unreadable_cache_is_ignored_and_replaced(tmp_path, capsys):
    path = tmp_path / "broken.json"
    path.write_text("{ not json")
    their, my = pair()
    weightbridge.adapt(their, my, cache=str(path), verbose=True)
    assert "is unreadable" in capsys.readouterr().out
    assert json.loads(path.read_text())["format"] == "weightbridge-mapping"
    assert [f for f in os.listdir(tmp_path)] == ["broken.json"]


def test_relative_cache_path_resolves_next_to_the_calling_module(tmp_path):
    module = tmp_path / "caller.py"
    module.write_text(
        "import weightbridge\n"
        "def run(their, my):\n"
        "    return weightbridge.adapt(their, my, cache='cached_mapping')\n"
    )
    namespace = {}
    exec(compile(module.read_text(), str(module), "exec"), namespace)
    namespace["run"](*pair())
    assert (tmp_path / "cached_mapping.json").exists()


def test_verbose_prints_the_final_table(capsys):
    weightbridge.adapt(*pair(), verbose=True)
    out = capsys.readouterr().out
    assert "params/Dense_1/kernel  enc.layer.1.weight  a b -> b a  inf" in out
    assert out.splitlines()[0] == "weightbridge: read 3 their and 3 my weights"


def test_user_defined_format_as_einx_expressions():
    their = {"l.weight": np.arange(6.0).reshape(2, 3)}
    my = {"l": {"kernel": np.zeros((3, 2))}}
    new = weightbridge.adapt(their, my, in_format={"weight": "o i k..."}, out_format=weightbridge.Format({"weight": "k... i o"}))
    assert np.array_equal(new["l"]["kernel"], their["l.weight"].T)


def test_square_weights_keep_their_order_without_evidence_and_follow_proven_siblings():
    rng = np.random.default_rng(0)
    # GPT-2 style Conv1D (in, out) -> nn.Linear (out, in): the non-square sibling proves the transposition.
    their = {"h.0.attn.c_attn.weight": rng.standard_normal((4, 12)), "h.0.attn.c_proj.weight": rng.standard_normal((4, 4))}
    my = {"h.0.attn.qkv.weight": np.zeros((12, 4)), "h.0.attn.proj.weight": np.zeros((4, 4))}
    new = weightbridge.adapt(their, my)
    assert np.array_equal(new["h.0.attn.proj.weight"], their["h.0.attn.c_proj.weight"].T)
    alone = weightbridge.adapt({"p.weight": their["h.0.attn.c_proj.weight"]}, {"p.weight": np.zeros((4, 4))})
    assert np.array_equal(alone["p.weight"], their["h.0.attn.c_proj.weight"])


def test_contradictory_layout_evidence_is_an_ambiguity():
    rng = np.random.default_rng(0)
    their = {"m.a.weight": rng.standard_normal((4, 6)), "m.b.weight": rng.standard_normal((3, 5)), "m.c.weight": rng.standard_normal((4, 4))}
    my = {"m.a.weight": np.zeros((6, 4)), "m.b.weight": np.zeros((3, 5)), "m.c.weight": np.zeros((4, 4))}
    with pytest.raises(weightbridge.AmbiguityError) as error:
        weightbridge.adapt(their, my)
    assert str(error.value) == (
        "the axis order of my 'm.c.weight' (4, 4) <- their 'm.c.weight' (4, 4) is open: its shape fits more than one layout "
        "and the weights of the same kind around it do not settle which (keep, transposed).\n"
        "Pass in_format= and out_format= (e.g. 'pytorch', 'flax') to fix the layouts."
    )

import collections

import numpy as np
import pytest
import torch

import weightbridge
from weightbridge._leaves import infer_separator, order_unlike_definition, read_leaves, rebuild


def test_nested_dicts_flatten_in_enumeration_order_with_shapes_and_dtypes():
    tree = {"params": {"Dense_0": {"kernel": np.zeros((3, 4), np.float32), "bias": np.zeros(4, np.float16)}}}
    leaves, _, _ = read_leaves(tree, "my", "/")
    assert [(l.name, l.shape, l.dtype, l.index) for l in leaves] == [
        ("params/Dense_0/kernel", (3, 4), "float32", 0),
        ("params/Dense_0/bias", (4,), "float16", 1),
    ]


def test_lists_and_ordered_dicts_are_trees_and_rebuild_with_their_types():
    tree = collections.OrderedDict(layers=[{"w": np.ones(2)}, {"w": np.zeros(2)}], head=(np.ones(3),))
    leaves, treedef, _ = read_leaves(tree, "my", "/")
    assert [l.name for l in leaves] == ["layers/0/w", "layers/1/w", "head/0"]
    rebuilt = rebuild(treedef, lambda name: name)
    assert rebuilt == collections.OrderedDict(layers=[{"w": "layers/0/w"}, {"w": "layers/1/w"}], head=("head/0",))
    assert type(rebuilt) is collections.OrderedDict and type(rebuilt["head"]) is tuple


def test_separator_is_taken_from_the_keys_else_slash():
    assert infer_separator({"a.b": np.ones(1)}, "their") == "."
    assert infer_separator({"a": {"b": np.ones(1)}}, "their") == "/"
    assert infer_separator({"mlp/~/linear_0": {"w": np.ones(1)}}, "their") == "/"


def test_both_separators_in_keys_ask_for_the_argument():
    with pytest.raises(weightbridge.FormatError, match=r"contain both '/' and '\.'; pass in_separator="):
        infer_separator({"a.b": np.ones(1), "c/d": np.ones(1)}, "their")


def test_tied_torch_tensors_become_one_leaf_with_an_alias():
    shared = torch.zeros(5, 3)
    leaves, _, values = read_leaves({"wte.weight": shared, "lm_head.weight": shared, "ln.weight": torch.ones(3)}, "their", ".")
    assert [(l.name, l.aliases) for l in leaves] == [("wte.weight", ("lm_head.weight",)), ("ln.weight", ())]
    assert values[0] is shared


def test_training_checkpoint_names_the_key_to_pass():
    checkpoint = {"epoch": 3, "model": {"fc.weight": np.ones((2, 2)), "fc.bias": np.ones(2)}, "optimizer": {"lr": 0.1}}
    with pytest.raises(weightbridge.TreeError) as error:
        read_leaves(checkpoint, "their", ".")
    assert str(error.value) == (
        "`their` has 2 leaves that are not arrays ('epoch', 'optimizer.lr': int); "
        "this looks like a training checkpoint: pass their['model'] instead"
    )


def test_duplicate_names_after_flattening_are_an_error():
    with pytest.raises(weightbridge.TreeError, match=r"`my` has two weights named 'a\.b' after flattening with separator '\.'"):
        read_leaves({"a.b": np.ones(1), "a": {"b": np.ones(1)}}, "my", ".")


@pytest.mark.parametrize("tree, message", [
    ({}, "`their` holds no arrays"),
    (np.ones(3), "`their` must be a tree of arrays (a dict, Mapping, list or tuple), got ndarray"),
    ("weights.pt", "`their` must be a tree of arrays (a dict, Mapping, list or tuple), got str"),
])
def test_empty_or_non_tree_inputs_are_named(tree, message):
    with pytest.raises(weightbridge.TreeError) as error:
        read_leaves(tree, "their", ".")
    assert str(error.value) == message


def test_the_mapped_state_dict_keeps_the_module_versions_torch_reads_on_load():
    # torchvision's MNASNet refuses a state dict without its version (`_metadata`).
    import torchvision

    model = torchvision.models.mnasnet0_5()
    my = model.state_dict()
    mapped = weightbridge.adapt({f"m.{k}": v.clone() for k, v in my.items()}, my)
    assert mapped._metadata == my._metadata and mapped._metadata is not my._metadata
    model.load_state_dict(mapped)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), my.values()))


def _leaves_in(names):
    return read_leaves({name: np.zeros(2, np.float32) for name in names}, "my", ".")[0]


def _torch_keys(model):
    return list(model.state_dict())


def test_a_state_dict_is_a_definition_order_and_sorted_or_shuffled_keys_are_not():
    keys = _torch_keys(torch.nn.Sequential(*[torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LayerNorm(2)) for _ in range(12)]))
    shuffled = [keys[k] for k in np.random.default_rng(0).permutation(len(keys))]
    assert order_unlike_definition(_leaves_in(keys)) is None
    assert order_unlike_definition(_leaves_in(sorted(keys))) == "alphabetical"
    assert order_unlike_definition(_leaves_in(shuffled)) == "not module by module"


def test_numbers_sorted_as_numbers_are_alphabetical_too():
    keys = [f"blocks.{i}.{kind}" for i in range(12) for kind in ("bias", "weight")]
    assert keys != sorted(keys)
    assert order_unlike_definition(_leaves_in(keys)) == "alphabetical"


def test_modules_kept_together_with_their_weights_in_a_different_order_each_are_a_shuffle():
    # Each level's keys shuffled (a nested tree's dicts in random order): every module stays together,
    # but alike modules list their weights differently.
    weight_first = {3: True, 0: True, 2: False, 1: True, 5: False, 4: True}
    keys = [f"blocks.{i}.fc.{kind}" for i, first in weight_first.items() for kind in (("weight", "bias") if first else ("bias", "weight"))]
    assert order_unlike_definition(_leaves_in(keys)) == "not module by module"


def test_a_list_enumerated_against_its_numbers_is_no_definition_order():
    # Every block kept together and listing its weights alike, but blocks 3 and 4 come first: a list's
    # items are defined, and so enumerated, by their numbers. Gaps in the numbers (layers without
    # weights) are no such sign.
    def keys(numbers):
        return ["stem.weight"] + [f"blocks.{i}.{m}.{kind}" for i in numbers for m in ("fc1", "fc2") for kind in ("weight", "bias")]
    assert order_unlike_definition(_leaves_in(keys([3, 4, 0, 1, 2]))) == "a list out of number order"
    assert order_unlike_definition(_leaves_in(keys([0, 1, 2, 4, 3]))) == "a list out of number order"
    assert order_unlike_definition(_leaves_in(keys([0, 2, 3, 7, 11]))) is None


def test_a_module_listing_its_weights_kind_by_kind_is_still_a_definition_order():
    keys = ["attn.q.weight", "attn.k.weight", "attn.q.bias", "attn.k.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight"]
    assert order_unlike_definition(_leaves_in(keys)) is None

"""`python -m weightbridge demo`: a built-in pair of implementations, mapped, then an ambiguous pair."""

import numpy as np

from ._adapt import adapt
from ._errors import AmbiguityError
from ._match import match


def torch_style_cnn(seed=0):
    """A small CNN as a PyTorch state dict would hold it: flat dotted names, (out, in, kh, kw) kernels."""
    rng = np.random.default_rng(seed)
    weights = {}

    def add(name, *shape):
        weights[name] = rng.standard_normal(shape).astype(np.float32)

    add("stem.conv.weight", 16, 3, 3, 3)
    add("stem.bn.weight", 16)
    add("stem.bn.bias", 16)
    add("stem.bn.running_mean", 16)
    add("stem.bn.running_var", 16)
    for i, (c_in, c_out) in enumerate([(16, 32), (32, 32), (32, 64)]):
        add(f"layers.{i}.conv1.weight", c_out, c_in, 3, 3)
        add(f"layers.{i}.bn1.weight", c_out)
        add(f"layers.{i}.bn1.bias", c_out)
        add(f"layers.{i}.conv2.weight", c_out, c_out, 1, 1)
        add(f"layers.{i}.conv2.bias", c_out)
    add("head.fc.weight", 10, 64)
    add("head.fc.bias", 10)
    return weights


def flax_style_cnn():
    """The same network as Flax would hold it: nested dicts, (kh, kw, in, out) kernels, scale/mean/var."""
    params, stats = {}, {}
    params["Stem_0"] = {"Conv_0": {"kernel": np.zeros((3, 3, 3, 16), np.float32)}, "BatchNorm_0": {"scale": np.zeros(16, np.float32), "bias": np.zeros(16, np.float32)}}
    stats["Stem_0"] = {"BatchNorm_0": {"mean": np.zeros(16, np.float32), "var": np.zeros(16, np.float32)}}
    for i, (c_in, c_out) in enumerate([(16, 32), (32, 32), (32, 64)]):
        params[f"Block_{i}"] = {
            "Conv_0": {"kernel": np.zeros((3, 3, c_in, c_out), np.float32)},
            "BatchNorm_0": {"scale": np.zeros(c_out, np.float32), "bias": np.zeros(c_out, np.float32)},
            "Conv_1": {"kernel": np.zeros((1, 1, c_out, c_out), np.float32), "bias": np.zeros(c_out, np.float32)},
        }
    params["Head_0"] = {"Dense_0": {"kernel": np.zeros((64, 10), np.float32), "bias": np.zeros(10, np.float32)}}
    return {"params": params, "batch_stats": stats}


def run():
    """Prints the mapping of the built-in pair and the error of an ambiguous one; returns an exit code."""
    their, my = torch_style_cnn(), flax_style_cnn()
    print("weightbridge demo: a PyTorch-style CNN (flat names, o i kh kw) -> a Flax-style CNN (nested, kh kw i o)\n")
    mapping = match(their, my)
    print(mapping.table())
    new = adapt(their, my)
    kernel = new["params"]["Block_2"]["Conv_0"]["kernel"]
    same = np.array_equal(kernel, their["layers.2.conv1.weight"].transpose(2, 3, 1, 0))
    print(f"\nBlock_2/Conv_0/kernel equals layers.2.conv1.weight in (kh, kw, i, o): {same}")
    print("\nWhy the first batch-norm scale got its partner:")
    print(mapping.explain("params/Stem_0/BatchNorm_0/scale"))

    print("\nAn ambiguous pair: two projections of one shape, names that do not tell, alphabetical order:\n")
    rng = np.random.default_rng(1)
    their = {"backbone.layer3.5.conv1.weight": rng.standard_normal((64, 64)), "backbone.layer3.5.conv3.weight": rng.standard_normal((64, 64))}
    my = {"block6": {"expand": {"w": np.zeros((64, 64))}, "reduce": {"w": np.zeros((64, 64))}}}
    try:
        adapt(their, my)
    except AmbiguityError as error:
        print(f"AmbiguityError: {error}")
        new = adapt(their, my, hints=[("reduce", "conv1")])
        print('\nWith hints=[("reduce", "conv1")]: block6/reduce/w <- conv1:',
              np.array_equal(new["block6"]["reduce"]["w"], their["backbone.layer3.5.conv1.weight"]))
        return 0
    print("expected an AmbiguityError")
    return 1

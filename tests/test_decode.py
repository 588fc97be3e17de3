import jax
import jax.numpy as jnp
import numpy as np
import torch

import weightbridge


def test_torch_bfloat16_survives_without_a_numpy_round_trip():
    their = {"fc.weight": torch.randn(3, 2).to(torch.bfloat16)}
    new = weightbridge.adapt(their, {"fc": {"kernel": torch.zeros(2, 3, dtype=torch.bfloat16)}})
    out = new["fc"]["kernel"]
    assert isinstance(out, torch.Tensor) and out.dtype == torch.bfloat16
    assert torch.equal(out, their["fc.weight"].T)


def test_torch_to_jax_gives_jax_arrays_of_my_dtype():
    their = {"fc.weight": torch.randn(3, 2), "fc.bias": torch.randn(3)}
    my = {"params": {"fc": {"kernel": jnp.zeros((2, 3), jnp.bfloat16), "bias": jnp.zeros(3)}}}
    new = weightbridge.adapt(their, my)
    kernel = new["params"]["fc"]["kernel"]
    assert isinstance(kernel, jax.Array) and kernel.dtype == jnp.bfloat16
    assert np.array_equal(np.asarray(kernel.astype(jnp.float32)), their["fc.weight"].T.to(torch.bfloat16).float().numpy())


def test_numpy_to_torch_and_shape_only_my_leaves():
    their = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.arange(4, dtype=np.float32)}
    with torch.device("meta"):
        meta = {"a": torch.empty(2, 3), "b": torch.empty(1, 1, 1, 4, dtype=torch.float16)}
    new = weightbridge.adapt(their, meta)
    assert new["a"].device.type == "cpu" and torch.equal(new["a"], torch.arange(6.0).reshape(2, 3))
    assert new["b"].dtype == torch.float16 and new["b"].shape == (1, 1, 1, 4)
    structs = {"a": jax.ShapeDtypeStruct((3, 2), jnp.float32), "b": jax.ShapeDtypeStruct((4,), jnp.float32)}
    new = weightbridge.adapt({"a": their["a"].T.copy(), "b": their["b"]}, structs)
    assert isinstance(new["a"], jax.Array) and np.array_equal(np.asarray(new["a"]), their["a"].T)


def test_tied_weights_in_their_are_not_unmatched_inputs():
    embedding = torch.randn(10, 4)
    their = {"wte.weight": embedding, "ln.weight": torch.randn(4), "lm_head.weight": embedding}
    my = {"embed": {"embedding": torch.zeros(10, 4)}, "norm": {"scale": torch.zeros(4)}}
    new = weightbridge.adapt(their, my)
    assert torch.equal(new["embed"]["embedding"], embedding)


def test_torch_outputs_are_contiguous_and_on_my_device():
    their = {"fc.weight": torch.randn(3, 2), "conv.weight": torch.randn(4, 3, 3, 3)}
    my = {"fc": {"kernel": torch.zeros(2, 3)}, "conv": {"kernel": torch.zeros(3, 3, 3, 4)}}
    new = weightbridge.adapt(their, my)
    assert new["conv"]["kernel"].is_contiguous()
    assert torch.equal(new["conv"]["kernel"], their["conv.weight"].permute(2, 3, 1, 0))


def test_haiku_two_level_dicts_and_flax_frozen_dicts():
    from flax.core import FrozenDict

    their = {"mlp/~/linear_0": {"w": np.arange(6.0).reshape(2, 3), "b": np.arange(3.0)}, "mlp/~/linear_1": {"w": np.arange(12.0).reshape(3, 4), "b": np.arange(4.0)}}
    my = FrozenDict({"params": {"Dense_0": {"kernel": jnp.zeros((2, 3)), "bias": jnp.zeros(3)}, "Dense_1": {"kernel": jnp.zeros((3, 4)), "bias": jnp.zeros(4)}}})
    new = weightbridge.adapt(their, my)
    assert isinstance(new, FrozenDict)
    assert np.array_equal(np.asarray(new["params"]["Dense_1"]["kernel"]), their["mlp/~/linear_1"]["w"].astype(np.float32))
    assert [p.their for p in weightbridge.match(their, my).pairs] == [
        ("mlp/~/linear_0/w",), ("mlp/~/linear_0/b",), ("mlp/~/linear_1/w",), ("mlp/~/linear_1/b",)]

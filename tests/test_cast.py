"""Casting to the `my` dtype: exact casts are silent, a cast that changes values is a DtypeError unless allowed."""

import ml_dtypes
import numpy as np
import pytest
import torch

import weightbridge

BF16 = np.dtype(ml_dtypes.bfloat16)


def test_bfloat16_out_of_float16_range_is_refused_unless_unsafe():
    their = {"w": torch.tensor([1.0, 1e30, -3.0], dtype=torch.bfloat16)}
    my = {"w": torch.zeros(3, dtype=torch.float16)}

    with pytest.raises(weightbridge.DtypeError) as error:
        weightbridge.adapt(their, my)
    assert str(error.value) == (
        "my 'w': casting bfloat16 to float16 changes its values (1 of 3; at [1]: 1.00026e+30 becomes inf); "
        'pass cast="unsafe" to allow this')

    result = weightbridge.adapt(their, my, cast="unsafe")
    assert result["w"].dtype == torch.float16
    assert result["w"].tolist() == [1.0, float("inf"), -3.0]
    assert their["w"].dtype == torch.bfloat16  # the input is not touched


def test_float_into_int_is_refused_unless_every_value_is_whole():
    # Matching never pairs floats with ints; a mapping written by hand (or edited) can.
    mapping = weightbridge.Mapping(pairs=(weightbridge.Pair("steps", ("count",), ""),),
                                   my_signature=(("steps", (2,), "int32"),),
                                   their_signature=(("count", (2,), "float64"),), options={})

    with pytest.raises(weightbridge.DtypeError) as error:
        mapping.apply({"count": np.array([2.0, 2.5])})
    assert str(error.value) == (
        "my 'steps': casting float64 to int32 changes its values (1 of 2; at [1]: 2.5 becomes 2); "
        'pass cast="unsafe" to allow this')

    assert mapping.apply({"count": np.array([2.0, -7.0])})["steps"].tolist() == [2, -7]
    assert mapping.apply({"count": np.array([2.0, 2.5])}, cast="unsafe")["steps"].tolist() == [2, 2]


def test_exact_and_rounding_casts_are_silent():
    their = {"w": np.array([0.1, 1.5, -2.0], np.float32)}
    result = weightbridge.adapt(their, {"w": np.zeros(3, BF16)})
    assert result["w"].dtype == BF16
    assert result["w"].astype(np.float32).tolist() == np.array([0.1, 1.5, -2.0], np.float32).astype(BF16).astype(np.float32).tolist()
    assert weightbridge.adapt({"w": np.array([3, 4], np.int64)}, {"w": np.zeros(2, np.int8)})["w"].tolist() == [3, 4]


def test_int_out_of_range_is_refused():
    with pytest.raises(weightbridge.DtypeError) as error:
        weightbridge.adapt({"w": np.array([3, 300], np.int64)}, {"w": np.zeros(2, np.int8)})
    assert str(error.value) == (
        "my 'w': casting int64 to int8 changes its values (1 of 2; at [1]: 300 becomes 44); "
        'pass cast="unsafe" to allow this')


def test_unknown_cast_is_named():
    with pytest.raises(ValueError) as error:
        weightbridge.adapt({"w": np.zeros(2, np.float32)}, {"w": np.zeros(2, np.float16)}, cast="maybe")
    assert str(error.value) == "cast='maybe' is not one of ('safe', 'unsafe')"

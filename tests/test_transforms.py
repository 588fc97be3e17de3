import pytest

from weightbridge._formats import FORMATS, format_permutation
from weightbridge._transforms import candidate_transforms


def expressions(their, my, permutation=None):
    return [(t.expression, dict(t.axes), t.layout) for t in candidate_transforms(their, my, permutation)]


@pytest.mark.parametrize("their, my, expected", [
    ((4, 5), (4, 5), [("", {}, "keep")]),
    ((4,), (1, 1, 1, 4), [("a -> 1 1 1 a", {}, "keep")]),
    ((1, 1, 1, 4), (4,), [("1 1 1 d -> d", {}, "keep")]),
    ((64,), (8, 8), [("(a0 a1) -> a0 a1", {"a0": 8, "a1": 8}, "keep")]),
    ((8, 8), (64,), [("a b -> (a b)", {}, "keep"), ("a b -> (b a)", {}, "transposed")]),
    ((768, 2304), (2304, 768), [("a b -> b a", {}, "transposed")]),
    ((3, 3), (3, 3), [("", {}, "keep"), ("a b -> b a", {}, "transposed")]),
    ((16, 3, 3, 3), (3, 3, 3, 16), [("a b c d -> c d b a", {}, "channels_last")]),
    ((16, 8, 1, 1), (1, 1, 8, 16), [("a b 1 1 -> 1 1 b a", {}, "channels_last")]),
    ((6, 4), (3, 8), []),
    ((6, 4), (5, 5), []),
    # Stacked matrices each transposed are no layout of equal ranks: a square stack would fit it and keep alike.
    ((4, 64, 32), (4, 32, 64), []),
    # One axis split into parts that my keeps apart: (heads * head dim, in) -> (heads, in, head dim).
    ((32, 64), (2, 64, 16), [("(a c) b -> a b c", {"a": 2, "b": 64, "c": 16}, "batched_transposed")]),
    ((64, 64), (4, 64, 16), [("(a c) b -> a b c", {"a": 4, "b": 64, "c": 16}, "batched_transposed")]),
])
def test_candidate_transforms_are_exact_einx_expressions(their, my, expected):
    assert expressions(their, my) == expected


def test_a_format_permutation_is_the_only_layout_tried():
    permutation = format_permutation(FORMATS["pytorch"], FORMATS["flax"], "weight", 2)
    assert permutation == (1, 0)
    assert expressions((3, 3), (3, 3), permutation) == [("a b -> b a", {}, "format")]
    assert format_permutation(FORMATS["pytorch"], FORMATS["flax"], "weight", 4) == (2, 3, 1, 0)
    assert format_permutation(FORMATS["flax"], FORMATS["pytorch"], "weight", 4) == (3, 2, 0, 1)


def test_a_split_that_my_keeps_apart_decodes_to_the_heads_of_the_rows():
    import einx
    import numpy as np

    (transform,) = candidate_transforms((32, 64), (2, 64, 16))
    x = np.arange(32 * 64).reshape(32, 64)
    y = einx.id(transform.expression, x, **dict(transform.axes))
    # Head 1, head dim 3 is row 1 * 16 + 3 of the matrix.
    np.testing.assert_array_equal(y[1, :, 3], x[19])

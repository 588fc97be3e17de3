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
])
def test_candidate_transforms_are_exact_einx_expressions(their, my, expected):
    assert expressions(their, my) == expected


def test_a_format_permutation_is_the_only_layout_tried():
    permutation = format_permutation(FORMATS["pytorch"], FORMATS["flax"], "weight", 2)
    assert permutation == (1, 0)
    assert expressions((3, 3), (3, 3), permutation) == [("a b -> b a", {}, "format")]
    assert format_permutation(FORMATS["pytorch"], FORMATS["flax"], "weight", 4) == (2, 3, 1, 0)
    assert format_permutation(FORMATS["flax"], FORMATS["pytorch"], "weight", 4) == (3, 2, 0, 1)

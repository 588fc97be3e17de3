"""Building an error never fails: the errors added for issue 11, from the branches that raise them."""

import weightbridge
from solver import SolveLimitError
from weightbridge._leaves import Leaf
from weightbridge._limits import problem_too_large_error


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

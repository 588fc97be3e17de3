"""The solver's limits in the terms of weights: which part of the problem was too large, and what helps."""

from ._errors import ProblemTooLargeError

NAMES_SHOWN = 3


def problem_too_large_error(limit, my_leaves, their_leaves):
    """The ProblemTooLargeError for a `solver.SolveLimitError` raised on the nodes of `my_leaves` and `their_leaves`.

    Call it where the solver is called::

        try:
            return solve_assignment(graph, ...)
        except SolveLimitError as limit:
            raise problem_too_large_error(limit, problem.my_leaves, problem.their_leaves) from None
    """
    my_names = [my_leaves[index].name for side, index in limit.nodes if side == "my"]
    their_names = [their_leaves[index].name for side, index in limit.nodes if side == "their"]
    message = (
        f"the problem is too large to settle: {len(my_names)} my and {len(their_names)} their weights with "
        f"{limit.edges} candidate pairs (fused weights among them) were not solved within {limit.budget:g} "
        f"deterministic seconds.\n  my: {_first(my_names)}\n  their: {_first(their_names)}\n"
        "Hints that pair some of these weights split the problem (hints=[(my_substring, their_substring)]); "
        "if one side has weights the other lacks (a block more or fewer), leave them out of the tree you pass "
        "and allow the rest with ignore_unmatched_inputs=True or ignore_unmatched_outputs=True."
    )
    return ProblemTooLargeError(message, my_names, their_names)


def _first(names):
    shown = ", ".join(repr(name) for name in names[:NAMES_SHOWN])
    return shown + (f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else "")

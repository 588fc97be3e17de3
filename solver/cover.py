"""Minimum-cost exact cover: edges that join one node to a group of nodes, every node covered at most once.

A component whose candidate edges include groups (one node on one side, several on the other) is no
longer an assignment problem: choosing a group edge uses all of its members at once. It is solved as
a 0-1 program with OR-Tools CP-SAT (Perron & Didier, "CP-SAT", Google OR-Tools), which proves
optimality; set packing is NP-hard in general, but the components that carry groups are small (the
weights of one shape class around a few fused tensors) and CP-SAT solves them exactly in
milliseconds. One worker keeps the search, and so the chosen optimum, deterministic.

Every component's solves share a budget of CP-SAT's deterministic time (a measure of work that does not
depend on the machine's load, so a result is the same on every run): a component that exhausts it
raises :class:`SolveLimitError` with its nodes instead of running on. A margin solve that runs out but
whose proven lower bound already exceeds the tolerance still counts (the margin is that bound).

The objective is the one of :mod:`solver.assignment`: edge costs plus ``unmatched`` for every node
left uncovered, with an integer tie-break added under a lexicographic factor. The margin of a chosen
edge is how much more the best cover without it costs; a margin within the tolerance is a tie, and
the tied runner-up is returned so that it can be reported, never guessed.
"""

import dataclasses
import math

from ortools.sat.python import cp_model

# Deterministic seconds of CP-SAT work per edge, the most any zoo pair's cover solve needed
# (transformers Swin -> timm: 2.4e-5 per edge, 155 edges; GPT-2 -> keras-hub 7.7e-6, 284 edges).
WORK_PER_EDGE = 2.5e-5
# A component may take this many times the measured work, at least FLOOR and at most CEILING
# deterministic seconds in all (and as many wall seconds): the zoo's largest component needs 0.004,
# and half a minute is short of what a user takes for a hang. A near-miss ViT (transformers, 6 layers,
# into timm's 7) has components of 3263 and 1688 edges that CP-SAT does not settle in a minute each.
HEADROOM = 1000
FLOOR = 5.0
CEILING = 30.0


class SolveLimitError(RuntimeError):
    """A component whose exact cover CP-SAT could not settle within its budget.

    Attributes:
        nodes: the nodes the component covers (the members of groups, not the groups), as its edges list them.
        edges: how many candidate edges it has.
        budget: the deterministic time it was allowed.
    """

    def __init__(self, nodes, edges, budget):
        super().__init__(f"CP-SAT did not settle a component of {len(nodes)} nodes and {edges} edges "
                         f"within {budget:g} deterministic seconds")
        self.nodes = tuple(nodes)
        self.edges = edges
        self.budget = budget


def budget_of(edges):
    """The deterministic time a component with `edges` candidate edges may take over all its solves."""
    return min(CEILING, max(FLOOR, HEADROOM * WORK_PER_EDGE * edges))

@dataclasses.dataclass(frozen=True)
class Cover:
    """The solution of one component, in the terms of :class:`solver.Assignment` (CP-SAT's integer cost
    here; the component solvers of :mod:`solver.assignment` return it in cost units)."""

    pairs: dict
    margins: dict
    alternatives: dict
    cost: float


class _Budget:
    """What is left of a component's deterministic time."""

    def __init__(self, total):
        self.total = total
        self.left = total
        self.wall_left = total


def _solve(edges, covers, unmatched, budget, forbidden=None, cap=None, need_above=None):
    """The optimal chosen edge indices and objective, or None when no cover costs at most `cap`.

    When the budget runs out first: a proven lower bound above `need_above` is returned as
    ``(None, bound)``; anything else raises :class:`SolveLimitError`."""
    model = cp_model.CpModel()
    chosen = [model.new_bool_var(f"e{k}") for k in range(len(edges))]
    by_node = {}
    for k, cover in enumerate(covers):
        for node in cover:
            by_node.setdefault(node, []).append(chosen[k])
    for variables in by_node.values():
        model.add_at_most_one(variables)
    if forbidden is not None:
        model.add(chosen[forbidden] == 0)
    # Every node starts uncovered at `unmatched`; an edge replaces that price for the nodes it covers.
    objective = sum((cost - unmatched * len(cover)) * x for (_, _, cost), cover, x in zip(edges, covers, chosen))
    if cap is not None:
        model.add(objective <= cap - unmatched * len(by_node))
    model.minimize(objective)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = max(budget.left, 0.0)
    # Deterministic time is not counted in every phase of the search, so wall time bounds it too.
    solver.parameters.max_time_in_seconds = max(budget.wall_left, 0.0)
    status = solver.solve(model)
    budget.left -= solver.deterministic_time
    budget.wall_left -= solver.wall_time
    if status == cp_model.INFEASIBLE:
        return None
    if status != cp_model.OPTIMAL:
        bound = int(math.ceil(solver.best_objective_bound - 1e-6)) + unmatched * len(by_node)
        if need_above is not None and bound > need_above:
            return None, bound
        raise SolveLimitError(list(by_node), len(edges), budget.total)
    picked = [k for k in range(len(edges)) if solver.boolean_value(chosen[k])]
    return picked, int(round(solver.objective_value)) + unmatched * len(by_node)


def solve_cover(edges, covers, *, unmatched, tolerance, exact_below, budget=None):
    """Solves one component.

    Args:
        edges: ``(left, right, integer cost)`` per candidate edge; either end may be a group.
        covers: per edge, the nodes it covers (the members of a group, the node itself otherwise).
        unmatched: the integer price of one node left uncovered.
        tolerance: integer margins up to this are ties.
        exact_below: integer margins are computed exactly up to this; a larger one is reported as
            this lower bound. None: always exactly.
        budget: the deterministic seconds all solves of this component may take; None: `budget_of` its edges.

    Raises:
        SolveLimitError: when the budget runs out before the cover and its ties are settled.
    """
    budget = _Budget(budget_of(len(edges)) if budget is None else budget)
    picked, best = _solve(edges, covers, unmatched, budget)
    pairs = {edges[k][0]: edges[k][1] for k in picked}
    covered = sum(len(covers[k]) for k in picked)
    margins, alternatives = {}, {}
    for k in picked:
        left = edges[k][0]
        nodes = set(covers[k])
        if not any(nodes & set(cover) for other, cover in enumerate(covers) if other != k):
            margins[left] = math.inf
            continue
        second = _solve(edges, covers, unmatched, budget, forbidden=k,
                        cap=None if exact_below is None else best + exact_below, need_above=best + tolerance)
        if second is None:
            margins[left] = exact_below
            continue
        second_picked, second_cost = second
        if second_picked is None:  # out of budget, but the bound proves it is no tie
            margins[left] = second_cost - best
            continue
        if sum(len(covers[s]) for s in second_picked) < covered:
            margins[left] = math.inf
            continue
        margins[left] = second_cost - best
        if second_cost - best <= tolerance:
            second_pairs = {edges[s][0]: edges[s][1] for s in second_picked}
            alternatives[left] = {
                node: second_pairs.get(node) for node in dict.fromkeys(list(pairs) + list(second_pairs))
                if pairs.get(node) != second_pairs.get(node)
            }
    return Cover(pairs, margins, alternatives, best)

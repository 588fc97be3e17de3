"""Minimum-cost exact cover: edges that join one node to a group of nodes, every node covered at most once.

A component whose candidate edges include groups (one node on one side, several on the other) is no
longer an assignment problem: choosing a group edge uses all of its members at once. It is solved as
a 0-1 program with OR-Tools CP-SAT (Perron & Didier, "CP-SAT", Google OR-Tools), which proves
optimality; set packing is NP-hard in general, but the components that carry groups are small (the
weights of one shape class around a few fused tensors) and CP-SAT solves them exactly in
milliseconds. One worker keeps the search, and so the chosen optimum, deterministic.

The objective is the one of :mod:`solver.assignment`: edge costs plus ``unmatched`` for every node
left uncovered, with an integer tie-break added under a lexicographic factor. The margin of a chosen
edge is how much more the best cover without it costs; a margin within the tolerance is a tie, and
the tied runner-up is returned so that it can be reported, never guessed.
"""

import dataclasses
import math

from ortools.sat.python import cp_model


@dataclasses.dataclass(frozen=True)
class Cover:
    """The solution of one component, in the terms of :class:`solver.Assignment`."""

    pairs: dict
    margins: dict
    alternatives: dict
    cost: int


def _solve(edges, covers, unmatched, forbidden=None, cap=None):
    """The optimal chosen edge indices and objective, or None when no cover costs at most `cap`."""
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
    status = solver.solve(model)
    if status == cp_model.INFEASIBLE:
        return None
    if status != cp_model.OPTIMAL:
        raise RuntimeError(f"CP-SAT ended with status {solver.status_name(status)} on {len(edges)} edges")
    picked = [k for k in range(len(edges)) if solver.boolean_value(chosen[k])]
    return picked, int(round(solver.objective_value)) + unmatched * len(by_node)


def solve_cover(edges, covers, *, unmatched, tolerance, exact_below):
    """Solves one component.

    Args:
        edges: ``(left, right, integer cost)`` per candidate edge; either end may be a group.
        covers: per edge, the nodes it covers (the members of a group, the node itself otherwise).
        unmatched: the integer price of one node left uncovered.
        tolerance: integer margins up to this are ties.
        exact_below: integer margins are computed exactly up to this; a larger one is reported as
            this lower bound. None: always exactly.
    """
    picked, best = _solve(edges, covers, unmatched)
    pairs = {edges[k][0]: edges[k][1] for k in picked}
    covered = sum(len(covers[k]) for k in picked)
    margins, alternatives = {}, {}
    for k in picked:
        left = edges[k][0]
        nodes = set(covers[k])
        if not any(nodes & set(cover) for other, cover in enumerate(covers) if other != k):
            margins[left] = math.inf
            continue
        second = _solve(edges, covers, unmatched, forbidden=k, cap=None if exact_below is None else best + exact_below)
        if second is None:
            margins[left] = exact_below
            continue
        second_picked, second_cost = second
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

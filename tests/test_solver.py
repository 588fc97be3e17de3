import math

import networkx as nx
import pytest

from solver import SolveLimitError, cover, solve_assignment
from solver.cover import budget_of, solve_cover


def graph(edges):
    g = nx.Graph()
    for (u, v), cost in edges.items():
        g.add_edge(("L", u), ("R", v), cost=cost)
    return g


def solve(g, left, right, **kw):
    return solve_assignment(g, [("L", i) for i in left], [("R", j) for j in right], unmatched_cost=10, tolerance=0.0, **kw)


def test_minimum_cost_pairs_with_margins():
    result = solve(graph({(0, 0): 1.0, (0, 1): 2.5, (1, 0): 2.0, (1, 1): 1.0}), [0, 1], [0, 1])
    assert result.pairs == {("L", 0): ("R", 0), ("L", 1): ("R", 1)}
    assert result.margins == {("L", 0): 2.5, ("L", 1): 2.5}
    assert result.alternatives == {}
    assert result.cost == 2.0


def test_a_tie_is_reported_with_the_alternative_pairing():
    result = solve(graph({(0, 0): 1.0, (0, 1): 1.0, (1, 0): 1.0, (1, 1): 1.0}), [0, 1], [0, 1])
    assert result.margins == {("L", 0): 0.0, ("L", 1): 0.0}
    assert result.alternatives[("L", 0)] == {("L", 0): ("R", 1), ("L", 1): ("R", 0)}


def test_tiebreak_decides_between_equal_costs_and_is_not_a_tie():
    g = graph({(0, 0): 1.0, (0, 1): 1.0, (1, 0): 1.0, (1, 1): 1.0})
    for u, v, d in g.edges(data=True):
        d["rank"] = 0 if u[1] == v[1] else 1
    result = solve(g, [0, 1], [0, 1], tiebreak="rank")
    assert result.pairs == {("L", 0): ("R", 0), ("L", 1): ("R", 1)}
    assert result.alternatives == {}
    assert 0 < result.margins[("L", 0)] < 0.001


def test_nodes_without_edges_stay_unmatched_and_the_only_candidate_has_infinite_margin():
    result = solve(graph({(0, 0): 3.0}), [0, 1], [0, 1])
    assert result.pairs == {("L", 0): ("R", 0)}
    assert result.margins == {("L", 0): math.inf}
    assert result.unmatched_left == (("L", 1),)
    assert result.unmatched_right == (("R", 1),)


def test_components_are_solved_separately():
    result = solve(graph({(0, 0): 1.0, (1, 1): 1.0, (1, 2): 2.0, (2, 2): 1.0, (2, 1): 2.0}), [0, 1, 2], [0, 1, 2])
    assert result.pairs == {("L", 0): ("R", 0), ("L", 1): ("R", 1), ("L", 2): ("R", 2)}
    assert result.margins[("L", 0)] == math.inf
    assert result.margins[("L", 1)] == 2.0


def grouped(edges, groups):
    """A graph with group nodes ("G", k) whose members are left nodes."""
    g = graph(edges)
    for k, (members, partner, cost) in enumerate(groups):
        g.add_node(("G", k), members=tuple(("L", i) for i in members))
        g.add_edge(("G", k), ("R", partner), cost=cost)
    return g


def test_a_group_edge_covers_all_its_members_and_beats_leaving_them_unmatched():
    g = grouped({(0, 0): 1.0, (1, 0): 1.0, (2, 0): 1.0}, [((0, 1), 1, 2.0)])
    result = solve_assignment(g, [("L", i) for i in range(3)] + [("G", 0)], [("R", 0), ("R", 1)], unmatched_cost=10, tolerance=0.0)
    assert result.pairs == {("G", 0): ("R", 1), ("L", 2): ("R", 0)}
    assert result.unmatched_left == ()
    assert result.unmatched_right == ()
    assert result.cost == 3.0


def test_groups_of_the_same_members_at_the_same_cost_tie():
    g = grouped({}, [((0, 1), 0, 2.0), ((1, 0), 0, 2.0)])
    result = solve_assignment(g, [("L", 0), ("L", 1), ("G", 0), ("G", 1)], [("R", 0)], unmatched_cost=10, tolerance=0.0)
    (chosen,) = result.pairs
    other = ("G", 1 - chosen[1])
    assert result.pairs == {chosen: ("R", 0)}
    assert result.margins == {chosen: 0.0}
    assert result.alternatives == {chosen: {chosen: None, other: ("R", 0)}}


def test_a_cheaper_group_order_wins_by_its_margin():
    g = grouped({}, [((0, 1), 0, 2.0), ((1, 0), 0, 2.5)])
    result = solve_assignment(g, [("L", 0), ("L", 1), ("G", 0), ("G", 1)], [("R", 0)], unmatched_cost=10, tolerance=0.0)
    assert result.pairs == {("G", 0): ("R", 0)}
    assert result.margins == {("G", 0): 0.5}
    assert result.alternatives == {}


def test_large_component_with_large_tie_breaks_solves_without_overflow():
    # 600 nodes in one component and a tie-break of 10**9 on the far candidates: unclipped, the scaled
    # costs exceed what OR-Tools' cost scaling can represent and it refuses with POSSIBLE_OVERFLOW.
    n = 300
    g = nx.Graph()
    for i in range(n):
        for j in ((i - 1) % n, i, (i + 1) % n):
            g.add_edge(("L", i), ("R", j), cost=1.0, rank=min(abs(i - j), n - abs(i - j)) ** 2)
        g.add_edge(("L", i), ("R", (i + n // 2) % n), cost=1.0, rank=10**9)
    result = solve(g, range(n), range(n), tiebreak="rank")
    assert result.pairs == {("L", i): ("R", i) for i in range(n)}
    assert result.alternatives == {}


def test_a_cover_that_runs_out_of_budget_raises_with_its_nodes():
    edges = [("a", ("g", 1), 10), ("a", "x", 12), ("b", "x", 5)]
    covers = [("a", "p", "q"), ("a", "x"), ("b", "x")]
    with pytest.raises(SolveLimitError) as error:
        solve_cover(edges, covers, unmatched=100, tolerance=0, exact_below=None, budget=0.0)
    assert str(error.value) == "CP-SAT did not settle a component of 5 nodes and 3 edges within 0 deterministic seconds"
    assert (error.value.nodes, error.value.edges, error.value.budget) == (("a", "p", "q", "x", "b"), 3, 0.0)
    settled = solve_cover(edges, covers, unmatched=100, tolerance=0, exact_below=None)
    assert (settled.pairs, settled.cost) == ({"a": ("g", 1), "b": "x"}, 15)


def test_the_budget_grows_with_the_edges_between_floor_and_ceiling():
    assert budget_of(3) == cover.FLOOR
    assert budget_of(1000) == pytest.approx(cover.HEADROOM * cover.WORK_PER_EDGE * 1000)
    assert budget_of(10**7) == cover.CEILING


def test_memo_solves_again_only_the_components_that_changed(monkeypatch):
    from solver import assignment

    solved = []
    original = assignment._solve_component
    monkeypatch.setattr(assignment, "_solve_component", lambda g, component, *a: solved.append(component) or original(g, component, *a))
    two_blocks = {(0, 0): 1.0, (0, 1): 2.0, (1, 0): 2.0, (1, 1): 1.0, (2, 2): 1.0, (2, 3): 3.0, (3, 2): 3.0, (3, 3): 1.0}
    memo = {}
    first = solve(graph(two_blocks), range(4), range(4), memo=memo)
    assert len(solved) == 2
    changed = graph({**two_blocks, (2, 3): 1.0, (3, 2): 1.0})  # the second block now ties
    again = solve(changed, range(4), range(4), memo=memo)
    assert solved[2:] == [{("L", 2), ("L", 3), ("R", 2), ("R", 3)}]
    assert again == solve(changed, range(4), range(4))
    assert again.margins[("L", 0)] == first.margins[("L", 0)] == 2.0
    assert again.alternatives == {("L", 2): {("L", 2): ("R", 3), ("L", 3): ("R", 2)},
                                  ("L", 3): {("L", 2): ("R", 3), ("L", 3): ("R", 2)}}

"""The pipeline: read leaves -> build the cost graph -> solve -> settle layouts -> mapping."""

import dataclasses

from solver import solve_assignment

from . import _names
from ._ambiguity import ambiguity_error, layout_ambiguity_error
from ._cost_graph import (
    CONFIDENT_MARGIN, FEATURE_WEIGHTS, UNMATCHED_COST, add_structure, build_cost_graph, layout_evidence, my_node, nearest_evidence,
    order_is_informative, their_node,
)
from ._errors import DtypeError, HintError, ShapeError, UnmatchedError
from ._formats import resolve_format
from ._fusion import fused_ambiguity_error, fused_pairs, group_nodes, is_group, order_is_hinted
from ._leaves import infer_separator, read_leaves
from ._mapping import Mapping, Pair
from ._transforms import candidate_transforms, compatible

# Margins up to this are ties (costs are compared at a resolution of 0.001). Without enumeration
# order, names and indices alone decide, and a narrow win of one name over another is no proof.
TOLERANCE = 0.0
TOLERANCE_WITHOUT_ORDER = 0.25
NEAREST_SHOWN = 3


@dataclasses.dataclass(frozen=True)
class Problem:
    """Both sides read into leaves, with the options that shape the cost graph."""

    my_leaves: list
    their_leaves: list
    my_treedef: object
    their_format: object
    my_format: object
    hints: tuple
    options: dict


def read_problem(their, my, *, in_format=None, out_format=None, in_separator=None, out_separator=None, hints=(), **_):
    their_format = resolve_format(in_format, "in_format")
    my_format = resolve_format(out_format, "out_format")
    in_separator = in_separator or infer_separator(their, "their")
    out_separator = out_separator or infer_separator(my, "my")
    their_leaves, _, _ = read_leaves(their, "their", in_separator)
    my_leaves, my_treedef, _ = read_leaves(my, "my", out_separator)
    hints = _check_hints(hints, my_leaves, their_leaves)
    options = {
        "in_format": in_format if isinstance(in_format, (str, type(None))) else repr(in_format),
        "out_format": out_format if isinstance(out_format, (str, type(None))) else repr(out_format),
        "in_separator": in_separator,
        "out_separator": out_separator,
        "hints": [list(h) for h in hints],
    }
    return Problem(my_leaves, their_leaves, my_treedef, their_format, my_format, hints, options)


def _check_hints(hints, my_leaves, their_leaves):
    checked = []
    for hint in hints:
        if not (isinstance(hint, (tuple, list)) and len(hint) == 2 and all(isinstance(s, str) and s for s in hint)):
            raise HintError(f"a hint is a pair of non-empty strings (my_substring, their_substring), got {hint!r}")
        a, b = hint
        for piece in a.split(" + ") if order_is_hinted(hint) else [a]:
            if not any(piece in leaf.name for leaf in my_leaves):
                raise HintError(f"hint {tuple(hint)!r}: no weight of `my` contains {piece!r}")
        for piece in b.split(" + ") if order_is_hinted(hint) else [b]:
            if not any(piece in name for leaf in their_leaves for name in (leaf.name,) + leaf.aliases):
                raise HintError(f"hint {tuple(hint)!r}: no weight of `their` contains {piece!r}")
        checked.append((a, b))
    return tuple(checked)


def graph_of(problem, hints=None):
    return build_cost_graph(
        problem.their_leaves, problem.my_leaves, their_format=problem.their_format, my_format=problem.my_format,
        hints=problem.hints if hints is None else hints,
    )


def solve_with_structure(problem, hints=None):
    """Solves, lets the confident pairs say which modules correspond, and solves again where that matters."""
    graph = graph_of(problem, hints)
    assignment = solve(problem, graph)
    if add_structure(graph, problem.my_leaves, problem.their_leaves, assignment):
        assignment = solve(problem, graph)
    return graph, assignment


def solve(problem, graph):
    my_nodes = [my_node(i) for i in range(len(problem.my_leaves))] + group_nodes(graph, "my")
    their_nodes = [their_node(j) for j in range(len(problem.their_leaves))] + group_nodes(graph, "their")
    return solve_assignment(graph, my_nodes, their_nodes, tiebreak="order_rank", unmatched_cost=UNMATCHED_COST,
                            tolerance=tolerance_of(graph), exact_below=CONFIDENT_MARGIN)


def tolerance_of(graph):
    return TOLERANCE if graph.graph["ordered"] else TOLERANCE_WITHOUT_ORDER


def settle_layouts(problem, graph, assignment):
    """Chooses the layout of every pair whose shape fits several (square weights): the one that the
    weights of the same kind in the nearest enclosing module prove by their non-square shapes."""
    evidence = layout_evidence(assignment.pairs.items(), graph, problem.my_leaves, problem.their_leaves)
    chosen = {}
    for m, t in assignment.pairs.items():
        layouts = graph.edges[m, t]["layouts"]
        if len(layouts) == 1 or is_group(m) or is_group(t):
            chosen[m] = layouts[0]
            continue
        options = {layout.layout for layout in layouts}
        decided = "keep" if "keep" in options else None
        for seen in nearest_evidence(evidence, problem.my_leaves[m[1]].parts):
            fitting = {o for o in options if all(compatible(o, e) for e in seen)}
            if not fitting:
                raise layout_ambiguity_error(problem.my_leaves[m[1]], problem.their_leaves[t[1]], seen)
            decided = fitting.pop() if len(fitting) == 1 else None
            if decided is not None:
                break
        if decided is None:
            raise layout_ambiguity_error(problem.my_leaves[m[1]], problem.their_leaves[t[1]], options)
        chosen[m] = next(layout for layout in layouts if layout.layout == decided)
    return chosen


def _similarity(a, b):
    ta = set(_names.module_tokens(a.parts)) | _names.leaf_tokens(a.parts)
    tb = set(_names.module_tokens(b.parts)) | _names.leaf_tokens(b.parts)
    return len(ta & tb) / max(len(ta | tb), 1) + (0.5 if _names.numbers(a.parts)[0] == _names.numbers(b.parts)[0] else 0.0)


def check_unmatched(problem, assignment, ignore_unmatched_inputs, ignore_unmatched_outputs):
    """Raises for leaves left without a partner, naming them and their nearest candidates."""
    unmatched_my = [problem.my_leaves[n[1]] for n in assignment.unmatched_left]
    unmatched_their = [problem.their_leaves[n[1]] for n in assignment.unmatched_right]
    their_by_name = {leaf.name: leaf for leaf in unmatched_their}
    if not ignore_unmatched_outputs:
        for leaf in unmatched_my:
            twin = their_by_name.get(leaf.name)
            if twin is None:
                continue
            if not candidate_transforms(twin.shape, leaf.shape):
                raise ShapeError(
                    f"my {leaf.name!r} {leaf.shape} and their {twin.name!r} {twin.shape} correspond by name, "
                    "but no layout transform makes their shapes equal"
                )
            if twin.dtype_kind != leaf.dtype_kind:
                raise DtypeError(
                    f"my {leaf.name!r} ({leaf.dtype}) and their {twin.name!r} ({twin.dtype}) correspond by name and shape, "
                    f"but hold different kinds of numbers ({leaf.dtype_kind} vs {twin.dtype_kind})"
                )
    problems = []
    if unmatched_my and not ignore_unmatched_outputs:
        problems.append(_unmatched_block("my", unmatched_my, len(problem.my_leaves), "their", unmatched_their + problem.their_leaves, "ignore_unmatched_outputs"))
    if unmatched_their and not ignore_unmatched_inputs:
        problems.append(_unmatched_block("their", unmatched_their, len(problem.their_leaves), "my", unmatched_my + problem.my_leaves, "ignore_unmatched_inputs"))
    if problems:
        raise UnmatchedError("\n".join(problems))


def _unmatched_block(side, leaves, total, other_side, other_leaves, flag):
    """`other_leaves` lists the other side's unmatched leaves first: they are the likelier partners."""
    other_leaves = list(dict.fromkeys(other_leaves))
    lines = [f"{len(leaves)} of {total} weights of `{side}` have no partner in `{other_side}` (pass {flag}=True to allow this):"]
    for leaf in leaves[:20]:
        nearest = sorted(other_leaves, key=lambda o: -_similarity(leaf, o))[:NEAREST_SHOWN]
        nearest.sort(key=other_leaves.index)
        near = ", ".join(f"{o.name} {o.shape}" for o in nearest)
        lines.append(f"  {leaf.name} {leaf.shape} {leaf.dtype}; nearest in `{other_side}`: {near}")
    if len(leaves) > 20:
        lines.append(f"  ... and {len(leaves) - 20} more")
    return "\n".join(lines)


def _runner_up(graph, m, t):
    others = [(d["cost"], v) for _, v, d in graph.edges(m, data=True) if v != t]
    if not others:
        return None, {}
    _, best = min(others)
    data = graph.edges[m, best]
    return best, {k: data[k] for k in FEATURE_WEIGHTS}


def solve_problem(problem, *, ignore_unmatched_inputs=False, ignore_unmatched_outputs=False):
    """Runs the pipeline on a read problem and returns (mapping, assignment)."""
    graph, assignment = solve_with_structure(problem)
    check_unmatched(problem, assignment, ignore_unmatched_inputs, ignore_unmatched_outputs)
    if any(is_group(node) for changed in assignment.alternatives.values() for pair in changed.items() for node in pair if node):
        raise fused_ambiguity_error(graph, assignment, problem.my_leaves, problem.their_leaves)
    if assignment.alternatives:
        raise ambiguity_error(
            graph, assignment, problem.my_leaves, problem.their_leaves,
            order_is_informative(problem.my_leaves), order_is_informative(problem.their_leaves), tolerance_of(graph),
            settle=lambda hints: _settling_hints(problem, hints),
        )
    layouts = settle_layouts(problem, graph, assignment)
    _check_hints_needed(problem, assignment)
    pairs = []
    for m in sorted(assignment.pairs):
        t = assignment.pairs[m]
        edge = graph.edges[m, t]
        if is_group(m) or is_group(t):
            pairs.extend(fused_pairs(graph, m, t, assignment.margins[m], problem.my_leaves, problem.their_leaves))
            continue
        runner_up, runner_up_features = _runner_up(graph, m, t)
        pairs.append(Pair(
            my=problem.my_leaves[m[1]].name,
            their=(problem.their_leaves[t[1]].name,),
            transform=layouts[m].expression,
            axes=layouts[m].axes,
            cost=edge["cost"],
            margin=assignment.margins[m],
            features={k: edge[k] for k in FEATURE_WEIGHTS},
            runner_up=graph.nodes[runner_up]["name"] if runner_up else None,
            runner_up_features=runner_up_features,
        ))
    my_index = {leaf.name: leaf.index for leaf in problem.my_leaves}
    mapping = Mapping(
        pairs=tuple(sorted(pairs, key=lambda pair: my_index[pair.my])),
        my_signature=tuple((leaf.name, leaf.shape, leaf.dtype) for leaf in problem.my_leaves),
        their_signature=tuple((leaf.name, leaf.shape, leaf.dtype) for leaf in problem.their_leaves),
        options=problem.options,
        unmatched_my=tuple(problem.my_leaves[n[1]].name for n in assignment.unmatched_left),
        unmatched_their=tuple(problem.their_leaves[n[1]].name for n in assignment.unmatched_right),
        graph=graph,
        treedef=problem.my_treedef,
        my_aliases={leaf.name: leaf.aliases for leaf in problem.my_leaves if leaf.aliases},
    )
    return mapping, assignment


MAX_HINTS_SETTLED = 16


def _unique_with(problem, hints):
    _, assignment = solve_with_structure(problem, problem.hints + tuple(hints))
    return None if assignment.alternatives or assignment.unmatched_left else assignment.pairs


def _settling_hints(problem, hints):
    """The proposed hints without those the others make unnecessary, so that passing them back works
    (a hint that is never needed is an error). Left as they are when they do not settle everything."""
    if not hints or len(hints) > MAX_HINTS_SETTLED:
        return hints
    pairs = _unique_with(problem, hints)
    if pairs is None:
        return hints
    kept = list(hints)
    for hint in hints:
        rest = [h for h in kept if h != hint]
        if _unique_with(problem, rest) == pairs:
            kept = rest
    return kept


def _check_hints_needed(problem, assignment):
    """A hint must change something: without it the mapping differs or is not unique."""
    for hint in problem.hints:
        rest = tuple(h for h in problem.hints if h != hint)
        _, without = solve_with_structure(problem, rest)
        if without.pairs == assignment.pairs and not without.alternatives:
            raise HintError(f"hint {hint!r} is never needed: the mapping is the same and unique without it; remove it")


def match(their, my, *, in_format=None, out_format=None, in_separator=None, out_separator=None, hints=(),
          ignore_unmatched_inputs=False, ignore_unmatched_outputs=False):
    """Finds which `their` weights make which `my` weights, without touching tensor data.

    Takes the same arguments as :func:`weightbridge.adapt` (without ``cache`` and ``verbose``) and
    returns a :class:`Mapping`: its pairs, each with the einx transform, cost and margin.

    Example:
        >>> mapping = weightbridge.match(torch_model.state_dict(), flax_params)
        >>> print(mapping.table())
        >>> print(mapping.explain("params/Dense_0/kernel"))
    """
    problem = read_problem(their, my, in_format=in_format, out_format=out_format, in_separator=in_separator,
                           out_separator=out_separator, hints=hints)
    mapping, _ = solve_problem(problem, ignore_unmatched_inputs=ignore_unmatched_inputs, ignore_unmatched_outputs=ignore_unmatched_outputs)
    return mapping


def cost_graph(their, my, *, in_format=None, out_format=None, in_separator=None, out_separator=None, hints=()):
    """The networkx bipartite graph the solver sees, for inspecting why a mapping came out as it did.

    Nodes are ``("my", i)`` and ``("their", j)`` with attributes ``name``, ``shape``, ``dtype``.
    Each edge is a candidate pair with ``cost`` (lower is better), the feature values that make it
    (``leaf_name``, ``module_name``, ``block_index``, ``order``, ``layout_change``; see
    ``weightbridge.FEATURE_WEIGHTS``) and ``transform`` (the einx expression). Candidate fused weights
    are group nodes ``("their group", k)`` / ``("my group", k)`` whose ``members`` are the leaf nodes they
    are made of, joined by one edge to their partner.

    Example:
        >>> g = weightbridge.cost_graph(their, my)
        >>> node = next(n for n, d in g.nodes(data=True) if d["name"] == "fc.weight")
        >>> sorted((d["cost"], g.nodes[v]["name"]) for _, v, d in g.edges(node, data=True))[:3]
    """
    problem = read_problem(their, my, in_format=in_format, out_format=out_format, in_separator=in_separator,
                           out_separator=out_separator, hints=hints)
    graph, _ = solve_with_structure(problem)
    return graph

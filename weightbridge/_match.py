"""The pipeline: read leaves -> build the cost graph -> solve -> settle layouts -> mapping."""

import dataclasses

from solver import SolveLimitError, solve_assignment

from . import _names
from ._ambiguity import ambiguity_error, layout_ambiguity_error, proposed_pairing, tied_my_names
from ._cost_graph import (
    add_structure, build_cost_graph, drop_order_against_names, drop_split_modules, folding, index_agreement, layout_evidence, my_node,
    nearest_evidence, their_node, whole_side,
)
from ._errors import AmbiguityError, DtypeError, HintError, ProblemTooLargeError, ShapeError, UnmatchedError, WeightbridgeError
from ._features import CONFIDENT_MARGIN, FEATURE_WEIGHTS, UNMATCHED_COST
from ._formats import resolve_format
from ._fusion import (
    ORDER_SEPARATOR, fused_ambiguity_error, fused_pairs, group_nodes, is_group, order_is_hinted, proposed_fused_pairing,
)
from ._leaves import infer_separator, is_counter, order_unlike_definition, read_leaves, split_tied
from ._limits import problem_too_large_error
from ._mapping import Mapping, Pair
from ._progress import stage, steps
from ._structure import match_modules
from ._templates import checked_members, fold, representatives, worth_folding
from ._transforms import candidate_transforms, compatible

# Margins up to this are ties (costs are compared at a resolution of 0.001). Without enumeration
# order, names and indices alone decide, and a narrow win of one name over another is no proof.
TOLERANCE = 0.0
TOLERANCE_WITHOUT_ORDER = 0.25
NEAREST_SHOWN = 3
# Up to this many leaves (both sides), a problem that templates cannot settle is solved leaf by leaf,
# which sees every index; beyond it, the leaf-level cost graph would take minutes.
LEAF_LEVEL_LIMIT = 4000


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
    # For a folded problem: what its leaves stand for, per side (my, their Folding).
    folding: tuple = (None, None)
    # The matched modules (a ModulePairs, per leaf of this problem); None before structure is read.
    modules: object = None
    # The hints without which other modules would correspond: needed, whatever the leaves say.
    hints_shaping_modules: frozenset = frozenset()
    # The solver's memo (see solve_assignment): solving again without a hint re-solves only the
    # components the hint touches.
    solved: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)


def with_structure(problem):
    """The problem with its matched modules: leaves pair only inside the module pair that owns them. Read up
    to the leaf-level size; beyond it templates settle the problem."""
    if not _small_enough(problem):
        return problem
    with stage("pairing modules"):
        modules = match_modules(problem.my_leaves, problem.their_leaves, problem.hints)
        shaping = frozenset(
            hint for hint in problem.hints
            if match_modules(problem.my_leaves, problem.their_leaves, _without(problem.hints, hint)).pairs != modules.pairs
        )
        return dataclasses.replace(problem, modules=modules, hints_shaping_modules=shaping)


def _without(hints, hint):
    return tuple(h for h in hints if h != hint)


def _small_enough(problem):
    return len(problem.my_leaves) + len(problem.their_leaves) <= LEAF_LEVEL_LIMIT


def read_problem(their, my, *, in_format=None, out_format=None, in_separator=None, out_separator=None, hints=(), **_):
    their_format = resolve_format(in_format, "in_format")
    my_format = resolve_format(out_format, "out_format")
    in_separator = in_separator or infer_separator(their, "their")
    out_separator = out_separator or infer_separator(my, "my")
    their_leaves, _, _ = read_leaves(their, "their", in_separator)
    my_leaves, my_treedef, _ = read_leaves(my, "my", out_separator)
    their_leaves = split_tied(their_leaves, my_leaves)
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
    if hints is None:
        return ()
    if isinstance(hints, (str, bytes)) or not isinstance(hints, (list, tuple)):
        raise HintError(f"hints is a list of (my_substring, their_substring) pairs, got {hints!r}")
    checked = []
    for hint in hints:
        if not (isinstance(hint, (tuple, list)) and len(hint) == 2 and all(isinstance(s, str) and s for s in hint)):
            raise HintError(f"a hint is a pair of non-empty strings (my_substring, their_substring), got {hint!r}", hint=hint)
        a, b = hint
        for piece in a.split(" + ") if order_is_hinted(hint) else [a]:
            if not any(piece in leaf.name for leaf in my_leaves):
                raise HintError(f"hint {tuple(hint)!r}: no weight of `my` contains {piece!r}", hint=tuple(hint))
        for piece in b.split(" + ") if order_is_hinted(hint) else [b]:
            if not any(piece in name for leaf in their_leaves for name in (leaf.name,) + leaf.aliases):
                raise HintError(f"hint {tuple(hint)!r}: no weight of `their` contains {piece!r}", hint=tuple(hint))
        checked.append((a, b))
    return tuple(checked)


def graph_of(problem, hints=None):
    my_folding, their_folding = problem.folding
    return build_cost_graph(
        problem.their_leaves, problem.my_leaves, their_format=problem.their_format, my_format=problem.my_format,
        hints=problem.hints if hints is None else hints, my_folding=my_folding, their_folding=their_folding,
        modules=problem.modules,
    )


def solve_with_structure(problem, hints=None):
    """Solves, lets the confident pairs say which modules correspond, and solves again where that matters."""
    graph = graph_of(problem, hints)
    assignment = solve(problem, graph)
    if drop_order_against_names(graph, problem.my_leaves, assignment):
        assignment = solve(problem, graph)
    if add_structure(graph, problem.my_leaves, problem.their_leaves, assignment, *problem.folding):
        assignment = solve(problem, graph)
    if drop_split_modules(graph, problem.my_leaves, problem.their_leaves, assignment, *problem.folding):
        assignment = solve(problem, graph)
    return graph, assignment


def solve(problem, graph):
    my_nodes = [my_node(i) for i in range(len(problem.my_leaves))] + group_nodes(graph, "my")
    their_nodes = [their_node(j) for j in range(len(problem.their_leaves))] + group_nodes(graph, "their")
    try:
        return solve_assignment(graph, my_nodes, their_nodes, tiebreak="order_rank", unmatched_cost=UNMATCHED_COST,
                                tolerance=tolerance_of(graph), exact_below=CONFIDENT_MARGIN,
                                node_tolerance=graph.graph.get("node_tolerance"), memo=problem.solved)
    except SolveLimitError as limit:
        raise problem_too_large_error(limit, problem.my_leaves, problem.their_leaves) from None


def tolerance_of(graph):
    return TOLERANCE if graph.graph["ordered"] else TOLERANCE_WITHOUT_ORDER


def _unlike_definition(leaves, folding):
    """Why a side's enumeration order is no evidence: of the whole side where `leaves` stand for it folded."""
    return folding.unlike_definition if folding else order_unlike_definition(leaves)


def _tie_tolerance(graph, assignment):
    """The tolerance the ties were found at: the graph's, or the larger one of tied leaves whose order is no evidence."""
    node_tolerance = graph.graph.get("node_tolerance") or {}
    return max([tolerance_of(graph)] + [node_tolerance.get(m, 0.0) for m in assignment.alternatives])


def settle_layouts(problem, graph, pairs):
    """Chooses the layout of every pair whose shape fits several (square weights): the one that the
    weights of the same kind in the nearest enclosing module prove by their non-square shapes. Returns
    the layouts and the AmbiguityError of the first pair they leave open (None if none), which keeps its
    first layout for a tentative mapping."""
    evidence = layout_evidence(pairs.items(), graph, problem.my_leaves, problem.their_leaves)
    chosen, open_error = {}, None
    for m, t in pairs.items():
        layouts = graph.edges[m, t]["layouts"]
        chosen[m] = layouts[0]
        if len(layouts) == 1 or is_group(m) or is_group(t):
            continue
        options = {layout.layout for layout in layouts}
        conflicting, decided = options, ("keep" if "keep" in options else None)
        for seen in nearest_evidence(evidence, problem.my_leaves[m[1]].parts):
            fitting = {o for o in options if all(compatible(o, e) for e in seen)}
            if not fitting:
                conflicting, decided = seen, None
                break
            decided = fitting.pop() if len(fitting) == 1 else None
            if decided is not None:
                break
        if decided is None:
            open_error = open_error or layout_ambiguity_error(problem.my_leaves[m[1]], problem.their_leaves[t[1]], conflicting)
        else:
            chosen[m] = next(layout for layout in layouts if layout.layout == decided)
    return chosen, open_error


def _similarity(a, b):
    ta = set(_names.module_tokens(a.parts)) | _names.leaf_tokens(a.parts)
    tb = set(_names.module_tokens(b.parts)) | _names.leaf_tokens(b.parts)
    return len(ta & tb) / max(len(ta | tb), 1) + (0.5 if _names.numbers(a.parts)[0] == _names.numbers(b.parts)[0] else 0.0)


def check_unmatched(problem, assignment, ignore_unmatched_inputs, ignore_unmatched_outputs):
    """Raises for leaves left without a partner, naming them and their nearest candidates."""
    unmatched_my = [problem.my_leaves[n[1]] for n in assignment.unmatched_left]
    unmatched_their = [problem.their_leaves[n[1]] for n in assignment.unmatched_right]
    # A copy of a tied tensor is used when another of its names is.
    unused = {leaf.name for leaf in unmatched_their}
    unmatched_their = [leaf for leaf in unmatched_their if all(alias in unused for alias in leaf.aliases)]
    # A checkpoint may keep a counter where `my` keeps none.
    unmatched_their = [leaf for leaf in unmatched_their if not is_counter(leaf)]
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
    """Runs the pipeline on a read problem and returns the mapping: on its templates where the leaves
    repeat, else (or when templates cannot settle a problem small enough) leaf by leaf."""
    problem = with_structure(problem)
    with stage("matching templates"):
        folded = fold_problem(problem)
    if folded is None:
        return _solve_leaves(problem, ignore_unmatched_inputs, ignore_unmatched_outputs)
    small_enough = _small_enough(problem)
    try:
        small = _solve_leaves(folded.problem, ignore_unmatched_inputs, ignore_unmatched_outputs, folded.solution)
        return unfold(small, folded, problem)
    except AmbiguityError as ambiguous:
        if not small_enough:
            raise _unfolded_error(ambiguous, folded, problem) from None
        # Every index may add the evidence the templates lack; where it does not, the templates'
        # error stands if its hints follow the templates (then they settle them).
        solution = solve_with_structure(problem)
        if solution[1].alternatives and _hints_follow_templates(ambiguous.hints, problem, folded.my_templates, folded.their_templates):
            raise _unfolded_error(ambiguous, folded, problem) from None
        return _solve_leaves(problem, ignore_unmatched_inputs, ignore_unmatched_outputs, solution)
    except ProblemTooLargeError:
        raise  # the leaf-level problem is larger still
    except WeightbridgeError:
        if not small_enough:
            raise
        return _solve_leaves(problem, ignore_unmatched_inputs, ignore_unmatched_outputs)


@dataclasses.dataclass(frozen=True)
class Folded:
    """A problem on templates: one representative leaf per template, and the templates of each side."""

    problem: Problem
    my_templates: list
    their_templates: list
    solution: tuple


def _hints_follow_templates(hints, problem, my_templates, their_templates):
    """Whether every hint says the same of all members of each template, on both sides (else indices must decide)."""
    for side, leaves, templates in ((0, problem.my_leaves, my_templates), (1, problem.their_leaves, their_templates)):
        for template in templates:
            for hint in hints:
                said = {any(hint[side] in name for name in (leaves[k].name,) + leaves[k].aliases) for k in template.members}
                if len(said) > 1:
                    return False
    return True


def fold_problem(problem):
    """The problem on templates, solved, or None where the leaves do not repeat enough to pay. Templates
    left without a partner (one side repeats what the other names apart) are split into their leaves
    and the small problem is solved again."""
    apart = {"my": set(), "their": set()}
    whole = None
    while True:
        my_templates = fold(problem.my_leaves, apart["my"])
        their_templates = fold(problem.their_leaves, apart["their"])
        if not worth_folding(problem.my_leaves, problem.their_leaves, my_templates, their_templates):
            return None
        if not _hints_follow_templates(problem.hints, problem, my_templates, their_templates):
            return None
        if whole is None:
            whole = {"my": whole_side(problem.my_leaves), "their": whole_side(problem.their_leaves)}
        small = dataclasses.replace(
            problem,
            my_leaves=representatives(problem.my_leaves, my_templates),
            their_leaves=representatives(problem.their_leaves, their_templates),
            folding=(
                folding(whole["my"], problem.my_leaves, my_templates),
                folding(whole["their"], problem.their_leaves, their_templates),
            ),
            modules=None if problem.modules is None else problem.modules.of_representatives(
                [t.members[0] for t in my_templates], [t.members[0] for t in their_templates]),
        )
        graph, assignment = solve_with_structure(small)
        split = {"my": [my_templates[n[1]] for n in assignment.unmatched_left],
                 "their": [their_templates[n[1]] for n in assignment.unmatched_right]}
        for m, t in assignment.pairs.items():
            for i, j in _leaf_pairs(graph, m, t):
                if my_templates[i].count > 1 and not _members_agree(problem, whole, my_templates[i], their_templates[j]):
                    split["my"].append(my_templates[i])
                    split["their"].append(their_templates[j])
        # A template split into its leaves can no longer pair with templates of its size: the whole
        # size class is split on both sides, so that every candidate it had stays a candidate.
        leaves = {"my": problem.my_leaves, "their": problem.their_leaves}
        templates = {"my": my_templates, "their": their_templates}

        def size_class(side, template):
            first = leaves[side][template.members[0]]
            return first.size, first.dtype_kind

        classes = {size_class(side, t) for side in split for t in split[side] if t.count > 1}
        if not classes:
            return Folded(small, my_templates, their_templates, (graph, assignment))
        for side in templates:
            for template in templates[side]:
                if size_class(side, template) in classes:
                    apart[side].update(template.members)


def _leaf_pairs(graph, m, t):
    """The (my, their) leaf positions a chosen edge joins: one pair, or one per member of a fused group."""
    if is_group(t):
        return [(m[1], j) for j in graph.nodes[t]["group"].members]
    if is_group(m):
        return [(i, t[1]) for i in graph.nodes[m]["group"].members]
    return [(m[1], t[1])]


def _members_agree(problem, whole, mine, theirs):
    """Whether the members of two matched templates, paired in sorted order, have indices that agree as
    well as their first members do. They do not where the two sides repeat along different indices
    ('blocks.{}.conv1' against 'blocks1.conv_{}'): then the templates must be split."""
    def agreement(k):
        m, t = mine.members[k], theirs.members[k]
        return index_agreement(problem.my_leaves[m], whole["my"].ranks[m], problem.their_leaves[t], whole["their"].ranks[t])

    first = agreement(0)
    return all(agreement(k) == first for k in checked_members(mine.count))


def unfold(small, folded, problem):
    """The mapping of templates spelled out leaf by leaf: the members of two matched templates pair
    in the sorted order of their indices, and each pair carries its template pair's evidence."""
    my_template = {leaf.name: t for leaf, t in zip(folded.problem.my_leaves, folded.my_templates)}
    their_template = {leaf.name: t for leaf, t in zip(folded.problem.their_leaves, folded.their_templates)}
    my_leaves, their_leaves = problem.my_leaves, problem.their_leaves

    def their_member(name, k):
        """The runner-up of member k: the k-th member of the runner-up's template (of each piece of a group)."""
        pieces = []
        for piece in name.split(ORDER_SEPARATOR):
            template = their_template.get(piece)
            pieces.append(piece if template is None else their_leaves[template.members[min(k, template.count - 1)]].name)
        return ORDER_SEPARATOR.join(pieces)

    pairs = []
    for pair in small.pairs:
        sources = [their_template[name] for name in pair.their]
        for k, m in enumerate(my_template[pair.my].members):
            pairs.append((m, dataclasses.replace(
                pair,
                my=my_leaves[m].name,
                their=tuple(their_leaves[t.members[k]].name for t in sources),
                runner_up=their_member(pair.runner_up, k) if pair.runner_up else None,
            )))
    pairs.sort(key=lambda item: item[0])
    return Mapping(
        pairs=tuple(pair for _, pair in pairs),
        my_signature=tuple((leaf.name, leaf.shape, leaf.dtype) for leaf in my_leaves),
        their_signature=tuple((leaf.name, leaf.shape, leaf.dtype) for leaf in their_leaves),
        options=problem.options,
        unmatched_my=tuple(my_leaves[m].name for m in sorted(m for name in small.unmatched_my for m in my_template[name].members)),
        unmatched_their=tuple(their_leaves[t].name for t in sorted(t for name in small.unmatched_their for t in their_template[name].members)),
        graph=small.graph,
        treedef=problem.my_treedef,
        my_aliases={leaf.name: leaf.aliases for leaf in my_leaves if leaf.aliases},
    )


def _unfolded_error(error, folded, problem):
    """The templates' AmbiguityError with its tentative mapping and tied weights spelled out leaf by leaf."""
    members = {leaf.name: template.members for leaf, template in zip(folded.problem.my_leaves, folded.my_templates)}
    tied = {problem.my_leaves[m].name: number for name, number in error.tied.items() for m in members[name]}
    return AmbiguityError(str(error), error.groups, error.hints, tentative=unfold(error.tentative, folded, problem), tied=tied)


def _solve_leaves(problem, ignore_unmatched_inputs, ignore_unmatched_outputs, solution=None):
    """Runs the pipeline on a read problem, one node per leaf; `solution` is its (graph, assignment) if known.
    An AmbiguityError carries the mapping of the pairs its message shows, the tied ones marked."""
    graph, assignment = solution or solve_with_structure(problem)
    check_unmatched(problem, assignment, ignore_unmatched_inputs, ignore_unmatched_outputs)
    fused_ties = any(is_group(node) for changed in assignment.alternatives.values() for pair in changed.items() for node in pair if node)
    pairing = assignment.pairs
    if fused_ties:
        pairing = proposed_fused_pairing(graph, assignment)
    elif assignment.alternatives:
        pairing = proposed_pairing(graph, assignment, problem.my_leaves, problem.their_leaves, _tie_tolerance(graph, assignment))
    layouts, open_layout = settle_layouts(problem, graph, pairing)
    mapping = _mapping_of(problem, graph, assignment, pairing, layouts)
    if fused_ties:
        error = fused_ambiguity_error(graph, assignment, problem.my_leaves, problem.their_leaves)
    elif assignment.alternatives:
        error = ambiguity_error(
            graph, assignment, pairing, problem.my_leaves, problem.their_leaves,
            _unlike_definition(problem.my_leaves, problem.folding[0]), _unlike_definition(problem.their_leaves, problem.folding[1]),
            _tie_tolerance(graph, assignment),
            settle=lambda hints: _settling_hints(problem, hints),
        )
    else:
        error = open_layout
    if error is not None:
        # An open layout ties no pairs: its weight is what is left open.
        tied = tied_my_names(graph, assignment, problem.my_leaves) or {name: 1 for names, _ in error.groups[:1] for name in names}
        raise AmbiguityError(str(error), error.groups, error.hints, tentative=mapping, tied=tied)
    _check_hints_needed(problem, assignment)
    return mapping


def _mapping_of(problem, graph, assignment, pairing, layouts):
    """The Mapping of `pairing` (the assignment's pairs, or its proposed pairing where it ties)."""
    pairs = []
    for m in sorted(pairing):
        t = pairing[m]
        edge = graph.edges[m, t]
        # A weight that only a tied alternative pairs is as sure as that tie.
        margin = assignment.margins.get(m, 0.0)
        if is_group(m) or is_group(t):
            pairs.extend(fused_pairs(graph, m, t, margin, problem.my_leaves, problem.their_leaves))
            continue
        runner_up, runner_up_features = _runner_up(graph, m, t)
        pairs.append(Pair(
            my=problem.my_leaves[m[1]].name,
            their=(problem.their_leaves[t[1]].name,),
            transform=layouts[m].expression,
            axes=layouts[m].axes,
            cost=edge["cost"],
            margin=margin,
            features={k: edge[k] for k in FEATURE_WEIGHTS},
            runner_up=graph.nodes[runner_up]["name"] if runner_up else None,
            runner_up_features=runner_up_features,
        ))
    my_index = {leaf.name: leaf.index for leaf in problem.my_leaves}
    used = set(pairing.values())
    return Mapping(
        pairs=tuple(sorted(pairs, key=lambda pair: my_index[pair.my])),
        my_signature=tuple((leaf.name, leaf.shape, leaf.dtype) for leaf in problem.my_leaves),
        their_signature=tuple((leaf.name, leaf.shape, leaf.dtype) for leaf in problem.their_leaves),
        options=problem.options,
        unmatched_my=tuple(problem.my_leaves[n[1]].name for n in assignment.unmatched_left if n not in pairing),
        unmatched_their=tuple(problem.their_leaves[n[1]].name for n in assignment.unmatched_right if n not in used),
        graph=graph,
        treedef=problem.my_treedef,
        my_aliases={leaf.name: leaf.aliases for leaf in problem.my_leaves if leaf.aliases},
    )


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
    for hint in steps(hints, "settling the proposed hints"):
        rest = [h for h in kept if h != hint]
        if _unique_with(problem, rest) == pairs:
            kept = rest
    return kept


def _check_hints_needed(problem, assignment):
    """A hint must change something: without it the mapping differs or is not unique."""
    if not problem.hints:
        return
    for hint in steps(problem.hints, "checking hints"):
        if hint in problem.hints_shaping_modules:
            continue
        _, without = solve_with_structure(problem, _without(problem.hints, hint))
        if without.pairs == assignment.pairs and not without.alternatives:
            raise HintError(f"hint {hint!r} is never needed: the mapping is the same and unique without it; remove it",
                            hint=hint, never_needed=True)


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
    return solve_problem(problem, ignore_unmatched_inputs=ignore_unmatched_inputs, ignore_unmatched_outputs=ignore_unmatched_outputs)


def cost_graph(their, my, *, in_format=None, out_format=None, in_separator=None, out_separator=None, hints=()):
    """The networkx bipartite graph the solver sees, for inspecting why a mapping came out as it did.

    Nodes are ``("my", i)`` and ``("their", j)`` with attributes ``name``, ``shape``, ``dtype``.
    Each edge is a candidate pair with ``cost`` (lower is better), the feature values that make it
    (``leaf_name``, ``module_name``, ``block_index``, ``order``, ``layout_change``; see
    ``weightbridge.FEATURE_WEIGHTS``) and ``transform`` (the einx expression). Where the weights
    repeat over layers or experts, a node stands for a template: its first weight is named, and
    ``instances`` says how many weights it stands for (1 for a single weight). Candidate fused weights
    are group nodes ``("their group", k)`` / ``("my group", k)`` whose ``members`` are the leaf nodes they
    are made of, joined by one edge to their partner.

    Example:
        >>> g = weightbridge.cost_graph(their, my)
        >>> node = next(n for n, d in g.nodes(data=True) if d["name"] == "fc.weight")
        >>> sorted((d["cost"], g.nodes[v]["name"]) for _, v, d in g.edges(node, data=True))[:3]
    """
    problem = read_problem(their, my, in_format=in_format, out_format=out_format, in_separator=in_separator,
                           out_separator=out_separator, hints=hints)
    problem = with_structure(problem)
    folded = fold_problem(problem)
    if folded is not None:
        return folded.solution[0]
    graph, _ = solve_with_structure(problem)
    return graph

"""adapt(): match, then decode into a tree shaped like `my`; with an optional cache of the mapping."""

import json
import os
import sys
import time

from ._mapping import Mapping
from ._match import read_problem, solve_problem


def _resolve_cache(cache, caller_file):
    path = os.fspath(cache)
    if not path.endswith(".json"):
        path += ".json"
    if not os.path.isabs(path):
        path = os.path.join(os.path.dirname(os.path.abspath(caller_file)), path)
    return path


def _cached_mapping(path, problem, options, say):
    if not os.path.exists(path):
        say(f"cache {path} does not exist yet; matching")
        return None
    try:
        with open(path) as f:
            mapping = Mapping.from_json(json.load(f))
    except (OSError, ValueError, KeyError, TypeError) as error:
        say(f"cache {path} is unreadable ({error}); ignoring it and matching again")
        return None
    my_signature = tuple((leaf.name, leaf.shape, leaf.dtype) for leaf in problem.my_leaves)
    their_signature = tuple((leaf.name, leaf.shape, leaf.dtype) for leaf in problem.their_leaves)
    if mapping.my_signature != my_signature or mapping.their_signature != their_signature or mapping.options != options:
        say(f"cache {path} is stale (different names, shapes, dtypes or options); matching again")
        return None
    say(f"cache {path} matches; using its mapping")
    return mapping


def adapt(their, my, *, in_format=None, out_format=None, in_separator=None, out_separator=None, hints=(),
          cache=None, ignore_unmatched_inputs=False, ignore_unmatched_outputs=False, cast="safe", verbose=False):
    """Fills a tree shaped like `my` with the values of `their`.

    Args:
        their: the weights to load (a checkpoint): nested dicts, Mappings (FrozenDict, OrderedDict),
            lists/tuples, torch state dicts or Haiku dicts, with numpy, torch or jax arrays as leaves.
        my: the weights the target model creates at init, in the same kinds of trees; leaves may be
            shape-only (``jax.ShapeDtypeStruct``, torch meta tensors).
        in_format, out_format: the axis order of kernels on each side: 'pytorch', 'jittor',
            'tensorflow', 'keras', 'flax', 'haiku', a :class:`Format` or a dict of einx expressions
            per kind of weight. Without them, layouts are inferred from the shapes.
        in_separator, out_separator: the string joining module names ('.' or '/'); inferred when None.
        hints: pairs ``(my_substring, their_substring)``: a `my` weight contains the first exactly
            when its partner contains the second. An AmbiguityError proposes the hint to pass.
        cache: a JSON file for the mapping; a relative path is taken next to the calling module.
            A stale or unreadable cache is ignored and rewritten.
        ignore_unmatched_inputs: allow `their` weights that nothing uses.
        ignore_unmatched_outputs: allow `my` weights without a partner; they keep their values.
        cast: "safe" raises a DtypeError where casting to a `my` dtype changes values beyond rounding
            (overflow to inf, a fraction into an int); "unsafe" allows it. Exact casts are silent.
        verbose: print the steps and the final table (my name, their name, transform, margin).

    Returns:
        A tree with the structure, shapes, dtypes and array types of `my`.

    Example:
        >>> new_params = weightbridge.adapt(torch_model.state_dict(), flax_params, hints=[("reduce", "conv1")])
    """
    say = print if verbose else (lambda *args: None)
    start = time.perf_counter()
    problem = read_problem(their, my, in_format=in_format, out_format=out_format, in_separator=in_separator,
                           out_separator=out_separator, hints=hints)
    options = dict(problem.options, ignore_unmatched_inputs=ignore_unmatched_inputs, ignore_unmatched_outputs=ignore_unmatched_outputs)
    say(f"weightbridge: read {len(problem.their_leaves)} their and {len(problem.my_leaves)} my weights")
    path = _resolve_cache(cache, sys._getframe(1).f_code.co_filename) if cache is not None else None
    mapping = _cached_mapping(path, problem, options, say) if path else None
    if mapping is None:
        mapping = solve_problem(problem, ignore_unmatched_inputs=ignore_unmatched_inputs,
                                            ignore_unmatched_outputs=ignore_unmatched_outputs)
        mapping = Mapping(mapping.pairs, mapping.my_signature, mapping.their_signature, options, mapping.unmatched_my,
                          mapping.unmatched_their, mapping.graph, mapping.treedef, mapping.my_aliases)
        say(f"weightbridge: cost graph with {mapping.graph.number_of_edges()} candidate pairs; "
            f"{len(mapping.pairs)} pairs chosen in {time.perf_counter() - start:.2f} s")
        if path:
            mapping.save(path)
            say(f"weightbridge: wrote cache {path}")
    result = mapping.apply(their, my, cast=cast)
    if verbose:
        print(mapping.table())
        print(f"weightbridge: adapt took {time.perf_counter() - start:.2f} s")
    return result




"""Functional check of a mapping: the mapped weights must make the target compute what the source computes."""

from __future__ import annotations

import copy
import traceback
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from benchmarks.zoo.pairs import ZooPair

TOLERANCE = 1e-4
# The bound for a proof: tighter than the check, so that a proven pair leaves the check room.
PROOF_TOLERANCE = 1e-5

# The key orders a source tree is handed over in: as the library defines it (a state dict), sorted by
# name (safetensors and .npz files), and a seeded shuffle (evidence that survives any order).
ORDERS = ("definition", "alphabetical", "shuffled")


@dataclass(frozen=True)
class Result:
    """How a mapping fared on one pair.

    `outcome` is "correct" (outputs agree within `TOLERANCE`), "wrong" (the mapped weights
    load but the outputs disagree), "error" (the mapper refused with a ValueError) or
    "crashed" (any other exception, or a result that does not load).
    """

    outcome: str
    relative_error: float | None
    message: str


def relative_error(expected: np.ndarray, got: np.ndarray) -> float:
    """max|expected - got| / max|expected|; infinite when the shapes differ or a value is not finite."""
    if expected.shape != got.shape:
        return float("inf")
    scale = float(np.max(np.abs(expected)))
    difference = float(np.max(np.abs(expected.astype(np.float64) - got.astype(np.float64))))
    if not np.isfinite(difference) or not np.isfinite(scale) or scale == 0.0:
        return float("inf")
    return difference / scale


def reordered(tree, order: str, seed: int = 0):
    """`tree` with the keys of every mapping in `order` (one of `ORDERS`); leaves and sequences untouched.

    The container types stay (a state dict stays an `OrderedDict`); a shuffle draws from `seed`.
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    rng = np.random.default_rng(seed)

    def visit(node):
        if isinstance(node, Mapping):
            keys = list(node)
            if order == "alphabetical":
                keys = sorted(keys, key=str)
            elif order == "shuffled":
                keys = [keys[index] for index in rng.permutation(len(keys))]
            items = [(key, visit(node[key])) for key in keys]
            try:
                return type(node)(items)
            except TypeError:
                return dict(items)
        return node

    return visit(tree)


class BuiltPair:
    """Both sides of a pair, built once for several runs; `sides(seed)` hands them over as fresh.

    Building a full-size EfficientNet-B7 or VGG-11 on both sides and drawing its random weights takes
    longer than mapping it, and a pair runs thirteen times (its proof, four tools in three orders).
    The weight trees are copied when built, and the source's again once randomised for a seed, and
    loaded back by `sides`, so every run sees what a fresh build would give and none what an earlier
    one loaded.
    """

    def __init__(self, pair: ZooPair):
        self.source, self.target = pair.build_source(), pair.build_target()
        self._as_built = copy.deepcopy(self.source.weights()), copy.deepcopy(self.target.weights())
        self._randomized = {}  # seed -> the source's weights after `randomize(seed)` from as built

    def sides(self, seed: int):
        """The source with the random weights of `seed` (drawn at each weight's own scale as built), the target as built."""
        source_as_built, target_as_built = self._as_built
        if seed in self._randomized:
            self.source.load(self._randomized[seed])
        else:
            self.source.load(source_as_built)
            self.source.randomize(seed)
            self._randomized[seed] = copy.deepcopy(self.source.weights())
        self.target.load(target_as_built)
        return self.source, self.target


# What a mapped target is compared with: the source's output, or the target's own output on the weights
# of the pair's proof (for a keras-hub pair, keras-hub's converter): the mapping a library ships.
REFERENCES = ("source", "proof")


def verify(
    pair: ZooPair, adapt_fn, *, hints=(), seed: int = 0, order: str = "definition", against: str = "source", built=None
) -> Result:
    """Map `pair`'s randomised source weights onto its target with `adapt_fn` and compare the outputs.

    `adapt_fn(their, my, hints=hints)` is called like `weightbridge.adapt`; the source tree reaches
    it in `order` (see `reordered`), the target tree in its own order. `against` (one of `REFERENCES`)
    is what the mapped target's output is compared with: the source's, or the target's on the weights
    `pair.prove` gives. Both sides are built here, or taken as built from `built` (a `BuiltPair` of
    `pair`), so nothing outside this call is changed.
    """
    if against not in REFERENCES:
        raise ValueError(f"against must be one of {REFERENCES}, got {against!r}")
    if against == "proof" and pair.prove is None:
        raise ValueError(f"{pair.name} has no proof to compare with")
    source, target = (built or BuiltPair(pair)).sides(seed)
    their = reordered(source.weights(), order, seed)
    try:
        mapped = adapt_fn(their, target.weights(), hints=hints)
    except ValueError as error:
        return Result("error", None, f"{type(error).__name__}: {error}")
    except Exception as error:  # noqa: BLE001 - a mapper may fail in any way; that is the finding
        return Result("crashed", None, _describe(error))
    try:
        target.load(mapped)
    except Exception as error:  # noqa: BLE001
        return Result("crashed", None, f"the mapped weights do not load: {_describe(error)}")
    inputs = pair.make_input(seed)
    expected = source.run(inputs) if against == "source" else _proven_target(pair, source).run(inputs)
    try:
        got = target.run(inputs)
    except Exception as error:  # noqa: BLE001
        return Result("crashed", None, f"the target does not run on the mapped weights: {_describe(error)}")
    error = relative_error(expected, got)
    if error < TOLERANCE:
        return Result("correct", error, "")
    return Result("wrong", error, "")


def prove(pair: ZooPair, *, seed: int = 0, built=None) -> Result:
    """Run `pair.prove` as the mapper: "correct" only within `PROOF_TOLERANCE`, else the pair is unproven."""
    if pair.prove is None:
        return Result("unproven", None, "the pair has no proof")
    result = verify(pair, lambda their, my, hints=(): pair.prove(their, my), seed=seed, built=built)
    if result.outcome == "correct" and result.relative_error >= PROOF_TOLERANCE:
        return Result("wrong", result.relative_error, f"relative error {result.relative_error:.3g} above {PROOF_TOLERANCE:g}")
    return result


def _proven_target(pair: ZooPair, source):
    """A fresh target holding the weights the pair's proof gives for `source`'s weights."""
    target = pair.build_target()
    target.load(pair.prove(source.weights(), target.weights()))
    return target


def _describe(error: BaseException) -> str:
    where = traceback.extract_tb(error.__traceback__)[-1:]
    place = f" (at {where[0].filename}:{where[0].lineno})" if where else ""
    return f"{type(error).__name__}: {error}{place}"

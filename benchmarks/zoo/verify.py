"""Functional check of a mapping: the mapped weights must make the target compute what the source computes."""

from __future__ import annotations

import traceback
from dataclasses import dataclass

import numpy as np

from benchmarks.zoo.pairs import ZooPair

TOLERANCE = 1e-4


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


def verify(pair: ZooPair, adapt_fn, *, hints=(), seed: int = 0) -> Result:
    """Map `pair`'s randomised source weights onto its target with `adapt_fn` and compare the outputs.

    `adapt_fn(their, my, hints=hints)` is called like `weightbridge.adapt`. Both sides are
    built here, so nothing outside this call is changed.
    """
    source = pair.build_source()
    target = pair.build_target()
    source.randomize(seed)
    try:
        mapped = adapt_fn(source.weights(), target.weights(), hints=hints)
    except ValueError as error:
        return Result("error", None, f"{type(error).__name__}: {error}")
    except Exception as error:  # noqa: BLE001 - a mapper may fail in any way; that is the finding
        return Result("crashed", None, _describe(error))
    try:
        target.load(mapped)
    except Exception as error:  # noqa: BLE001
        return Result("crashed", None, f"the mapped weights do not load: {_describe(error)}")
    inputs = pair.make_input(seed)
    expected = source.run(inputs)
    try:
        got = target.run(inputs)
    except Exception as error:  # noqa: BLE001
        return Result("crashed", None, f"the target does not run on the mapped weights: {_describe(error)}")
    error = relative_error(expected, got)
    if error < TOLERANCE:
        return Result("correct", error, "")
    return Result("wrong", error, "")


def _describe(error: BaseException) -> str:
    where = traceback.extract_tb(error.__traceback__)[-1:]
    place = f" (at {where[0].filename}:{where[0].lineno})" if where else ""
    return f"{type(error).__name__}: {error}{place}"

"""Decode: pass each source tensor through its pair's einx transform, in the source's own array library,
then give it the dtype and array type of the `my` leaf."""

import sys

import einx
import numpy as np


def library_of(x):
    """'torch', 'jax', 'numpy', or 'lazy' (anything else with .shape/.dtype, read by numpy.asarray)."""
    module = type(x).__module__
    if module.startswith("torch"):
        return "torch"
    if module.startswith(("jax", "jaxlib")):
        return "jax"
    if isinstance(x, np.ndarray) or isinstance(x, np.generic):
        return "numpy"
    return "lazy"


def _is_shape_only(x):
    library = library_of(x)
    if library == "torch":
        return x.device.type == "meta"
    if library == "jax":
        return type(x).__name__ == "ShapeDtypeStruct"
    return library == "lazy" and not hasattr(x, "__array__")


def materialise(x, name):
    """The tensor itself; lazy leaves are read now, once. `name` is its `their` name, for the error."""
    if library_of(x) == "lazy":
        if not hasattr(x, "__array__"):
            from ._errors import TreeError

            raise TreeError(f"`their` {name!r} is a {type(x).__name__}, which holds no data "
                            "(shape-only leaves can only be on the `my` side)")
        return np.asarray(x)
    return x


def transform(sources, expression, axes):
    """Applies an einx transform to the source tensors (several for a fused weight); the empty
    expression keeps the one tensor. A split gives a tuple of tensors."""
    if not expression:
        (x,) = sources
        return x
    return einx.id(expression, *sources, **axes)


def _torch_dtype(name):
    import torch

    return getattr(torch, name)


def _numpy_dtype(name):
    try:
        return np.dtype(name)
    except TypeError:
        import ml_dtypes

        return np.dtype(getattr(ml_dtypes, name))


def _to_numpy(x):
    library = library_of(x)
    if library == "torch":
        x = x.detach().cpu()
        try:
            return x.numpy()
        except TypeError:
            import ml_dtypes

            name = str(x.dtype).replace("torch.", "")
            bits = {1: "uint8", 2: "uint16", 4: "uint32"}[x.element_size()]
            return x.view(getattr(__import__("torch"), bits)).numpy().view(getattr(ml_dtypes, name))
    return np.asarray(x)


def _to_torch(x):
    import torch

    library = library_of(x)
    if library == "torch":
        return x
    if library == "jax":
        return torch.from_dlpack(x)
    x = np.ascontiguousarray(x)
    try:
        return torch.from_numpy(x)
    except TypeError:
        # numpy has no bfloat16/float8 of its own (ml_dtypes): move the bits, then reinterpret them.
        bits = torch.from_numpy(x.view(f"uint{8 * x.dtype.itemsize}"))
        return bits.view(_torch_dtype(x.dtype.name))


def _to_jax(x):
    import jax.numpy as jnp

    library = library_of(x)
    if library == "jax":
        return x
    if library == "torch":
        import jax.dlpack

        return jax.dlpack.from_dlpack(x.detach().contiguous())
    return jnp.asarray(x)


def _cast(x, dtype_name):
    library = library_of(x)
    if library == "torch":
        dtype = _torch_dtype(dtype_name)
        return x if x.dtype == dtype else x.to(dtype)
    dtype = _numpy_dtype(dtype_name)
    return x if x.dtype == dtype else x.astype(dtype)


CASTS = ("safe", "unsafe")


def as_like(x, like, dtype_name, cast="safe", name=None):
    """`x` with the dtype and array type of `like` (the `my` leaf). Shape-only `my` leaves of a
    library give that library's arrays; other shape-only leaves keep the source's library.
    With ``cast="safe"`` a cast that changes a value beyond rounding is a DtypeError naming `name`."""
    if cast not in CASTS:
        raise ValueError(f"cast={cast!r} is not one of {CASTS}")
    with np.errstate(over="ignore", invalid="ignore"):  # what overflows is reported below, or allowed
        result = _as_like(x, like, dtype_name)
    if cast == "safe" and str(x.dtype).replace("torch.", "") != dtype_name:
        _check_lossless(x, result, name)
    return result


def _check_lossless(source, result, name):
    """Rounding to a narrower float is accepted (every float16 or bfloat16 conversion rounds); a value
    that overflows to inf, or a number the target kind cannot hold (1.5 or nan as an int, -1 as
    unsigned, 3+1j as real), is not."""
    before, after = _to_numpy(source), _to_numpy(result)
    if after.dtype.kind == "f" or after.dtype.type.__module__ != "numpy":
        wide = before.astype(np.complex128 if before.dtype.kind == "c" else np.float64)
        lost = np.isfinite(wide) & ~np.isfinite(after.astype(np.float64))
        if before.dtype.kind == "c":
            lost |= wide.imag != 0
    else:
        with np.errstate(invalid="ignore"):
            lost = after.astype(before.dtype) != before
        if before.dtype.kind in "fc":
            lost |= ~np.isfinite(before)
    if lost.any():
        index = tuple(int(k) for k in np.argwhere(lost)[0])
        from ._errors import DtypeError

        raise DtypeError(
            f"my {name!r}: casting {before.dtype.name} to {after.dtype.name} changes its values "
            f"({int(lost.sum())} of {lost.size}; at {list(index)}: {before[index].item():.6g} becomes {after[index].item():.6g}); "
            'pass cast="unsafe" to allow this'
        )


def _as_like(x, like, dtype_name):
    target = library_of(like)
    source = library_of(x)
    if target == "lazy" or target == source:
        result = _cast(x, dtype_name)
    elif target == "torch":
        result = _cast(_to_torch(_cast(x, dtype_name) if source != "torch" else x), dtype_name)
    elif target == "jax":
        result = _cast(_to_jax(_cast(x, dtype_name) if source == "torch" else x), dtype_name)
    else:
        result = _cast(_to_numpy(x), dtype_name)
    if target == "torch" and not _is_shape_only(like) and result.device != like.device:
        result = result.to(like.device)
    if target == "torch" and "torch" in sys.modules:
        result = result.contiguous()
    return result

"""Golden model of :class:`hwgen.units.spmv.SparseMatVec`: the zero-skipping CSC product."""

import numpy as np
import numpy.typing as npt

__all__ = ["csc", "wrap_signed", "spmv_csc"]


def csc(w: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CSC form of ``w``: ``(rows, col_counts, values)`` of its non-zeros, column by
    column, rows ascending (the order sHAM codes them)."""
    w = np.asarray(w)
    col_idx, row_idx = np.nonzero(w.T)
    return row_idx, np.bincount(col_idx, minlength=w.shape[1]), w.T[col_idx, row_idx]


def wrap_signed(v: int, width: int) -> int:
    """``v`` (Python int) wrapped to a ``width``-bit two's complement value."""
    v &= (1 << width) - 1
    return v - (1 << width) if v >> (width - 1) else v


def spmv_csc(x: npt.ArrayLike, rows: npt.ArrayLike, col_counts: npt.ArrayLike,
             values: npt.ArrayLike, acc_width: int | None = None) -> list[int]:
    """``y[col] = Σ x[row] · value`` over the listed non-zeros only, in exact integer
    arithmetic (wrapped to ``acc_width`` bits if given): a list of Python ints, one per
    column."""
    x = [int(v) for v in np.asarray(x).ravel()]
    rows = [int(r) for r in np.asarray(rows).ravel()]
    values = [int(v) for v in np.asarray(values).ravel()]
    y: list[int]
    y, k = [], 0
    for n in np.asarray(col_counts).ravel().tolist():
        acc = 0
        for j in range(k, k + int(n)):
            acc += x[rows[j]] * values[j]
        k += int(n)
        y.append(wrap_signed(acc, acc_width) if acc_width else acc)
    if k != len(values):
        raise ValueError(f"Column counts add up to {k}, not {len(values)} non-zeros")
    return y

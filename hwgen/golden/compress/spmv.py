"""Golden model of :class:`hwgen.units.spmv.SparseMatVec`: the zero-skipping CSC product."""

import numpy as np

__all__ = ["csc", "wrap_signed", "spmv_csc"]


def csc(w):
    """The CSC form of ``w``: ``(rows, col_counts, values)`` of its non-zeros, column by
    column, rows ascending (the order sHAM codes them)."""
    w = np.asarray(w)
    col_idx, row_idx = np.nonzero(w.T)
    return row_idx, np.bincount(col_idx, minlength=w.shape[1]), w.T[col_idx, row_idx]


def wrap_signed(v, width):
    """``v`` (Python int) wrapped to a ``width``-bit two's complement value."""
    v &= (1 << width) - 1
    return v - (1 << width) if v >> (width - 1) else v


def spmv_csc(x, rows, col_counts, values, acc_width=None):
    """``y[col] = Σ x[row] · value`` over the listed non-zeros only, in exact integer
    arithmetic (wrapped to ``acc_width`` bits if given): a list of Python ints, one per
    column."""
    x = [int(v) for v in np.asarray(x).ravel()]
    rows = [int(r) for r in np.asarray(rows).ravel()]
    values = [int(v) for v in np.asarray(values).ravel()]
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

"""Canonical, length-limited Huffman codes (package-merge) and their code tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import cast

import numpy as np
import numpy.typing as npt

__all__ = ["huffman_lengths", "CanonicalCode"]


def huffman_lengths(freqs: npt.ArrayLike, max_len: int | np.integer = 16) -> np.ndarray:
    """Optimal code lengths for symbol frequencies ``freqs`` with no code longer than
    ``max_len`` (package-merge).

    ``freqs`` are positive integers; the result has one length per symbol (int64). One symbol
    gets length 1 (a code must have a bit); no symbols give an empty array.
    """
    freqs = np.asarray(freqs)
    if freqs.ndim != 1:
        raise ValueError(f"Frequencies must be a 1-D array, not shape {freqs.shape}")
    if freqs.size and (not np.issubdtype(freqs.dtype, np.integer) or freqs.min() < 1):
        raise ValueError("Frequencies must be positive integers")
    if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)) \
            or not 1 <= max_len <= 32:
        raise ValueError(f"Maximum code length must be an integer in 1..32, not {max_len!r}")
    n = freqs.size
    if n > (1 << max_len):
        raise ValueError(f"{n} symbols do not fit in codes of at most {max_len} bits")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n == 1:
        return np.ones(1, dtype=np.int64)
    order = np.lexsort((np.arange(n), freqs.astype(np.int64)))
    leaves = freqs.astype(np.int64)[order]
    # Coin collector: the list of denomination 2**-l merges the leaves with the pairs
    # ("packages") of the list of denomination 2**-(l+1). Only whether each entry is a
    # package is kept: the leaves chosen from a list are always a prefix of the sorted leaves.
    is_pkg: list[np.ndarray | None] = [None] * (max_len + 1)
    cur = leaves
    is_pkg[max_len] = np.zeros(n, dtype=bool)
    for level in range(max_len - 1, 0, -1):
        m = cur.size // 2 * 2
        pk = cur[0:m:2] + cur[1:m:2]
        allw = np.concatenate([leaves, pk])
        flags = np.concatenate([np.zeros(n, dtype=bool), np.ones(pk.size, dtype=bool)])
        o = np.argsort(allw, kind="stable")  # a leaf before a package of equal weight
        cur, is_pkg[level] = allw[o], flags[o]
    lengths_sorted = np.zeros(n, dtype=np.int64)
    take = 2 * n - 2
    for level in range(1, max_len + 1):
        chosen = cast(np.ndarray, is_pkg[level])[:take]
        packages = int(chosen.sum())
        lengths_sorted[:take - packages] += 1
        take = 2 * packages
    lengths = np.zeros(n, dtype=np.int64)
    lengths[order] = lengths_sorted
    return lengths


@dataclass(frozen=True)
class CanonicalCode:
    """A canonical prefix code given by the count of codes of each length.

    Parameters
    ----------
    counts : sequence of int
        ``counts[l - 1]`` codes of length ``l``, for ``l = 1 .. max_len``.

    Attributes
    ----------
    max_len : int
    n_symbols : int
    first : numpy.ndarray
        ``first[l - 1]``: the first code of length ``l`` (see the module docstring).
    lengths : numpy.ndarray
        The code length of each rank (non-decreasing).
    codes : numpy.ndarray
        The code of each rank (its ``lengths[r]`` low bits, MSB first).
    """
    counts: tuple[int, ...]

    def __post_init__(self) -> None:
        counts = tuple(int(c) for c in self.counts)
        if not 1 <= len(counts) <= 32:
            raise ValueError(f"Maximum code length must be in 1..32, not {len(counts)}")
        if any(c < 0 for c in counts):
            raise ValueError(f"Code counts must be non-negative, not {counts}")
        if self.kraft_sum_of(counts) > 1:
            raise ValueError("Code counts violate the Kraft inequality (not a prefix code)")
        object.__setattr__(self, "counts", counts)

    @staticmethod
    def kraft_sum_of(counts: Sequence[int]) -> Fraction | int:
        return sum(Fraction(c, 1 << (i + 1)) for i, c in enumerate(counts))

    @classmethod
    def from_lengths(cls, lengths: npt.ArrayLike, max_len: int) -> CanonicalCode:
        """The canonical code with these code lengths (one per symbol, any order)."""
        lengths = np.asarray(lengths, dtype=np.int64)
        if lengths.size and (lengths.min() < 1 or lengths.max() > max_len):
            raise ValueError(f"Code lengths must be in 1..{max_len}")
        return cls(tuple(int(c) for c in np.bincount(lengths, minlength=max_len + 1)[1:]))

    @property
    def max_len(self) -> int:
        return len(self.counts)

    @property
    def n_symbols(self) -> int:
        return sum(self.counts)

    @property
    def kraft_sum(self) -> Fraction | int:
        """Σ 2^-length as an exact Fraction (≤ 1 for a prefix code, 1 when complete)."""
        return self.kraft_sum_of(self.counts)

    @property
    def first(self) -> np.ndarray:
        first, code = [], 0
        for c in self.counts:
            first.append(code)
            code = (code + c) << 1
        return np.array(first, dtype=np.int64)

    @property
    def lengths(self) -> np.ndarray:
        return np.repeat(np.arange(1, self.max_len + 1), self.counts).astype(np.int64)

    @property
    def codes(self) -> np.ndarray:
        out: list[int]
        first, out = self.first, []
        for i, c in enumerate(self.counts):
            out.extend(range(int(first[i]), int(first[i]) + c))
        return np.array(out, dtype=np.int64)

    def encode(self, ranks: npt.ArrayLike) -> np.ndarray:
        """The MSB-first bit string (uint8 array of 0/1) of the ranks ``ranks``."""
        ranks = np.asarray(ranks, dtype=np.int64).ravel()
        if ranks.size == 0:
            return np.zeros(0, dtype=np.uint8)
        if ranks.min() < 0 or ranks.max() >= self.n_symbols:
            raise ValueError(f"Ranks must be in 0..{self.n_symbols - 1}")
        L = self.max_len
        lens, codes = self.lengths[ranks], self.codes[ranks]
        aligned = codes << (L - lens)
        shifts = np.arange(L - 1, -1, -1, dtype=np.int64)
        bits = (aligned[:, None] >> shifts) & 1
        return bits[np.arange(L)[None, :] < lens[:, None]].astype(np.uint8)

    def decode(self, bits: npt.ArrayLike, n: int) -> np.ndarray:
        """The first ``n`` ranks coded in the bit string ``bits`` (table look-up of ``max_len``
        bits at a time, built from the first code and count of each length)."""
        bits = np.asarray(bits, dtype=np.int64).ravel()
        L = self.max_len
        lut_rank = np.full(1 << L, -1, dtype=np.int64)
        lut_len = np.zeros(1 << L, dtype=np.int64)
        rank = 0
        for i, (c, f) in enumerate(zip(self.counts, self.first)):
            length = i + 1
            for code in range(int(f), int(f) + c):
                lo, hi = code << (L - length), (code + 1) << (L - length)
                lut_rank[lo:hi] = rank
                lut_len[lo:hi] = length
                rank += 1
        padded = np.concatenate([bits, np.zeros(L, dtype=np.int64)])
        # window[p]: the L bits starting at bit p, as an integer
        window = np.zeros(bits.size + 1, dtype=np.int64)
        for j in range(L):
            window = (window << 1) | padded[j:j + bits.size + 1]
        window = window.tolist()
        lut_rank, lut_len = lut_rank.tolist(), lut_len.tolist()
        out, pos = [], 0
        for _ in range(n):
            if pos >= bits.size:
                raise ValueError("Bit stream ends before the last symbol")
            v = window[pos]
            if lut_len[v] == 0:
                raise ValueError(f"Invalid code at bit {pos}")
            out.append(lut_rank[v])
            pos += lut_len[v]
        if pos > bits.size:
            raise ValueError("Bit stream ends inside the last symbol")
        return np.array(out, dtype=np.int64)

"""Space-conscious weight representations (Marinò, Malchiodi et al.), bit for bit.

The host side of compressed weights, numpy only:

* :func:`prune` -- magnitude pruning by percentile;
* :func:`kmeans_share` -- k-means weight sharing of the non-zeros (1-D Lloyd, linear init);
* :func:`pq_quantize` -- probabilistic (unbiased stochastic) quantization of the non-zeros to
  ``2**bits`` evenly spaced levels;
* :func:`huffman_lengths` -- length-limited Huffman code lengths (package-merge, exact optimum
  under the bound) and :class:`CanonicalCode` (first code and count per length);
* :func:`pack_bits` / :func:`unpack_bits` -- fixed-width words, MSB first;
* :func:`ham_encode` / :func:`ham_decode` (Huffman over all entries, column-major) and
  :func:`sham_encode` / :func:`sham_decode` (CSC: Huffman-coded non-zeros, row indices,
  per-column counts), both giving a :class:`Compressed`;
* :func:`write_container` / :func:`read_container` -- the binary container (layout below);
* :func:`psi` and :func:`plain_ratio` -- the compression ratio.

Symbols and ranks
-----------------
The alphabet of a matrix is the set of distinct float32 values it codes (HAM: every entry,
zero included; sHAM: the non-zeros). After code lengths are chosen, the alphabet is reordered
into *canonical order* -- by (code length, value bit pattern) -- and a symbol is its *rank* in
that order. The value table is stored in rank order, so a decoder needs only the count of codes
per length: rank ``r`` has the ``r``-th code in canonical order. ``-0.0`` is coded as ``+0.0``.

Canonical code
--------------
``count[l]`` codes of length ``l`` (``l = 1 .. max_len``); ``first[1] = 0`` and
``first[l + 1] = (first[l] + count[l]) << 1``; the codes of length ``l`` are
``first[l], first[l] + 1, ...`` given to consecutive ranks. Every code is a prefix-free
MSB-first bit string.

Length limiting
---------------
:func:`huffman_lengths` uses the package-merge algorithm (Larmore and Hirschberg, 1990): it
gives the code lengths of minimum total coded size among all prefix codes whose longest code is
at most ``max_len`` -- the optimum, not a heuristic repair of an unbounded Huffman tree. Ties
are broken by (frequency, symbol index), so the result is deterministic.

Container layout (version 1, little-endian unless said)
-------------------------------------------------------
=======  =====  ==================================================================
offset   size   field
=======  =====  ==================================================================
0        4      magic ``b"HWGC"``
4        2      version, 1
6        1      format: 0 = HAM, 1 = sHAM
7        1      word width W in bits: 8, 16, 32 or 64
8        4      rows
12       4      columns
16       1      max_len L (1 .. 32)
17       1      row-index width in bits (sHAM; 0 for HAM)
18       1      column-count width in bits (sHAM; 0 for HAM)
19       1      reserved, 0
20       4      n_symbols: entries of the value table
24       4      n_coded: coded symbols (HAM: rows * columns; sHAM: non-zeros)
28       4      n_words: words of the Huffman bit stream
32       4      n_row_words: words of the row-index stream (sHAM; 0 for HAM)
36       4      n_count_words: words of the column-count stream (sHAM; 0 for HAM)
40       8 L    code table: for l = 1 .. L, first code (u32) then count (u32)
..       4 n    value table: n_symbols float32, in rank order
..              Huffman words, then row-index words, then column-count words; each word is
                W/8 bytes **big-endian**, so the bytes are the MSB-first bit stream in order
end-4    4      CRC-32 (zlib/IEEE 802.3) of every byte before it, u32
=======  =====  ==================================================================

The row-index stream holds one ``row_bits``-bit field per non-zero (``row_bits =
max(1, bit_length(rows - 1))``), the column-count stream one ``count_bits``-bit field per column
(``count_bits = bit_length(rows)``), both packed MSB first like the Huffman stream, with the
non-zeros in CSC order (column by column, rows ascending).

Archive (several matrices, e.g. the layers of a model)
------------------------------------------------------
``b"HWGA"``, version u16 (1), entry count u16; per entry: name length u16, the name in UTF-8,
container length u32, the container; then the CRC-32 of every byte before it (u32). All
little-endian. Each container keeps its own CRC, so one can be sent on its own.

Compression ratio
-----------------
``psi = (code table bits + value table bits + packed word bits + row-index word bits +
column-count word bits) / (32 * rows * columns)``: the occupancy of the representation over the
dense fp32 matrix (smaller is better; the paper's ψ). The code table counts as stored (64 bits
per length), the value table 32 bits per symbol, every stream in whole words. The 40-byte
header and the CRC are not counted (they do not grow with the matrix). ``plain_ratio = 1 / psi``
(how many times smaller, e.g. "165x").
"""

import struct
import zlib
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

__all__ = ["prune", "kmeans_share", "kmeans_1d", "pq_quantize", "huffman_lengths",
           "CanonicalCode", "pack_bits", "unpack_bits", "pack_fields", "unpack_fields",
           "Compressed", "ham_encode", "ham_decode", "sham_encode", "sham_decode",
           "compress", "decompress", "write_container", "read_container", "psi",
           "plain_ratio", "write_archive", "read_archive", "csc", "spmv_csc", "wrap_signed",
           "stream_matrix", "weight_stream_rows",
           "MAGIC", "ARCHIVE_MAGIC", "VERSION", "WORD_WIDTHS"]

MAGIC = b"HWGC"
ARCHIVE_MAGIC = b"HWGA"
VERSION = 1
WORD_WIDTHS = (8, 16, 32, 64)
_HEADER = struct.Struct("<4sHBBIIBBBBIIIII")
_FORMATS = {"ham": 0, "sham": 1}


# -- pruning and quantization ----------------------------------------------------------------

def _as_matrix(w):
    w = np.asarray(w)
    if w.ndim != 2:
        raise ValueError(f"Weights must be a 2-D matrix, not an array of shape {w.shape}")
    if w.shape[0] < 1 or w.shape[1] < 1:
        raise ValueError(f"Weights must have at least one row and one column, not shape "
                         f"{w.shape}")
    if not np.issubdtype(w.dtype, np.number) or np.issubdtype(w.dtype, np.complexfloating):
        raise TypeError(f"Weights must be real numbers, not dtype {w.dtype}")
    w = w.astype(np.float32)
    if not np.all(np.isfinite(w)):
        raise ValueError("Weights must be finite (no NaN or infinity)")
    w[w == 0] = 0.0  # one zero: -0.0 becomes +0.0
    return w


def prune(w, percent):
    """Zero the ``percent`` % smallest-magnitude entries of ``w`` (a float32 copy).

    Exactly ``floor(percent * size / 100)`` entries are zeroed: the smallest ``|w|``, ties
    broken by column-major position (so the result does not depend on the platform's sort).
    Entries already zero count among them.
    """
    if isinstance(percent, bool) or not isinstance(percent, (int, float, np.integer,
                                                             np.floating)):
        raise TypeError(f"Pruning percentage must be a number, not {percent!r}")
    if not 0 <= percent <= 100:
        raise ValueError(f"Pruning percentage must be in [0, 100], not {percent!r}")
    w = _as_matrix(w)
    flat = w.ravel(order="F").copy()
    n = int(Fraction(percent) * flat.size // 100)
    if n:
        order = np.argsort(np.abs(flat), kind="stable")
        flat[order[:n]] = 0.0
    return flat.reshape(w.shape, order="F")


def kmeans_1d(x, k, *, max_iter=300):
    """Deterministic 1-D k-means (Lloyd) of the values ``x``.

    Initialization is linear: ``k`` centroids evenly spaced between ``min(x)`` and ``max(x)``
    (Han et al., "Deep Compression": linear init keeps the rare large weights, which matter
    most). Each step assigns every value to its nearest centroid (a tie goes to the lower one)
    and moves each centroid to the mean of its values; a centroid with no values stays. Stops
    when no assignment changes (or after ``max_iter`` steps). If ``x`` has at most ``k``
    distinct values, they are the centroids.

    Returns ``(centroids, labels)``: sorted float64 centroids (possibly fewer than ``k`` when
    ``x`` has fewer distinct values) and each value's centroid index.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    uniq = np.unique(x)
    if uniq.size <= k:
        return uniq, np.searchsorted(uniq, x)
    c = np.linspace(x.min(), x.max(), k)
    labels = None
    for _ in range(max_iter):
        mids = (c[1:] + c[:-1]) / 2
        new = np.searchsorted(mids, x, side="left")  # x == mid goes to the lower centroid
        if labels is not None and np.array_equal(new, labels):
            break
        labels = new
        sums = np.bincount(labels, weights=x, minlength=k)
        cnt = np.bincount(labels, minlength=k)
        c = np.where(cnt > 0, sums / np.maximum(cnt, 1), c)
        c = np.sort(c)  # means of ordered clusters stay ordered; sort guards rounding
    used = np.unique(labels)
    return c[used], np.searchsorted(used, labels)


def kmeans_share(w, k, *, max_iter=300):
    """k-means weight sharing of the non-zeros of ``w``: every non-zero is replaced by its
    cluster's centroid (float32); zeros stay zero.

    Returns ``(wq, centroids)`` with ``centroids`` the sorted float32 centroids in use. A
    centroid that rounds to 0.0 in float32 turns its members into zeros.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"Cluster count must be a positive integer, not {k!r}")
    if k < 1:
        raise ValueError(f"Cluster count must be a positive integer, not {k!r}")
    w = _as_matrix(w)
    nz = w != 0
    c, labels = kmeans_1d(w[nz], int(k), max_iter=max_iter)
    c32 = c.astype(np.float32)
    wq = np.zeros_like(w)
    wq[nz] = c32[labels]
    wq[wq == 0] = 0.0
    return wq, c32


def pq_quantize(w, bits, *, seed=0):
    """Probabilistic quantization of the non-zeros of ``w`` to ``2**bits`` levels.

    The levels are evenly spaced from the smallest to the largest non-zero (float64). A value
    ``x`` between levels ``a <= x <= b`` becomes ``b`` with probability ``(x - a) / (b - a)``
    and ``a`` otherwise, so ``E[q] = x``: the quantization is unbiased (before the final
    rounding of the level to float32). Draws come from ``numpy.random.default_rng(seed)``, in
    column-major order of the non-zeros. Zeros stay zero.

    Returns ``(wq, levels)`` with ``levels`` the float32 levels.
    """
    if isinstance(bits, bool) or not isinstance(bits, (int, np.integer)):
        raise TypeError(f"Level bits must be a positive integer, not {bits!r}")
    if not 1 <= bits <= 16:
        raise ValueError(f"Level bits must be an integer in 1..16, not {bits!r}")
    w = _as_matrix(w)
    flat = w.ravel(order="F").astype(np.float64)
    nzi = np.flatnonzero(flat)
    x = flat[nzi]
    if x.size == 0:
        return w.copy(), np.zeros(0, dtype=np.float32)
    lo, hi = x.min(), x.max()
    n = 1 << bits
    levels = np.linspace(lo, hi, n)
    if hi == lo:
        q = x
    else:
        step = (hi - lo) / (n - 1)
        i = np.clip(np.floor((x - lo) / step).astype(np.int64), 0, n - 2)
        a, b = levels[i], levels[i + 1]
        p = np.clip((x - a) / (b - a), 0.0, 1.0)
        up = np.random.default_rng(seed).random(x.size) < p
        q = np.where(up, b, a)
    out = np.zeros(flat.size, dtype=np.float32)
    out[nzi] = q.astype(np.float32)
    out[out == 0] = 0.0
    return out.reshape(w.shape, order="F"), levels.astype(np.float32)


# -- canonical, length-limited Huffman codes --------------------------------------------------

def huffman_lengths(freqs, max_len=16):
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
    is_pkg = [None] * (max_len + 1)
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
        chosen = is_pkg[level][:take]
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
    counts: tuple

    def __post_init__(self):
        counts = tuple(int(c) for c in self.counts)
        if not 1 <= len(counts) <= 32:
            raise ValueError(f"Maximum code length must be in 1..32, not {len(counts)}")
        if any(c < 0 for c in counts):
            raise ValueError(f"Code counts must be non-negative, not {counts}")
        if self.kraft_sum_of(counts) > 1:
            raise ValueError("Code counts violate the Kraft inequality (not a prefix code)")
        object.__setattr__(self, "counts", counts)

    @staticmethod
    def kraft_sum_of(counts):
        return sum(Fraction(c, 1 << (i + 1)) for i, c in enumerate(counts))

    @classmethod
    def from_lengths(cls, lengths, max_len):
        """The canonical code with these code lengths (one per symbol, any order)."""
        lengths = np.asarray(lengths, dtype=np.int64)
        if lengths.size and (lengths.min() < 1 or lengths.max() > max_len):
            raise ValueError(f"Code lengths must be in 1..{max_len}")
        return cls(tuple(int(c) for c in np.bincount(lengths, minlength=max_len + 1)[1:]))

    @property
    def max_len(self):
        return len(self.counts)

    @property
    def n_symbols(self):
        return sum(self.counts)

    @property
    def kraft_sum(self):
        """Σ 2^-length as an exact Fraction (≤ 1 for a prefix code, 1 when complete)."""
        return self.kraft_sum_of(self.counts)

    @property
    def first(self):
        first, code = [], 0
        for c in self.counts:
            first.append(code)
            code = (code + c) << 1
        return np.array(first, dtype=np.int64)

    @property
    def lengths(self):
        return np.repeat(np.arange(1, self.max_len + 1), self.counts).astype(np.int64)

    @property
    def codes(self):
        first, out = self.first, []
        for i, c in enumerate(self.counts):
            out.extend(range(int(first[i]), int(first[i]) + c))
        return np.array(out, dtype=np.int64)

    def encode(self, ranks):
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

    def decode(self, bits, n):
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


# -- fixed-width words ------------------------------------------------------------------------

def _check_word_width(word_width):
    if isinstance(word_width, bool) or not isinstance(word_width, (int, np.integer)) \
            or not 1 <= word_width <= 64:
        raise ValueError(f"Word width must be an integer in 1..64, not {word_width!r}")


def pack_bits(bits, word_width):
    """Pack a 0/1 bit string into ``word_width``-bit words, MSB first; the last word is padded
    with zeros. Returns a uint64 array of ``ceil(len(bits) / word_width)`` words."""
    _check_word_width(word_width)
    bits = np.asarray(bits, dtype=np.uint64).ravel()
    n_words = -(-bits.size // word_width)
    padded = np.zeros(n_words * word_width, dtype=np.uint64)
    padded[:bits.size] = bits
    shifts = np.arange(word_width - 1, -1, -1, dtype=np.uint64)
    return (padded.reshape(n_words, word_width) << shifts).sum(axis=1, dtype=np.uint64)


def unpack_bits(words, word_width):
    """The bit string (uint8 0/1, MSB first) of ``words`` (``word_width`` bits each)."""
    _check_word_width(word_width)
    words = np.asarray(words, dtype=np.uint64).ravel()
    shifts = np.arange(word_width - 1, -1, -1, dtype=np.uint64)
    return ((words[:, None] >> shifts) & np.uint64(1)).astype(np.uint8).ravel()


def pack_fields(values, field_bits, word_width):
    """Fixed-width unsigned fields (``field_bits`` each), packed MSB first into words."""
    values = np.asarray(values, dtype=np.int64).ravel()
    if values.size and (values.min() < 0 or values.max() >= 1 << field_bits):
        raise ValueError(f"Field values must fit in {field_bits} unsigned bits")
    shifts = np.arange(field_bits - 1, -1, -1, dtype=np.int64)
    bits = ((values[:, None] >> shifts) & 1).ravel()
    return pack_bits(bits, word_width)


def unpack_fields(words, field_bits, word_width, n):
    """The first ``n`` ``field_bits``-bit fields packed in ``words``."""
    bits = unpack_bits(words, word_width)[:n * field_bits].astype(np.int64)
    if bits.size < n * field_bits:
        raise ValueError("Field stream ends before the last field")
    shifts = np.arange(field_bits - 1, -1, -1, dtype=np.int64)
    return (bits.reshape(n, field_bits) << shifts).sum(axis=1)


# -- HAM and sHAM -----------------------------------------------------------------------------

@dataclass(eq=False)
class Compressed:
    """A matrix in HAM or sHAM form (what the container holds).

    Attributes
    ----------
    format : str
        ``"ham"`` or ``"sham"``.
    shape : tuple of int
        ``(rows, columns)``.
    word_width : int
    code : CanonicalCode
    values : numpy.ndarray
        float32 value of each rank.
    n_coded : int
        Symbols in the Huffman stream (HAM: every entry; sHAM: the non-zeros).
    words : numpy.ndarray
        uint64 words of the Huffman stream.
    row_bits, count_bits : int
        Field widths of the sHAM index streams (0 for HAM).
    row_words, count_words : numpy.ndarray
        uint64 words of the row-index and column-count streams (empty for HAM).
    """
    format: str
    shape: tuple
    word_width: int
    code: CanonicalCode
    values: np.ndarray
    n_coded: int
    words: np.ndarray
    row_bits: int = 0
    count_bits: int = 0
    row_words: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    count_words: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))

    @property
    def ranks(self):
        """The coded ranks, decoded (in stream order)."""
        return self.code.decode(unpack_bits(self.words, self.word_width), self.n_coded)

    @property
    def rows(self):
        """sHAM: the row index of each non-zero (CSC order)."""
        return unpack_fields(self.row_words, self.row_bits, self.word_width, self.n_coded)

    @property
    def col_counts(self):
        """sHAM: the number of non-zeros of each column."""
        return unpack_fields(self.count_words, self.count_bits, self.word_width,
                             self.shape[1])

    def size_bits(self):
        """The bits ψ counts (see the module docstring), by part."""
        return {
            "code_table": 64 * self.code.max_len,
            "value_table": 32 * len(self.values),
            "words": self.word_width * len(self.words),
            "row_indices": self.word_width * len(self.row_words),
            "col_counts": self.word_width * len(self.count_words),
        }


def _alphabet_code(vals, max_len):
    """Canonical code for the float32 values ``vals``: (code, value of each rank, rank of
    each value)."""
    pat = vals.view(np.uint32)
    alphabet, inverse = np.unique(pat, return_inverse=True)
    freqs = np.bincount(inverse.ravel(), minlength=alphabet.size)
    lengths = huffman_lengths(freqs, max_len)
    order = np.lexsort((alphabet, lengths))  # canonical: by (length, bit pattern)
    rank_of = np.empty(alphabet.size, dtype=np.int64)
    rank_of[order] = np.arange(alphabet.size)
    code = CanonicalCode.from_lengths(lengths, max_len)
    return code, alphabet[order].view(np.float32), rank_of[inverse.ravel()]


def _check_common(word_width, max_len):
    if word_width not in WORD_WIDTHS:
        raise ValueError(f"Word width must be one of {', '.join(map(str, WORD_WIDTHS))}, "
                         f"not {word_width!r}")
    if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)) \
            or not 1 <= max_len <= 32:
        raise ValueError(f"Maximum code length must be an integer in 1..32, not {max_len!r}")


def ham_encode(w, *, word_width=32, max_len=16):
    """HAM: every entry of ``w`` (zeros too), column-major, Huffman-coded and packed."""
    _check_common(word_width, max_len)
    w = _as_matrix(w)
    code, values, ranks = _alphabet_code(w.ravel(order="F"), max_len)
    words = pack_bits(code.encode(ranks), word_width)
    return Compressed("ham", w.shape, word_width, code, values, w.size, words)


def sham_encode(w, *, word_width=32, max_len=16):
    """sHAM: the non-zeros of ``w`` in CSC order Huffman-coded, with their row indices and the
    per-column counts as fixed-width fields."""
    _check_common(word_width, max_len)
    w = _as_matrix(w)
    rows, cols = w.shape
    wt = w.T  # row-major over w.T is column-major over w
    col_idx, row_idx = np.nonzero(wt)
    nzv = wt[col_idx, row_idx]
    code, values, ranks = _alphabet_code(nzv, max_len)
    row_bits = max(1, int(rows - 1).bit_length())
    count_bits = int(rows).bit_length()
    counts = np.bincount(col_idx, minlength=cols)
    return Compressed("sham", w.shape, word_width, code, values, int(nzv.size),
                      pack_bits(code.encode(ranks), word_width), row_bits, count_bits,
                      pack_fields(row_idx, row_bits, word_width),
                      pack_fields(counts, count_bits, word_width))


def ham_decode(c):
    """The dense float32 matrix of a HAM :class:`Compressed`."""
    if c.format != "ham":
        raise ValueError(f"Expected a HAM matrix, not {c.format!r}")
    flat = c.values[c.ranks] if c.n_coded else np.zeros(0, dtype=np.float32)
    return flat.astype(np.float32).reshape(c.shape, order="F")


def sham_decode(c):
    """The dense float32 matrix of an sHAM :class:`Compressed`."""
    if c.format != "sham":
        raise ValueError(f"Expected an sHAM matrix, not {c.format!r}")
    rows, cols = c.shape
    counts = c.col_counts
    if counts.sum() != c.n_coded:
        raise ValueError(f"Column counts add up to {counts.sum()}, not {c.n_coded} non-zeros")
    r = c.rows
    if r.size and r.max() >= rows:
        raise ValueError(f"Row index {r.max()} out of range for {rows} rows")
    out = np.zeros(c.shape, dtype=np.float32)
    out[r, np.repeat(np.arange(cols), counts)] = c.values[c.ranks] if c.n_coded else 0
    return out


def compress(w, fmt="sham", **kw):
    """``ham_encode`` or ``sham_encode`` by name."""
    if fmt == "ham":
        return ham_encode(w, **kw)
    if fmt == "sham":
        return sham_encode(w, **kw)
    raise ValueError(f"Format must be 'ham' or 'sham', not {fmt!r}")


def decompress(c):
    """The dense matrix of a :class:`Compressed`, whichever its format."""
    return ham_decode(c) if c.format == "ham" else sham_decode(c)


def psi(c):
    """ψ: the bits of the representation over the dense fp32 bits (module docstring)."""
    return Fraction(sum(c.size_bits().values()), 32 * c.shape[0] * c.shape[1])


def plain_ratio(c):
    """Dense fp32 size over compressed size (1 / ψ): "how many times smaller"."""
    return 1 / psi(c)


# -- weights for a weight-stationary systolic array (golden of hwgen.arrays.wload) ------------

def stream_matrix(w, rows, cols):
    """The *stream layout* of a ``K x N`` weight matrix for a weight-stationary ``rows`` x
    ``cols`` systolic array: the ``cols x T`` matrix whose column ``t`` is the array's weight
    transfer ``t``.

    K is zero-padded to a multiple of ``rows`` and N to a multiple of ``cols`` (``Kp``,
    ``Np``); the transfers are, for each column panel ``nt`` (``Np / cols`` of them), rows
    ``0 .. Kp-1`` of ``w[:, nt*cols:(nt+1)*cols]`` -- weight tile by weight tile, ``nt`` outer,
    the K-tile inner (the order of :mod:`hwgen.golden.tiling`). So ``T = Np / cols * Kp`` and
    the column-major order of the result is the weight stream, weight by weight.
    """
    w = np.asarray(w)
    if w.ndim != 2:
        raise ValueError(f"Weights must be a 2-D matrix, not an array of shape {w.shape}")
    for what, v in (("Rows", rows), ("Columns", cols)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{what} must be a positive integer, not {v!r}")
    k, n = w.shape
    kp, np_ = -(-k // rows) * rows, -(-n // cols) * cols
    wp = np.zeros((kp, np_), dtype=w.dtype)
    wp[:k, :n] = w
    return np.concatenate([wp[:, j:j + cols].T for j in range(0, np_, cols)], axis=1)


def weight_stream_rows(c):
    """The golden model of :class:`hwgen.arrays.wload.WeightLoader`: the rows of weights
    (``T x cols``, float32) it sends to the array for the container ``c`` of a stream-layout
    matrix (:func:`stream_matrix`), in order."""
    return decompress(c).T


# -- zero-skipping sparse matrix-vector product (golden of hwgen.units.spmv) ------------------

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


# -- container --------------------------------------------------------------------------------

def _words_bytes(words, word_width):
    return np.asarray(words, dtype=np.uint64).astype(f">u{word_width // 8}").tobytes()


def write_container(c):
    """The container bytes of ``c`` (layout in the module docstring)."""
    W = c.word_width
    if W not in WORD_WIDTHS:
        raise ValueError(f"Word width must be one of {WORD_WIDTHS} for the container, not {W}")
    head = _HEADER.pack(MAGIC, VERSION, _FORMATS[c.format], W, c.shape[0], c.shape[1],
                        c.code.max_len, c.row_bits, c.count_bits, 0, len(c.values), c.n_coded,
                        len(c.words), len(c.row_words), len(c.count_words))
    table = np.array([[f, n] for f, n in zip(c.code.first, c.code.counts)],
                     dtype="<u4").tobytes()
    body = b"".join([head, table, np.asarray(c.values, dtype="<f4").tobytes(),
                     _words_bytes(c.words, W), _words_bytes(c.row_words, W),
                     _words_bytes(c.count_words, W)])
    return body + struct.pack("<I", zlib.crc32(body))


def read_container(data):
    """The :class:`Compressed` in container bytes ``data``; ``ValueError`` (one line) if the
    bytes are not a valid container (bad magic, version, sizes, code table or CRC)."""
    data = bytes(data)
    if len(data) < _HEADER.size + 4:
        raise ValueError(f"Container too short ({len(data)} bytes)")
    body, (crc,) = data[:-4], struct.unpack("<I", data[-4:])
    if zlib.crc32(body) != crc:
        raise ValueError("Container CRC-32 mismatch (corrupt data)")
    (magic, version, fmt, W, rows, cols, max_len, row_bits, count_bits, _, n_sym, n_coded,
     n_words, n_row_words, n_count_words) = _HEADER.unpack_from(body)
    if magic != MAGIC:
        raise ValueError(f"Not an hwgen container (magic {magic!r})")
    if version != VERSION:
        raise ValueError(f"Container version {version} is not supported (only {VERSION})")
    fmts = {v: k for k, v in _FORMATS.items()}
    if fmt not in fmts or W not in WORD_WIDTHS or not 1 <= max_len <= 32:
        raise ValueError("Container header has an invalid format, word width or max length")
    wb = W // 8
    sizes = [8 * max_len, 4 * n_sym, wb * n_words, wb * n_row_words, wb * n_count_words]
    if _HEADER.size + sum(sizes) != len(body):
        raise ValueError(f"Container size {len(data)} does not match its header")
    pos = _HEADER.size
    parts = []
    for s in sizes:
        parts.append(body[pos:pos + s])
        pos += s
    table = np.frombuffer(parts[0], dtype="<u4").reshape(max_len, 2).astype(np.int64)
    code = CanonicalCode(tuple(table[:, 1]))
    if not np.array_equal(code.first, table[:, 0]):
        raise ValueError("Container code table: first codes do not follow from the counts")
    if code.n_symbols != n_sym:
        raise ValueError(f"Container code table has {code.n_symbols} codes for {n_sym} values")
    words = [np.frombuffer(p, dtype=f">u{wb}").astype(np.uint64) for p in parts[2:]]
    return Compressed(fmts[fmt], (rows, cols), W, code,
                      np.frombuffer(parts[1], dtype="<f4").astype(np.float32), n_coded,
                      words[0], row_bits, count_bits, words[1], words[2])


def write_archive(items):
    """Archive bytes of ``items``: ``(name, Compressed)`` pairs, in order."""
    items = list(items)
    if len(items) > 0xFFFF:
        raise ValueError(f"An archive holds at most 65535 matrices, not {len(items)}")
    out = [ARCHIVE_MAGIC, struct.pack("<HH", VERSION, len(items))]
    for name, c in items:
        nb = str(name).encode()
        if len(nb) > 0xFFFF:
            raise ValueError("Matrix name longer than 65535 bytes")
        blob = write_container(c)
        out += [struct.pack("<H", len(nb)), nb, struct.pack("<I", len(blob)), blob]
    body = b"".join(out)
    return body + struct.pack("<I", zlib.crc32(body))


def read_archive(data):
    """``[(name, Compressed), ...]`` from archive bytes; ``ValueError`` if corrupt."""
    data = bytes(data)
    if len(data) < 12 or data[:4] != ARCHIVE_MAGIC:
        raise ValueError("Not an hwgen archive (bad magic or too short)")
    body, (crc,) = data[:-4], struct.unpack("<I", data[-4:])
    if zlib.crc32(body) != crc:
        raise ValueError("Archive CRC-32 mismatch (corrupt data)")
    version, n = struct.unpack_from("<HH", body, 4)
    if version != VERSION:
        raise ValueError(f"Archive version {version} is not supported (only {VERSION})")
    pos, items = 8, []
    try:
        for _ in range(n):
            (ln,) = struct.unpack_from("<H", body, pos)
            name = body[pos + 2:pos + 2 + ln].decode()
            pos += 2 + ln
            (size,) = struct.unpack_from("<I", body, pos)
            items.append((name, read_container(body[pos + 4:pos + 4 + size])))
            pos += 4 + size
    except struct.error:
        raise ValueError("Archive ends inside an entry") from None
    if pos != len(body):
        raise ValueError("Archive has trailing bytes after its last entry")
    return items

"""HAM and sHAM: Huffman-coded dense (column-major) and CSC weight matrices, and the
compression ratio."""

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from .bits import pack_bits, pack_fields, unpack_bits, unpack_fields, WORD_WIDTHS
from .huffman import CanonicalCode, huffman_lengths
from .quantize import _as_matrix

__all__ = ["Compressed", "ham_encode", "sham_encode", "ham_decode", "sham_decode", "compress",
           "decompress", "psi", "plain_ratio"]


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
    shape: tuple[int, int]
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
    def ranks(self) -> np.ndarray:
        """The coded ranks, decoded (in stream order)."""
        return self.code.decode(unpack_bits(self.words, self.word_width), self.n_coded)

    @property
    def rows(self) -> np.ndarray:
        """sHAM: the row index of each non-zero (CSC order)."""
        return unpack_fields(self.row_words, self.row_bits, self.word_width, self.n_coded)

    @property
    def col_counts(self) -> np.ndarray:
        """sHAM: the number of non-zeros of each column."""
        return unpack_fields(self.count_words, self.count_bits, self.word_width,
                             self.shape[1])

    def size_bits(self) -> dict[str, int]:
        """The bits ψ counts (see the module docstring), by part."""
        return {
            "code_table": 64 * self.code.max_len,
            "value_table": 32 * len(self.values),
            "words": self.word_width * len(self.words),
            "row_indices": self.word_width * len(self.row_words),
            "col_counts": self.word_width * len(self.count_words),
        }


def _alphabet_code(vals: np.ndarray,
                   max_len: int) -> tuple[CanonicalCode, np.ndarray, np.ndarray]:
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


def _check_common(word_width: int, max_len: int | np.integer) -> None:
    if word_width not in WORD_WIDTHS:
        raise ValueError(f"Word width must be one of {', '.join(map(str, WORD_WIDTHS))}, "
                         f"not {word_width!r}")
    if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)) \
            or not 1 <= max_len <= 32:
        raise ValueError(f"Maximum code length must be an integer in 1..32, not {max_len!r}")


def ham_encode(w: npt.ArrayLike, *, word_width: int = 32, max_len: int = 16) -> Compressed:
    """HAM: every entry of ``w`` (zeros too), column-major, Huffman-coded and packed."""
    _check_common(word_width, max_len)
    w = _as_matrix(w)
    code, values, ranks = _alphabet_code(w.ravel(order="F"), max_len)
    words = pack_bits(code.encode(ranks), word_width)
    return Compressed("ham", w.shape, word_width, code, values, w.size, words)


def sham_encode(w: npt.ArrayLike, *, word_width: int = 32, max_len: int = 16) -> Compressed:
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


def ham_decode(c: Compressed) -> np.ndarray:
    """The dense float32 matrix of a HAM :class:`Compressed`."""
    if c.format != "ham":
        raise ValueError(f"Expected a HAM matrix, not {c.format!r}")
    flat = c.values[c.ranks] if c.n_coded else np.zeros(0, dtype=np.float32)
    return flat.astype(np.float32).reshape(c.shape, order="F")


def sham_decode(c: Compressed) -> np.ndarray:
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


def compress(w: npt.ArrayLike, fmt: str = "sham", **kw: int) -> Compressed:
    """``ham_encode`` or ``sham_encode`` by name."""
    if fmt == "ham":
        return ham_encode(w, **kw)
    if fmt == "sham":
        return sham_encode(w, **kw)
    raise ValueError(f"Format must be 'ham' or 'sham', not {fmt!r}")


def decompress(c: Compressed) -> np.ndarray:
    """The dense matrix of a :class:`Compressed`, whichever its format."""
    return ham_decode(c) if c.format == "ham" else sham_decode(c)


def psi(c: Compressed) -> Fraction:
    """ψ: the bits of the representation over the dense fp32 bits (module docstring)."""
    return Fraction(sum(c.size_bits().values()), 32 * c.shape[0] * c.shape[1])


def plain_ratio(c: Compressed) -> Fraction:
    """Dense fp32 size over compressed size (1 / ψ): "how many times smaller"."""
    return 1 / psi(c)

"""Fixed-width words: bit streams and fields packed MSB first."""

import numpy as np
import numpy.typing as npt

__all__ = ["pack_bits", "unpack_bits", "pack_fields", "unpack_fields", "WORD_WIDTHS"]


WORD_WIDTHS = (8, 16, 32, 64)


def _check_word_width(word_width: int | np.integer) -> None:
    if isinstance(word_width, bool) or not isinstance(word_width, (int, np.integer)) \
            or not 1 <= word_width <= 64:
        raise ValueError(f"Word width must be an integer in 1..64, not {word_width!r}")


def pack_bits(bits: npt.ArrayLike, word_width: int) -> np.ndarray:
    """Pack a 0/1 bit string into ``word_width``-bit words, MSB first; the last word is padded
    with zeros. Returns a uint64 array of ``ceil(len(bits) / word_width)`` words."""
    _check_word_width(word_width)
    bits = np.asarray(bits, dtype=np.uint64).ravel()
    n_words = -(-bits.size // word_width)
    padded = np.zeros(n_words * word_width, dtype=np.uint64)
    padded[:bits.size] = bits
    shifts = np.arange(word_width - 1, -1, -1, dtype=np.uint64)
    return (padded.reshape(n_words, word_width) << shifts).sum(axis=1, dtype=np.uint64)


def unpack_bits(words: npt.ArrayLike, word_width: int) -> np.ndarray:
    """The bit string (uint8 0/1, MSB first) of ``words`` (``word_width`` bits each)."""
    _check_word_width(word_width)
    words = np.asarray(words, dtype=np.uint64).ravel()
    shifts = np.arange(word_width - 1, -1, -1, dtype=np.uint64)
    return ((words[:, None] >> shifts) & np.uint64(1)).astype(np.uint8).ravel()


def pack_fields(values: npt.ArrayLike, field_bits: int, word_width: int) -> np.ndarray:
    """Fixed-width unsigned fields (``field_bits`` each), packed MSB first into words."""
    values = np.asarray(values, dtype=np.int64).ravel()
    if values.size and (values.min() < 0 or values.max() >= 1 << field_bits):
        raise ValueError(f"Field values must fit in {field_bits} unsigned bits")
    shifts = np.arange(field_bits - 1, -1, -1, dtype=np.int64)
    bits = ((values[:, None] >> shifts) & 1).ravel()
    return pack_bits(bits, word_width)


def unpack_fields(words: npt.ArrayLike, field_bits: int, word_width: int, n: int) -> np.ndarray:
    """The first ``n`` ``field_bits``-bit fields packed in ``words``."""
    bits = unpack_bits(words, word_width)[:n * field_bits].astype(np.int64)
    if bits.size < n * field_bits:
        raise ValueError("Field stream ends before the last field")
    shifts = np.arange(field_bits - 1, -1, -1, dtype=np.int64)
    return (bits.reshape(n, field_bits) << shifts).sum(axis=1)

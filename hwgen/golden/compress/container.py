"""The binary container of a compressed matrix, and the archive of several (layouts in
:mod:`hwgen.golden.compress`)."""

import struct
import zlib
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from .bits import WORD_WIDTHS
from .ham import Compressed
from .huffman import CanonicalCode

__all__ = ["write_container", "read_container", "write_archive", "read_archive", "MAGIC",
           "ARCHIVE_MAGIC", "VERSION"]


MAGIC = b"HWGC"
ARCHIVE_MAGIC = b"HWGA"
VERSION = 1
_HEADER = struct.Struct("<4sHBBIIBBBBIIIII")
_FORMATS = {"ham": 0, "sham": 1}


def _words_bytes(words: npt.ArrayLike, word_width: int) -> bytes:
    return np.asarray(words, dtype=np.uint64).astype(f">u{word_width // 8}").tobytes()


def write_container(c: Compressed) -> bytes:
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


def read_container(data: bytes | bytearray | memoryview) -> Compressed:
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


def write_archive(items: Iterable[tuple[object, Compressed]]) -> bytes:
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


def read_archive(data: bytes | bytearray | memoryview) -> list[tuple[str, Compressed]]:
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
    items: list[tuple[str, Compressed]]
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

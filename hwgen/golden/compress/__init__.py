"""Space-conscious weight representations (Marinò, Malchiodi et al.), bit for bit.

The host side of compressed weights, numpy only, one module per concept
(:mod:`.quantize`, :mod:`.huffman`, :mod:`.bits`, :mod:`.ham`, :mod:`.container`, and the
golden models of the decoding hardware :mod:`.wload` and :mod:`.spmv`); every public name is
also here:

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

from .quantize import prune, kmeans_1d, kmeans_share, pq_quantize
from .huffman import huffman_lengths, CanonicalCode
from .bits import WORD_WIDTHS, pack_bits, unpack_bits, pack_fields, unpack_fields
from .ham import (Compressed, ham_encode, sham_encode, ham_decode, sham_decode, compress,
                  decompress, psi, plain_ratio)
from .container import (MAGIC, ARCHIVE_MAGIC, VERSION, write_container, read_container,
                        write_archive, read_archive)
from .wload import stream_matrix, weight_stream_rows
from .spmv import csc, wrap_signed, spmv_csc

__all__ = ["prune", "kmeans_share", "kmeans_1d", "pq_quantize", "huffman_lengths", "CanonicalCode",
           "pack_bits", "unpack_bits", "pack_fields", "unpack_fields", "Compressed", "ham_encode",
           "ham_decode", "sham_encode", "sham_decode", "compress", "decompress", "write_container",
           "read_container", "psi", "plain_ratio", "write_archive", "read_archive", "csc",
           "spmv_csc", "wrap_signed", "stream_matrix", "weight_stream_rows", "MAGIC",
           "ARCHIVE_MAGIC", "VERSION", "WORD_WIDTHS"]

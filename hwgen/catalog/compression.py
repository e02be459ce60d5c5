"""Compressed-weight units: ``hdec`` (Huffman decoder), ``shamdec`` (sHAM decoder), ``spmv``
(zero-skipping sparse matrix-vector unit), ``wload`` (compressed weights into a systolic array).
Every option has a default, so the bare
``hwgen generate hdec -o hdec.v`` and ``hwgen sim hdec`` work."""

from . import UnitSpec

__all__ = ["UNITS"]


def _int_opt(p, flag, default, help_text):
    p.add_argument(flag, type=int, default=default, metavar="N",
                   help=f"{help_text} (default {default})")


def _hdec_options(p, word_width=32, max_len=16, value_width=True):
    _int_opt(p, "--word-width", word_width, "bits per packed word, at least --max-len")
    _int_opt(p, "--max-len", max_len, "longest Huffman code in bits")
    _int_opt(p, "--rank-bits", 8, "the value table has 2**N entries (most symbols of a code)")
    if value_width:
        _int_opt(p, "--value-width", 8, "bits per decoded value")
    _int_opt(p, "--count-width", 24, "width of a block's symbol and word counts")


def _hdec_kwargs(a):
    return dict(word_width=a.word_width, max_len=a.max_len, rank_bits=a.rank_bits,
                value_width=a.value_width, count_width=a.count_width)


def _build_hdec(a):
    from ..units.hdec import HuffmanDecoder
    return HuffmanDecoder(**_hdec_kwargs(a))


def _sim_hdec(a, comp):
    from sim.hdec import unit_params
    return unit_params(comp)


def _shamdec_options(p):
    _int_opt(p, "--row-bits", 10, "row index width (matrices of up to 2**N rows)")
    _int_opt(p, "--col-bits", 10, "column index width")
    _hdec_options(p)


def _build_shamdec(a):
    from ..units.shamdec import ShamDecoder
    return ShamDecoder(row_bits=a.row_bits, col_bits=a.col_bits, **_hdec_kwargs(a))


def _sim_shamdec(a, comp):
    from sim.shamdec import unit_params
    return unit_params(comp)


def _spmv_options(p):
    _int_opt(p, "--row-bits", 10, "row index width; the x memory has 2**N entries")
    _int_opt(p, "--col-bits", 10, "column index width")
    _int_opt(p, "--x-width", 8, "bits of a vector element (signed)")
    _int_opt(p, "--value-width", 8, "bits of a matrix value (signed)")
    _int_opt(p, "--count-width", 24, "width of the non-zero count")
    p.add_argument("--acc-width", type=int, default=None, metavar="N",
                   help="bits of a result (default x-width + value-width + row-bits: exact)")


def _build_spmv(a):
    from ..units.spmv import SparseMatVec
    return SparseMatVec(row_bits=a.row_bits, col_bits=a.col_bits, x_width=a.x_width,
                        value_width=a.value_width, count_width=a.count_width,
                        acc_width=a.acc_width)


def _sim_spmv(a, comp):
    from sim.spmv import unit_params
    return unit_params(comp)


def _wload_options(p):
    _int_opt(p, "--rows", 2, "array rows (K-tile)")
    _int_opt(p, "--cols", 2, "array columns (N-tile)")
    p.add_argument("--pe", default="int8", metavar="PE",
                   help="PE spec of the weight-stationary array (default int8)")
    p.add_argument("--format", choices=["ham", "sham"], default="sham",
                   help="weight coding (default sham)")
    _int_opt(p, "--transfer-bits", 12, "sHAM: width of a weight-row index")
    _hdec_options(p, word_width=16, max_len=12, value_width=False)   # values: PE weights


def _build_wload(a):
    from ..arrays.wload import CompressedSystolic
    return CompressedSystolic(a.rows, a.cols, a.pe, a.format, transfer_bits=a.transfer_bits,
                              word_width=a.word_width, max_len=a.max_len,
                              rank_bits=a.rank_bits, count_width=a.count_width)


def _sim_wload(a, comp):
    from sim.wload import unit_params
    return unit_params(comp)


UNITS = [
    UnitSpec(
        name="hdec",
        help="streaming canonical Huffman decoder (HAM/sHAM weights), one value per clock",
        add_arguments=_hdec_options,
        build=_build_hdec,
        test_module="sim.hdec",
        sim_params=_sim_hdec,
        description=(
            "Streams: cfg (code table writes: kind/addr/data; limit and base per code length, "
            "value per rank), start (symbols, words of a block), words (packed MSB first), "
            "symbols (decoded values). hwgen sim: --vectors sets the symbols per test block."),
    ),
    UnitSpec(
        name="shamdec",
        help="sHAM decoder: Huffman values + row indices + column counts -> (row, col, value)",
        add_arguments=_shamdec_options,
        build=_build_shamdec,
        test_module="sim.shamdec",
        sim_params=_sim_shamdec,
        description=(
            "Streams: cfg and words (as hdec), row_words and count_words (the container's "
            "packed row-index and column-count sections), start (nnz, the three word counts, "
            "cols, the two field widths), out (row, col, value; CSC order). "
            "hwgen sim: --vectors scales the test matrices."),
    ),
    UnitSpec(
        name="spmv",
        help="zero-skipping sparse matrix-vector unit, y = x @ W over the non-zeros only",
        add_arguments=_spmv_options,
        build=_build_spmv,
        test_module="sim.spmv",
        sim_params=_sim_spmv,
        description=(
            "Streams: x (addr, data: the vector), start (nnz, cols), nz (row, col, value in "
            "CSC order, as shamdec's out), y (one exact sum per column). About nnz + cols "
            "cycles per product. hwgen sim: --vectors scales the test matrices."),
    ),
    UnitSpec(
        name="wload",
        help="weight-stationary systolic array fed by a HAM/sHAM weight decoder",
        add_arguments=_wload_options,
        build=_build_wload,
        test_module="sim.wload",
        sim_params=_sim_wload,
        description=(
            "hwgen.arrays.wload.CompressedSystolic: the decoder's streams (cfg, start, words; "
            "sHAM also row_words, count_words) for a weight matrix in stream layout "
            "(hwgen.golden.compress.stream_matrix), and the array's acts and results. "
            "hwgen sim: --vectors sets M of the test GEMMs."),
    ),
]

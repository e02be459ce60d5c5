"""Zero-skipping sparse matrix-vector unit: ``y[col] = Σ_row x[row] · W[row, col]`` over the
non-zeros of ``W`` only (integer arithmetic, exact).

The golden model is :func:`hwgen.golden.compress.spmv_csc` (checked against the dense
``x @ W`` in ``tests/test_compress.py``); the cocotb test is ``rtl_tests/test_spmv.py``.
"""

from amaranth import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .hdec import check_int

__all__ = ["SparseMatVec"]


class SparseMatVec(wiring.Component):
    """``y = x @ W`` for a matrix ``W`` streamed as its non-zeros in CSC order.

    First ``x`` is written into the unit's vector memory (``x`` transfers of ``(addr, data)``,
    idle only). A ``start`` transfer then gives ``nnz`` and ``cols``; the unit takes exactly
    ``nnz`` items ``(row, col, value)`` from ``nz`` -- the layout of
    :class:`~hwgen.units.shamdec.ShamDecoder`'s ``out``, with ``col`` non-decreasing -- and
    emits ``cols`` results on ``y``, ``y[0]`` first, empty columns as 0. (A ``col`` that
    decreases or is ``>= cols`` breaks the protocol: the unit then waits forever.) Each
    non-zero takes one clock (a pipelined ``x`` read and one multiply-accumulate); each column
    one more to emit its sum, so a product takes about ``nnz + cols`` cycles instead of
    ``rows * cols`` dense.

    The sums are exact: ``acc_width`` defaults to ``x_width + value_width + row_bits``, enough
    for ``2**row_bits`` products; a narrower accumulator wraps (two's complement).

    Parameters
    ----------
    row_bits : int
        Width of a row index; the vector memory has ``2**row_bits`` entries (1..14).
    col_bits : int
        Width of a column index (1..16).
    x_width : int
        Bits of a vector element (signed, 1..32).
    value_width : int
        Bits of a matrix value (signed, 1..32).
    count_width : int
        Width of ``nnz`` (1..32).
    acc_width : int or None
        Bits of a result (signed); default as above.

    Members
    -------
    x : ``In(stream.Signature(x_layout))``
        ``addr``, ``data`` (signed).
    start : ``In(stream.Signature(start_layout))``
        ``nnz``, ``cols``.
    nz : ``In(stream.Signature(nz_layout))``
        ``row``, ``col``, ``value`` (signed).
    y : ``Out(stream.Signature(signed(acc_width)))``
    busy : ``Out(1)``

    Raises
    ------
    TypeError, ValueError
        A parameter out of range.
    """

    def __init__(self, *, row_bits: int = 10, col_bits: int = 10, x_width: int = 8,
                 value_width: int = 8, count_width: int = 24,
                 acc_width: int | None = None) -> None:
        self._args = dict(row_bits=row_bits, col_bits=col_bits, x_width=x_width,
                          value_width=value_width, count_width=count_width, acc_width=acc_width)
        self._row_bits = check_int("Row index width", row_bits, 1, 14)
        self._col_bits = check_int("Column index width", col_bits, 1, 16)
        self._x_width = check_int("Vector element width", x_width, 1, 32)
        self._value_width = check_int("Value width", value_width, 1, 32)
        self._count_width = check_int("Count width", count_width, 1, 32)
        if acc_width is None:
            acc_width = x_width + value_width + row_bits
        self._acc_width = check_int("Accumulator width", acc_width, 2, 96)
        super().__init__({
            "x": In(stream.Signature(self.x_layout)),
            "start": In(stream.Signature(self.start_layout)),
            "nz": In(stream.Signature(self.nz_layout)),
            "y": Out(stream.Signature(signed(self._acc_width))),
            "busy": Out(1),
        })

    row_bits = property(lambda self: self._row_bits)
    col_bits = property(lambda self: self._col_bits)
    x_width = property(lambda self: self._x_width)
    value_width = property(lambda self: self._value_width)
    count_width = property(lambda self: self._count_width)
    acc_width = property(lambda self: self._acc_width)
    clocked = True

    @property
    def latency(self) -> int:
        """Cycles from a non-zero's transfer to its product entering the sum."""
        return 1

    @property
    def x_layout(self) -> data.StructLayout:
        return data.StructLayout({"addr": self._row_bits, "data": signed(self._x_width)})

    @property
    def start_layout(self) -> data.StructLayout:
        return data.StructLayout({"nnz": self._count_width, "cols": self._col_bits + 1})

    @property
    def nz_layout(self) -> data.StructLayout:
        return data.StructLayout({"row": self._row_bits, "col": self._col_bits,
                                  "value": signed(self._value_width)})

    @property
    def module_name(self) -> str:
        return (f"spmv_r{self._row_bits}_c{self._col_bits}_x{self._x_width}"
                f"_v{self._value_width}_a{self._acc_width}_n{self._count_width}")

    def __repr__(self) -> str:
        # from the arguments as given: also right for an instance whose checks failed
        return "SparseMatVec(" + ", ".join(f"{k}={v!r}" for k, v in self._args.items()) + ")"

    def elaborate(self, platform):
        m = Module()
        m.submodules.xmem = xmem = Memory(shape=signed(self._x_width),
                                          depth=1 << self._row_bits, init=[])
        wr = xmem.write_port()
        rd = xmem.read_port(domain="sync")

        busy = Signal()
        nnz_left = Signal(self._count_width)
        ncols = Signal(self._col_bits + 1)
        next_col = Signal(self._col_bits + 1)
        acc = Signal(signed(self._acc_width))
        m.d.comb += self.busy.eq(busy)

        # -- vector writes (idle only)
        m.d.comb += [self.x.ready.eq(~busy), wr.addr.eq(self.x.payload.addr),
                     wr.data.eq(self.x.payload.data), wr.en.eq(self.x.valid & ~busy)]

        # -- stage 1: a non-zero whose x[row] is being read
        s1_valid = Signal()
        s1_col = Signal(self._col_bits)
        s1_value = Signal(signed(self._value_width))
        s1_take = Signal()   # the stage-1 non-zero is accumulated this cycle
        advance = ~s1_valid | s1_take
        m.d.comb += [self.nz.ready.eq(busy & (nnz_left != 0) & advance),
                     rd.addr.eq(self.nz.payload.row), rd.en.eq(advance)]
        nz_go = self.nz.valid & self.nz.ready
        with m.If(advance):
            m.d.sync += [s1_valid.eq(nz_go), s1_col.eq(self.nz.payload.col),
                         s1_value.eq(self.nz.payload.value)]
        with m.If(nz_go):
            m.d.sync += nnz_left.eq(nnz_left - 1)

        # -- accumulate the current column; emit it once a later column (or the end) is seen
        product = Signal(signed(self._x_width + self._value_width))
        m.d.comb += product.eq(rd.data * s1_value)
        m.d.comb += s1_take.eq(s1_valid & (s1_col == next_col))
        more_cols = next_col < ncols
        emit = busy & more_cols & ((s1_valid & (s1_col != next_col)) |
                                   (~s1_valid & (nnz_left == 0)))
        m.d.comb += [self.y.valid.eq(emit), self.y.payload.eq(acc)]
        with m.If(s1_take):
            m.d.sync += acc.eq(acc + product)
        with m.If(emit & self.y.ready):
            m.d.sync += [acc.eq(0), next_col.eq(next_col + 1)]

        # -- start / done
        m.d.comb += self.start.ready.eq(~busy)
        with m.If(self.start.valid & ~busy):
            m.d.sync += [busy.eq(1), nnz_left.eq(self.start.payload.nnz),
                         ncols.eq(self.start.payload.cols), next_col.eq(0), acc.eq(0)]
        with m.If(busy & ~more_cols & ~s1_valid & (nnz_left == 0)):
            m.d.sync += busy.eq(0)
        return m

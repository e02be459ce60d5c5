"""Compressed weights into a weight-stationary systolic array: HAM/sHAM decoder -> weight rows.

A :class:`WeightLoader` holds a :class:`~hwgen.units.hdec.HuffmanDecoder` (HAM) or a
:class:`~hwgen.units.shamdec.ShamDecoder` (sHAM) and turns what it decodes into the
``weights`` stream of a weight-stationary :class:`~hwgen.arrays.systolic.SystolicArray`: rows of
``cols`` weights, exactly the transfers :meth:`hwgen.golden.tiling.Tiling.weight_transfers`
gives, so the array (unchanged) runs a model whose weights are stored compressed.
:class:`CompressedSystolic` is the two connected.

Stream layout
-------------
The host compresses not the ``K x N`` weight matrix itself but its *stream layout*
(:func:`hwgen.golden.compress.stream_matrix`): the ``cols x T`` matrix whose column ``t`` is
weight transfer ``t`` (``T = ceil(N / cols) * ceil(K / rows) * rows``; K and N zero-padded as
the tiler pads them). Column-major order of it is the stream order, so

* HAM: the decoded values, taken ``cols`` at a time, are the rows;
* sHAM: a decoded non-zero ``(row, col, value)`` is weight ``row`` of transfer ``col``; a
  transfer with no non-zero is a row of zeros.

The container format and the decoders are the ones of :mod:`hwgen.golden.compress` and
:mod:`hwgen.units` as they are; only the matrix handed to the encoder is laid out this way
(ψ changes a little: see ``docs/compression.md``). The golden model of the loader is
:func:`hwgen.golden.compress.weight_stream_rows`. Output-stationary arrays take every weight
tile once per output tile (the stream repeats), so only ``"ws"`` is supported.

Throughput
----------
The decoders emit one value (HAM) or one non-zero (sHAM) per clock; a row leaves the loader
in the cycle after its last value, through an output register that the array's back-pressure
may hold. HAM: ``cols`` cycles per row. sHAM: one cycle per non-zero, plus one per all-zero
row (a row's non-zeros are assembled while the previous row waits in the output register).
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from amaranth import Cat, Module, Mux, Signal
from amaranth.hdl import Shape, ShapeLike
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..units.hdec import HuffmanDecoder, check_int
from ..units.shamdec import ShamDecoder
from .pe import operand_shapes
from .systolic import SystolicArray

if TYPE_CHECKING:
    from typing_extensions import Self

    from ..golden.compress import CanonicalCode, Compressed
    from ..pespec import PESpec

__all__ = ["WeightLoader", "CompressedSystolic", "FORMATS"]

FORMATS = ("ham", "sham")


class WeightLoader(wiring.Component):
    """HAM or sHAM decoder followed by the assembly of rows of ``cols`` weights.

    Parameters
    ----------
    cols : int
        Weights per row (the array's columns), 1..64.
    weight_shape : Shape
        Shape of one weight (the array PE's weight operand: ``signed(8)`` for int8...).
    fmt : str
        ``"ham"`` or ``"sham"``.
    transfer_bits : int
        sHAM: width of a transfer index (streams of up to ``2**transfer_bits - 1`` rows),
        1..16. Unused for HAM.
    word_width, max_len, rank_bits, count_width : int
        Of the decoder (:class:`~hwgen.units.hdec.HuffmanDecoder`).

    Members
    -------
    cfg : ``In(stream.Signature(cfg_layout))``
        Code table writes (:meth:`table_writes`), while idle.
    start : ``In(stream.Signature(start_layout))``
        HAM: ``symbols`` (``cols * T``) and ``words``. sHAM: the
        :class:`~hwgen.units.shamdec.ShamDecoder` header fields, ``cols`` being ``T`` (the
        columns of the stream-layout matrix).
    words : ``In(stream.Signature(word_width))``
    row_words, count_words : ``In(stream.Signature(word_width))``
        sHAM only: the index sections of the container.
    weights : ``Out(stream.Signature(ArrayLayout(weight_shape, cols)))``
        Connect to :attr:`SystolicArray.weights`.
    busy : ``Out(1)``

    Raises
    ------
    TypeError, ValueError
        A parameter out of range (the message names it and what is allowed).
    """

    def __init__(self, cols: int, weight_shape: ShapeLike, fmt: str = "sham", *,
                 transfer_bits: int = 12, word_width: int = 32, max_len: int = 16,
                 rank_bits: int = 8, count_width: int = 24) -> None:
        self._args = dict(cols=cols, weight_shape=weight_shape, fmt=fmt,
                          transfer_bits=transfer_bits, word_width=word_width, max_len=max_len,
                          rank_bits=rank_bits, count_width=count_width)
        self._cols = check_int("Columns", cols, 1, 64)
        try:
            self._wshape = Shape.cast(weight_shape)
        except TypeError:
            raise TypeError(f"Weight shape must be an Amaranth shape (signed(8), unsigned(4)"
                            f"...), not {weight_shape!r}") from None
        if fmt not in FORMATS:
            raise ValueError(f"Format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        self._fmt = fmt
        self._tbits = check_int("Transfer index width", transfer_bits, 1, 16)
        vw = self._wshape.width
        if fmt == "ham":
            self._dec: HuffmanDecoder | ShamDecoder = HuffmanDecoder(
                word_width=word_width, max_len=max_len, rank_bits=rank_bits, value_width=vw,
                count_width=count_width)
        else:
            self._dec = ShamDecoder(row_bits=self.lane_bits, col_bits=transfer_bits,
                                    word_width=word_width, max_len=max_len,
                                    rank_bits=rank_bits, value_width=vw,
                                    count_width=count_width)
        ports = {
            "cfg": In(stream.Signature(self._dec.cfg_layout)),
            "start": In(stream.Signature(self._dec.start_layout)),
            "words": In(stream.Signature(word_width)),
            "weights": Out(stream.Signature(self.weight_layout)),
            "busy": Out(1),
        }
        if fmt == "sham":
            ports["row_words"] = In(stream.Signature(word_width))
            ports["count_words"] = In(stream.Signature(word_width))
        super().__init__(ports)

    @classmethod
    def for_array(cls, array: SystolicArray, fmt: str = "sham", **kw: int) -> "Self":
        """The loader for ``array`` (a weight-stationary :class:`SystolicArray`)."""
        if array.dataflow != "ws":
            raise ValueError(f"Compressed weights need a weight-stationary array (ws), not "
                             f"{array.dataflow!r}")
        return cls(array.cols, operand_shapes(array.pe)[1], fmt, **kw)

    cols = property(lambda self: self._cols)
    fmt = property(lambda self: self._fmt)
    weight_shape = property(lambda self: self._wshape)
    transfer_bits = property(lambda self: self._tbits)
    clocked = True

    @property
    def lane_bits(self) -> int:
        """Width of a lane (row index of the stream-layout matrix)."""
        return max(1, (self._cols - 1).bit_length())

    @property
    def decoder(self) -> HuffmanDecoder | ShamDecoder:
        """The inner decoder (:class:`HuffmanDecoder` or :class:`ShamDecoder`)."""
        return self._dec

    @property
    def huffman(self) -> HuffmanDecoder:
        """The inner :class:`HuffmanDecoder` (for :meth:`~HuffmanDecoder.table_writes`)."""
        return self._dec if self._fmt == "ham" else self._dec.decoder

    @property
    def cfg_layout(self) -> data.StructLayout:
        return self._dec.cfg_layout

    @property
    def start_layout(self) -> data.StructLayout:
        return self._dec.start_layout

    @property
    def weight_layout(self) -> data.ArrayLayout:
        return data.ArrayLayout(self._wshape, self._cols)

    @property
    def module_name(self) -> str:
        s = "s" if self._wshape.signed else "u"
        return f"wload_{self._fmt}_c{self._cols}_{s}{self._wshape.width}_" + \
            self._dec.module_name

    def __repr__(self) -> str:
        return "WeightLoader(" + ", ".join(f"{k}={v!r}" for k, v in self._args.items()) + ")"

    def table_writes(self, code: "CanonicalCode",
                     values: Iterable[int]) -> list[dict[str, int]]:
        """The ``cfg`` transfers for a code and the weight (int) of each rank."""
        return self.huffman.table_writes(code, values)

    def start_fields(self, c: "Compressed") -> dict[str, int]:
        """The ``start`` payload fields (a dict) for the :class:`Compressed` ``c`` of a
        stream-layout matrix."""
        if c.format != self._fmt:
            raise ValueError(f"Loader decodes {self._fmt}, not {c.format}")
        if c.shape[0] != self._cols:
            raise ValueError(f"Stream-layout matrix must have {self._cols} rows, not "
                             f"{c.shape[0]}")
        if self._fmt == "ham":
            return {"symbols": c.n_coded, "words": len(c.words)}
        if c.shape[1] >= 1 << self._tbits:
            raise ValueError(f"{c.shape[1]} transfers need a transfer index wider than "
                             f"{self._tbits} bits")
        return {"nnz": c.n_coded, "words": len(c.words), "row_words": len(c.row_words),
                "count_words": len(c.count_words), "cols": c.shape[1],
                "row_field": c.row_bits, "count_field": c.count_bits}

    # -- hardware --

    def elaborate(self, platform):
        m = Module()
        m.submodules.dec = dec = self._dec
        wiring.connect(m, wiring.flipped(self.cfg), dec.cfg)
        wiring.connect(m, wiring.flipped(self.words), dec.words)
        C, vw = self._cols, self._wshape.width
        lanes = [Signal(vw, name=f"lane{j}") for j in range(C)]
        out_valid = Signal()
        out_data = Signal(C * vw)
        m.d.comb += [self.weights.valid.eq(out_valid), self.weights.payload.eq(out_data)]
        out_free = ~out_valid | self.weights.ready
        with m.If(self.weights.ready):
            m.d.sync += out_valid.eq(0)

        if self._fmt == "ham":
            wiring.connect(m, wiring.flipped(self.start), dec.start)
            m.d.comb += self.busy.eq(dec.busy | out_valid)
            sym = dec.symbols
            lane = Signal(range(C))
            closing = lane == C - 1
            m.d.comb += sym.ready.eq(~closing | out_free)
            with m.If(sym.valid & sym.ready):
                with m.If(closing):
                    m.d.sync += [out_data.eq(Cat(*lanes[:-1], sym.payload)),
                                 out_valid.eq(1), lane.eq(0)]
                with m.Else():
                    m.d.sync += lane.eq(lane + 1)
                    for j in range(C - 1):
                        with m.If(lane == j):
                            m.d.sync += lanes[j].eq(sym.payload)
            return m

        wiring.connect(m, wiring.flipped(self.row_words), dec.row_words)
        wiring.connect(m, wiring.flipped(self.count_words), dec.count_words)
        busy = Signal()
        t = Signal(self._tbits + 1)
        t_left = Signal(self._tbits + 1)
        nz_left = Signal.like(dec.start.payload.nnz)
        m.d.comb += self.busy.eq(busy | dec.busy | out_valid)

        # start: the decoder and this unit together (both readies are registers)
        m.d.comb += [dec.start.payload.eq(self.start.payload),
                     dec.start.valid.eq(self.start.valid & ~busy),
                     self.start.ready.eq(dec.start.ready & ~busy)]
        with m.If(self.start.valid & self.start.ready):
            m.d.sync += [busy.eq(1), t.eq(0), t_left.eq(self.start.payload.cols),
                         nz_left.eq(self.start.payload.nnz)]
            m.d.sync += [lane.eq(0) for lane in lanes]

        nz = dec.out
        nz_ok = busy & (nz_left != 0) & nz.valid
        # row t is complete when no non-zero is left or the next one is of a later row
        flush = Signal()
        take = Signal()
        m.d.comb += [
            flush.eq(busy & (t_left != 0) & out_free &
                     ((nz_left == 0) | (nz.valid & (nz.payload.col != t)))),
            take.eq(nz_ok & ((nz.payload.col == t) |
                             (flush & (nz.payload.col == (t + 1)[:len(t)])))),
            nz.ready.eq(take),
        ]
        for j in range(C):
            hit = take & (nz.payload.row == j)
            with m.If(flush):
                m.d.sync += lanes[j].eq(Mux(hit, nz.payload.value, 0))
            with m.Elif(hit):
                m.d.sync += lanes[j].eq(nz.payload.value)
        with m.If(take):
            m.d.sync += nz_left.eq(nz_left - 1)
        with m.If(flush):
            m.d.sync += [out_data.eq(Cat(*lanes)), out_valid.eq(1), t.eq(t + 1),
                         t_left.eq(t_left - 1)]
        with m.If(busy & (t_left == 0)):
            m.d.sync += busy.eq(0)
        return m


class CompressedSystolic(wiring.Component):
    """A weight-stationary :class:`SystolicArray` fed by a :class:`WeightLoader`.

    Members: the loader's ``cfg``, ``start``, ``words`` (and for sHAM ``row_words``,
    ``count_words``) and the array's ``acts`` and ``results`` (see
    :mod:`hwgen.arrays.systolic`), plus ``busy`` (the loader's).

    Parameters
    ----------
    rows, cols, pe :
        Of the array (``dataflow`` is ``"ws"``).
    fmt : str
        ``"ham"`` or ``"sham"``.
    **loader :
        ``transfer_bits``, ``word_width``, ``max_len``, ``rank_bits``, ``count_width`` of
        the loader.
    """

    def __init__(self, rows: int = 2, cols: int = 2, pe: "PESpec | str" = "int8",
                 fmt: str = "sham", *, fifo_depth: int = 4, **loader: int) -> None:
        self._array = SystolicArray(rows, cols, pe, "ws", fifo_depth=fifo_depth)
        self._loader = WeightLoader.for_array(self._array, fmt, **loader)
        ports = {k: v for k, v in self._loader.signature.members.items() if k != "weights"}
        ports["acts"] = In(stream.Signature(self._array.act_layout))
        ports["results"] = Out(stream.Signature(self._array.result_layout))
        super().__init__(ports)

    array = property(lambda self: self._array)
    loader = property(lambda self: self._loader)
    rows = property(lambda self: self._array.rows)
    cols = property(lambda self: self._array.cols)
    pe = property(lambda self: self._array.pe.spec)
    fmt = property(lambda self: self._loader.fmt)
    transfer_bits = property(lambda self: self._loader.transfer_bits)
    word_width = property(lambda self: self._loader.huffman.word_width)
    max_len = property(lambda self: self._loader.huffman.max_len)
    rank_bits = property(lambda self: self._loader.huffman.rank_bits)
    count_width = property(lambda self: self._loader.huffman.count_width)
    clocked = True

    @property
    def module_name(self) -> str:
        return (f"wload_{self._loader.fmt}_{self._array.module_name}_"
                f"w{self._loader.decoder.word_width}_l{self._loader.decoder.max_len}")

    def elaborate(self, platform):
        m = Module()
        m.submodules.loader = ld = self._loader
        m.submodules.array = arr = self._array
        for name in self._loader.signature.members:
            if name == "weights":
                continue
            if name == "busy":
                m.d.comb += self.busy.eq(ld.busy)
            else:
                wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(ld, name))
        wiring.connect(m, ld.weights, arr.weights)
        wiring.connect(m, wiring.flipped(self.acts), arr.acts)
        wiring.connect(m, arr.results, wiring.flipped(self.results))
        return m

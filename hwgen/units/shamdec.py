"""sHAM decoder: Huffman-coded non-zeros + row indices + column counts -> (row, col, value).

The three streams are the three word sections of a :mod:`hwgen.golden.compress` container,
as they are stored: Huffman words, row-index words, column-count words (fixed-width fields
packed MSB first, unpacked here by :class:`FieldUnpacker`).

The golden model is :func:`hwgen.golden.compress.sham_decode` (and the ``ranks``, ``rows``,
``col_counts`` of a :class:`~hwgen.golden.compress.Compressed`); the cocotb test is
``rtl_tests/test_shamdec.py``.
"""

from amaranth import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .hdec import HuffmanDecoder, check_int

__all__ = ["ShamDecoder", "FieldUnpacker"]


class FieldUnpacker(wiring.Component):
    """Unsigned fields of a run-time width, packed MSB first in words, out one per clock.

    A ``start`` transfer gives a block: ``fields`` to emit, ``words`` to take and the field
    ``width`` (1..``field_bits``). The unit takes exactly that many words, emits exactly that
    many fields (the golden :func:`~hwgen.golden.compress.unpack_fields`), drops the padding of
    the last word and goes idle. The buffer (``word_width + field_bits`` bits) is refilled as
    soon as at most ``field_bits`` bits are left, so with ``word_width >= field_bits`` a field
    comes out every clock at steady state. Latency one cycle (registered output).

    Parameters
    ----------
    word_width : int
        1..64.
    field_bits : int
        Widest field, 1..32.
    count_width : int
        Width of the field and word counts, 1..32.

    Members
    -------
    start : ``In(stream.Signature(start_layout))``
    words : ``In(stream.Signature(word_width))``
    fields : ``Out(stream.Signature(field_bits))``
    busy : ``Out(1)``
    """

    def __init__(self, *, word_width: int = 32, field_bits: int = 10,
                 count_width: int = 24) -> None:
        self._args = dict(word_width=word_width, field_bits=field_bits,
                          count_width=count_width)
        self._word_width = check_int("Word width", word_width, 1, 64)
        self._field_bits = check_int("Field width", field_bits, 1, 32)
        self._count_width = check_int("Count width", count_width, 1, 32)
        super().__init__({
            "start": In(stream.Signature(self.start_layout)),
            "words": In(stream.Signature(word_width)),
            "fields": Out(stream.Signature(field_bits)),
            "busy": Out(1),
        })

    word_width = property(lambda self: self._word_width)
    field_bits = property(lambda self: self._field_bits)
    count_width = property(lambda self: self._count_width)
    clocked = True
    latency = 1

    @property
    def start_layout(self) -> data.StructLayout:
        return data.StructLayout({"fields": self._count_width, "words": self._count_width,
                                  "width": self._field_bits.bit_length()})

    @property
    def module_name(self) -> str:
        return (f"funpack_w{self._word_width}_f{self._field_bits}_c{self._count_width}")

    def __repr__(self) -> str:
        return "FieldUnpacker(" + ", ".join(f"{k}={v!r}" for k, v in self._args.items()) + ")"

    def elaborate(self, platform):
        m = Module()
        W, F = self._word_width, self._field_bits
        B = W + F
        busy = Signal()
        fields_left = Signal(self._count_width)
        words_left = Signal(self._count_width)
        width = Signal(F.bit_length())
        buf = Signal(B)       # valid bits are the top `nbits`; the rest are zero
        nbits = Signal(range(B + 1))
        out_valid = Signal()
        out_data = Signal(F)
        m.d.comb += [self.busy.eq(busy), self.fields.valid.eq(out_valid),
                     self.fields.payload.eq(out_data)]

        shamt = Signal(range(F + 1))
        m.d.comb += shamt.eq(F - width)
        advance = ~out_valid | self.fields.ready
        fire = Signal()
        m.d.comb += fire.eq(busy & (fields_left != 0) & (width <= nbits) & advance)
        with m.If(advance):
            m.d.sync += out_valid.eq(fire)
            with m.If(fire):
                m.d.sync += out_data.eq(buf[B - F:] >> shamt)

        nbits_c = Signal.like(nbits)
        buf_c = Signal(B)
        m.d.comb += [nbits_c.eq(Mux(fire, nbits - width, nbits)),
                     buf_c.eq(Mux(fire, (buf << width)[:B], buf))]
        draining = busy & (fields_left == 0)
        m.d.comb += self.words.ready.eq(busy & (words_left != 0) &
                                        ((fields_left == 0) | (nbits_c <= F)))
        load = self.words.valid & self.words.ready
        wshift = Signal(range(F + 1))
        m.d.comb += wshift.eq(F - nbits_c)
        placed = Signal(B)
        m.d.comb += placed.eq((self.words.payload << wshift)[:B])

        m.d.comb += self.start.ready.eq(~busy)
        with m.If(self.start.valid & ~busy):
            m.d.sync += [busy.eq(1), fields_left.eq(self.start.payload.fields),
                         words_left.eq(self.start.payload.words),
                         width.eq(self.start.payload.width), buf.eq(0), nbits.eq(0)]
        with m.Elif(draining):
            m.d.sync += [buf.eq(0), nbits.eq(0)]
            with m.If(load):
                m.d.sync += words_left.eq(words_left - 1)
            with m.If((words_left == 0) | ((words_left == 1) & load)):
                m.d.sync += busy.eq(0)
        with m.Elif(busy):
            with m.If(fire):
                m.d.sync += fields_left.eq(fields_left - 1)
            with m.If(load):
                m.d.sync += [buf.eq(buf_c | placed), nbits.eq(nbits_c + W),
                             words_left.eq(words_left - 1)]
            with m.Else():
                m.d.sync += [buf.eq(buf_c), nbits.eq(nbits_c)]
        return m


class ShamDecoder(wiring.Component):
    """Streams a matrix in sHAM (CSC) form out as its non-zeros, column by column.

    Inside are a :class:`~hwgen.units.hdec.HuffmanDecoder` for the values (its ``cfg`` and
    ``words`` are this unit's) and two :class:`FieldUnpacker` for the row indices and column
    counts. A ``start`` transfer gives the block, all from the container header: ``nnz``
    (non-zeros, the Huffman symbol count), ``words``, ``row_words`` and ``count_words`` (the
    word counts of the three sections), ``cols`` (columns), ``row_field`` and ``count_field``
    (the field widths of the two index sections). The unit takes the three word streams as the
    container stores them and emits one ``out`` item ``(row, col, value)`` per non-zero, in
    CSC order. Zeros cost nothing: the count of the next column is taken in the same cycle
    as the last non-zero of the current one, and an empty column costs one cycle, so a block
    takes about ``nnz + empty columns`` cycles at one non-zero per clock.

    Parameters
    ----------
    row_bits : int
        Width of a row index (matrices of up to ``2**row_bits`` rows), 1..16.
    col_bits : int
        Width of a column index, 1..16.
    word_width, max_len, rank_bits, value_width, count_width : int
        Of the Huffman decoder (see :class:`~hwgen.units.hdec.HuffmanDecoder`).

    Members
    -------
    cfg : ``In(stream.Signature(HuffmanDecoder.cfg_layout))``
        Code table writes (idle only).
    start : ``In(stream.Signature(start_layout))``
        ``nnz``, ``words``, ``row_words``, ``count_words``, ``cols``, ``row_field``,
        ``count_field`` of the next block.
    words : ``In(stream.Signature(word_width))``
        Huffman-coded values.
    row_words : ``In(stream.Signature(word_width))``
        Row indices, ``row_field`` bits each (at most ``row_bits``).
    count_words : ``In(stream.Signature(word_width))``
        Column counts, ``count_field`` bits each (at most ``row_bits + 1``).
    out : ``Out(stream.Signature(out_layout))``
        ``row``, ``col``, ``value`` (first field in the low bits).
    busy : ``Out(1)``

    Raises
    ------
    TypeError, ValueError
        A parameter out of range.
    """

    def __init__(self, *, row_bits: int = 10, col_bits: int = 10, word_width: int = 32,
                 max_len: int = 16, rank_bits: int = 8, value_width: int = 8,
                 count_width: int = 24) -> None:
        self._args = dict(row_bits=row_bits, col_bits=col_bits, word_width=word_width,
                          max_len=max_len, rank_bits=rank_bits, value_width=value_width,
                          count_width=count_width)
        self._row_bits = check_int("Row index width", row_bits, 1, 16)
        self._col_bits = check_int("Column index width", col_bits, 1, 16)
        self._hdec = HuffmanDecoder(word_width=word_width, max_len=max_len,
                                    rank_bits=rank_bits, value_width=value_width,
                                    count_width=count_width)
        if count_width < row_bits + col_bits and count_width < 32:
            raise ValueError(f"Count width must hold rows * columns ({row_bits + col_bits} "
                             f"bits), not {count_width}")
        super().__init__({
            "cfg": In(stream.Signature(self._hdec.cfg_layout)),
            "start": In(stream.Signature(self.start_layout)),
            "words": In(stream.Signature(word_width)),
            "row_words": In(stream.Signature(word_width)),
            "count_words": In(stream.Signature(word_width)),
            "out": Out(stream.Signature(self.out_layout)),
            "busy": Out(1),
        })

    row_bits = property(lambda self: self._row_bits)
    col_bits = property(lambda self: self._col_bits)
    word_width = property(lambda self: self._hdec.word_width)
    max_len = property(lambda self: self._hdec.max_len)
    rank_bits = property(lambda self: self._hdec.rank_bits)
    value_width = property(lambda self: self._hdec.value_width)
    count_width = property(lambda self: self._hdec.count_width)
    clocked = True

    @property
    def decoder(self) -> HuffmanDecoder:
        """The inner :class:`~hwgen.units.hdec.HuffmanDecoder` (for ``table_writes`` and
        ``cfg_layout``)."""
        return self._hdec

    @property
    def cfg_layout(self) -> data.StructLayout:
        return self._hdec.cfg_layout

    @property
    def start_layout(self) -> data.StructLayout:
        cw = self.count_width
        return data.StructLayout({
            "nnz": cw, "words": cw, "row_words": cw, "count_words": cw,
            "cols": self._col_bits + 1, "row_field": self._row_bits.bit_length(),
            "count_field": (self._row_bits + 1).bit_length()})

    @property
    def out_layout(self) -> data.StructLayout:
        return data.StructLayout({"row": self._row_bits, "col": self._col_bits,
                                  "value": self.value_width})

    @property
    def nonzeros_per_cycle(self) -> int:
        """Steady-state non-zeros per clock (no stalls, no empty columns)."""
        return self._hdec.symbols_per_cycle

    @property
    def module_name(self) -> str:
        h = self._hdec
        return (f"shamdec_r{self._row_bits}_c{self._col_bits}_w{h.word_width}_l{h.max_len}"
                f"_k{h.rank_bits}_v{h.value_width}_n{h.count_width}")

    def __repr__(self) -> str:
        # from the arguments as given: also right for an instance whose checks failed
        return "ShamDecoder(" + ", ".join(f"{k}={v!r}" for k, v in self._args.items()) + ")"

    def elaborate(self, platform):
        m = Module()
        m.submodules.hdec = hdec = self._hdec
        wiring.connect(m, wiring.flipped(self.cfg), hdec.cfg)
        wiring.connect(m, wiring.flipped(self.words), hdec.words)

        h = self._hdec
        m.submodules.rowu = rowu = FieldUnpacker(word_width=h.word_width,
                                                 field_bits=self._row_bits,
                                                 count_width=h.count_width)
        m.submodules.cntu = cntu = FieldUnpacker(word_width=h.word_width,
                                                 field_bits=self._row_bits + 1,
                                                 count_width=h.count_width)
        wiring.connect(m, wiring.flipped(self.row_words), rowu.words)
        wiring.connect(m, wiring.flipped(self.count_words), cntu.words)
        rows, counts = rowu.fields, cntu.fields

        busy = Signal()
        cols_left = Signal(self._col_bits + 1)
        col_next = Signal(self._col_bits + 1)
        col = Signal(self._col_bits)
        cnt_left = Signal(self._row_bits + 1)
        m.d.comb += self.busy.eq(busy | hdec.busy | rowu.busy | cntu.busy)

        # -- start: this unit and its three stream decoders must all be idle (their start
        # readies are registers, so the valids below do not depend on a ready combinationally)
        sp = self.start.payload
        idle = ~busy & hdec.start.ready & rowu.start.ready & cntu.start.ready
        go = self.start.valid & idle
        m.d.comb += [self.start.ready.eq(idle),
                     hdec.start.valid.eq(go), rowu.start.valid.eq(go),
                     cntu.start.valid.eq(go),
                     hdec.start.payload.symbols.eq(sp.nnz),
                     hdec.start.payload.words.eq(sp.words),
                     rowu.start.payload.fields.eq(sp.nnz),
                     rowu.start.payload.words.eq(sp.row_words),
                     rowu.start.payload.width.eq(sp.row_field),
                     cntu.start.payload.fields.eq(sp.cols),
                     cntu.start.payload.words.eq(sp.count_words),
                     cntu.start.payload.width.eq(sp.count_field)]
        with m.If(self.start.valid & self.start.ready):
            m.d.sync += [busy.eq(1), cols_left.eq(self.start.payload.cols), col_next.eq(0),
                         cnt_left.eq(0)]

        # -- join a value and a row index into one non-zero of the current column
        out_valid = busy & (cnt_left != 0) & hdec.symbols.valid & rows.valid
        out_fire = out_valid & self.out.ready
        m.d.comb += [self.out.valid.eq(out_valid),
                     self.out.payload.row.eq(rows.payload),
                     self.out.payload.col.eq(col),
                     self.out.payload.value.eq(hdec.symbols.payload),
                     hdec.symbols.ready.eq(out_fire),
                     rows.ready.eq(out_fire)]
        with m.If(out_fire):
            m.d.sync += cnt_left.eq(cnt_left - 1)

        # -- next column: take its count as the current one runs out (in the same cycle as
        # its last non-zero, so a dense column costs no extra cycle; an empty one costs one)
        m.d.comb += counts.ready.eq(busy & (cols_left != 0) &
                                         ((cnt_left == 0) | ((cnt_left == 1) & out_fire)))
        with m.If(counts.valid & counts.ready):  # after the decrement: wins
            m.d.sync += [cnt_left.eq(counts.payload), col.eq(col_next),
                         col_next.eq(col_next + 1), cols_left.eq(cols_left - 1)]

        with m.If(busy & (cols_left == 0) & (cnt_left == 0)):
            m.d.sync += busy.eq(0)
        return m

"""Streaming decoder of canonical, length-limited Huffman codes (HAM/sHAM weight streams).

The golden model is :mod:`hwgen.golden.compress` (:class:`~hwgen.golden.compress.CanonicalCode`
and :func:`~hwgen.golden.compress.unpack_bits`); the cocotb test is
``rtl_tests/test_hdec.py``.
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from amaranth import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .intcommon import onehot_select

if TYPE_CHECKING:
    from ..golden.compress import CanonicalCode

__all__ = ["HuffmanDecoder", "check_int"]


def check_int(what: str, value: object, lo: int, hi: int | None = None) -> int:
    """``value`` if it is an int in ``lo..hi``; else TypeError/ValueError naming it."""
    allowed = f"an integer in {lo}..{hi}" if hi is not None else (
        "a positive integer" if lo == 1 else f"an integer >= {lo}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be {allowed}, not {value!r}")
    if value < lo or (hi is not None and value > hi):
        raise ValueError(f"{what} must be {allowed}, not {value!r}")
    return value


def _or_below(bits):
    """Bit i is the OR of bits 0..i-1 of ``bits`` (each a balanced reduction)."""
    return Cat(Const(0, 1), *(bits[:i].any() for i in range(1, len(bits))))


class HuffmanDecoder(wiring.Component):
    """Canonical Huffman decoder: packed words in, one decoded value per code out.

    The code is described at run time by two registers per code length ``l`` (written through
    ``cfg`` while the decoder is idle) and a value table:

    * ``limit[l] = first[l] + count[l]``: the top ``l`` bits ``p`` of the bit window are a code
      of length ``l`` exactly when ``p < limit[l]`` and no shorter length matched (for a
      canonical code every ``l``-bit prefix of a longer code is ``>= limit[l]``);
    * ``base[l] = offset[l] - first[l]`` (mod ``2**rank_bits``), where ``offset[l]`` is the rank
      of the first code of length ``l``, so that ``rank = base[l] + p``;
    * ``value[rank]``: what to emit for that rank (a centroid index, an integer weight...).

    :meth:`table_writes` turns a :class:`~hwgen.golden.compress.CanonicalCode` and the value of
    each rank into the ``cfg`` transfers. Registers reset to "no code" (``limit = 0``).

    A *block* is a bit stream packed MSB first into ``words`` (the golden
    :func:`~hwgen.golden.compress.pack_bits`). A ``start`` transfer gives its symbol count and
    word count; the decoder then takes exactly that many words, emits exactly that many
    values, drops the padding bits of the last word and goes idle. ``start`` and ``cfg`` are
    accepted only while idle.

    Throughput: every code is decoded in one cycle from the top ``max_len`` (L) bits of a
    ``word_width + 2L - 1``-bit buffer, which takes a word whenever it holds fewer than ``2L``
    bits *before* this cycle's decode. So after a cycle it holds at least L bits (``2L - L``
    without a word, ``word_width >= L`` with one: ``word_width >= max_len`` is enforced) and the
    decoder emits one value per clock at steady state whatever the code lengths, as long as
    words arrive and the sink is ready. The refill decision and the placement of the new word
    depend only on registers (the word is placed below the valid bits, then the whole buffer
    shifts by this cycle's code length), so the decode path (compare, pick the length, shift)
    is not chained to the refill. Latency: one cycle (the value table is a synchronous memory
    read).

    Parameters
    ----------
    word_width : int
        Bits per packed word (1..64, at least ``max_len``).
    max_len : int
        Longest code (1..24).
    rank_bits : int
        The value table has ``2**rank_bits`` entries (1..12).
    value_width : int
        Bits per emitted value (1..64).
    count_width : int
        Width of the symbol and word counts of a block (1..32).

    Members
    -------
    cfg : ``In(stream.Signature(cfg_layout))``
        Table writes: ``kind`` (:attr:`CFG_LIMIT`, :attr:`CFG_BASE`, :attr:`CFG_VALUE`),
        ``addr`` (``l - 1`` for the per-length registers, the rank for values), ``data``.
    start : ``In(stream.Signature(start_layout))``
        ``symbols`` and ``words`` of the next block.
    words : ``In(stream.Signature(word_width))``
    symbols : ``Out(stream.Signature(value_width))``
        The decoded values, in stream order.
    busy : ``Out(1)``
        A block is in progress.

    Raises
    ------
    TypeError, ValueError
        A parameter out of range (the message names it and what is allowed).
    """

    CFG_LIMIT = 0
    CFG_BASE = 1
    CFG_VALUE = 2

    def __init__(self, *, word_width: int = 32, max_len: int = 16, rank_bits: int = 8,
                 value_width: int = 8, count_width: int = 24) -> None:
        self._args = dict(word_width=word_width, max_len=max_len, rank_bits=rank_bits,
                          value_width=value_width, count_width=count_width)
        self._max_len = check_int("Maximum code length", max_len, 1, 24)
        self._word_width = check_int("Word width", word_width, 1, 64)
        if word_width < max_len:
            raise ValueError(f"Word width must be at least the maximum code length "
                             f"({max_len}), not {word_width}")
        self._rank_bits = check_int("Rank width", rank_bits, 1, 12)
        self._value_width = check_int("Value width", value_width, 1, 64)
        self._count_width = check_int("Count width", count_width, 1, 32)
        super().__init__({
            "cfg": In(stream.Signature(self.cfg_layout)),
            "start": In(stream.Signature(self.start_layout)),
            "words": In(stream.Signature(word_width)),
            "symbols": Out(stream.Signature(value_width)),
            "busy": Out(1),
        })

    # -- parameters and derived facts --

    word_width = property(lambda self: self._word_width)
    max_len = property(lambda self: self._max_len)
    rank_bits = property(lambda self: self._rank_bits)
    value_width = property(lambda self: self._value_width)
    count_width = property(lambda self: self._count_width)

    @property
    def table_depth(self) -> int:
        """Entries of the value table (the most symbols a code may have)."""
        return 1 << self._rank_bits

    @property
    def buffer_bits(self) -> int:
        return self._word_width + 2 * self._max_len - 1

    @property
    def latency(self) -> int:
        """Cycles from a decodable code in the buffer to its value on ``symbols``."""
        return 1

    @property
    def symbols_per_cycle(self) -> int:
        """Steady-state values per clock (no stalls on either side)."""
        return 1

    clocked = True

    @property
    def cfg_layout(self) -> data.StructLayout:
        addr = max(self._rank_bits, (self._max_len - 1).bit_length(), 1)
        dat = max(self._value_width, self._rank_bits, self._max_len + 1)
        return data.StructLayout({"kind": 2, "addr": addr, "data": dat})

    @property
    def start_layout(self) -> data.StructLayout:
        return data.StructLayout({"symbols": self._count_width, "words": self._count_width})

    @property
    def module_name(self) -> str:
        return (f"hdec_w{self._word_width}_l{self._max_len}_r{self._rank_bits}"
                f"_v{self._value_width}_c{self._count_width}")

    def __repr__(self) -> str:
        # from the arguments as given: also right for an instance whose checks failed
        return "HuffmanDecoder(" + ", ".join(f"{k}={v!r}" for k, v in self._args.items()) + ")"

    # -- host side --

    def table_writes(self, code: "CanonicalCode",
                     values: Iterable[int]) -> list[dict[str, int]]:
        """The ``cfg`` transfers (dicts ``kind``/``addr``/``data``) that load ``code`` (a
        :class:`~hwgen.golden.compress.CanonicalCode`) and ``values`` (the integer to emit for
        each rank; negative values are stored in two's complement)."""
        from hwgen.golden.compress import CanonicalCode
        values = [int(v) for v in values]
        if code.max_len > self._max_len:
            raise ValueError(f"Code length bound {code.max_len} exceeds the decoder's "
                             f"{self._max_len}")
        if code.n_symbols > self.table_depth:
            raise ValueError(f"{code.n_symbols} symbols exceed the value table "
                             f"({self.table_depth} entries)")
        if len(values) != code.n_symbols:
            raise ValueError(f"Expected {code.n_symbols} values, not {len(values)}")
        full = CanonicalCode(tuple(code.counts) + (0,) * (self._max_len - code.max_len))
        mask = (1 << self._rank_bits) - 1
        out, offset = [], 0
        for i, (first, count) in enumerate(zip(full.first.tolist(), full.counts)):
            out.append({"kind": self.CFG_LIMIT, "addr": i, "data": first + count})
            out.append({"kind": self.CFG_BASE, "addr": i, "data": (offset - first) & mask})
            offset += count
        vmask = (1 << self._value_width) - 1
        for r, v in enumerate(values):
            out.append({"kind": self.CFG_VALUE, "addr": r, "data": v & vmask})
        return out

    # -- hardware --

    def elaborate(self, platform):
        m = Module()
        L, W = self._max_len, self._word_width
        B = self.buffer_bits

        limits = [Signal(L + 1, name=f"limit{l}") for l in range(1, L + 1)]
        bases = [Signal(self._rank_bits, name=f"base{l}") for l in range(1, L + 1)]
        m.submodules.table = table = Memory(shape=unsigned(self._value_width),
                                            depth=self.table_depth, init=[])
        wr = table.write_port()
        rd = table.read_port(domain="sync")

        busy = Signal()
        sym_left = Signal(self._count_width)
        words_left = Signal(self._count_width)
        buf = Signal(B)       # valid bits are the top `nbits`; the rest are zero
        nbits = Signal(range(B + 1))
        out_valid = Signal()
        m.d.comb += self.busy.eq(busy)

        # -- table writes (idle only)
        m.d.comb += self.cfg.ready.eq(~busy)
        cfg_go = self.cfg.valid & ~busy
        cp = self.cfg.payload
        m.d.comb += [wr.addr.eq(cp.addr), wr.data.eq(cp.data),
                     wr.en.eq(cfg_go & (cp.kind == self.CFG_VALUE))]
        with m.If(cfg_go):
            with m.Switch(cp.addr):
                for i in range(L):
                    with m.Case(i):
                        with m.If(cp.kind == self.CFG_LIMIT):
                            m.d.sync += limits[i].eq(cp.data)
                        with m.If(cp.kind == self.CFG_BASE):
                            m.d.sync += bases[i].eq(cp.data)

        # -- decode: the shortest length whose prefix is below its limit. One-hot, so the
        # length select and the buffer shift below are balanced AND-OR trees, not a chain of
        # 16 priority muxes feeding a barrel shifter.
        window = buf[B - L:]
        match = Signal(L)
        for l in range(1, L + 1):
            m.d.comb += match[l - 1].eq(window[L - l:] < limits[l - 1])
        onehot = Signal(L)
        m.d.comb += onehot.eq(match & ~_or_below(match))
        enough = Cat(*(nbits >= l for l in range(1, L + 1)))   # bit l-1: >= l bits held
        length = Signal(range(L + 1))
        rank = Signal(self._rank_bits)
        m.d.comb += [
            length.eq(onehot_select(onehot, [l for l in range(1, L + 1)], len(length))),
            rank.eq(onehot_select(onehot, [(bases[l - 1] + window[L - l:])[:self._rank_bits]
                                            for l in range(1, L + 1)], self._rank_bits)),
        ]

        advance = ~out_valid | self.symbols.ready
        decoding = busy & (sym_left != 0)
        fire = Signal()
        m.d.comb += fire.eq(decoding & (onehot & enough).any() & advance)
        m.d.comb += [rd.addr.eq(rank), rd.en.eq(advance),
                     self.symbols.valid.eq(out_valid), self.symbols.payload.eq(rd.data)]
        with m.If(advance):
            m.d.sync += out_valid.eq(fire)

        # -- refill (or, once every symbol is out, drop the block's remaining words): decided
        # from the registered bit count; the word goes right below the valid bits, and the
        # buffer then shifts by this cycle's code length
        draining = busy & (sym_left == 0)
        m.d.comb += self.words.ready.eq(busy & (words_left != 0) &
                                        ((sym_left == 0) | (nbits < 2 * L)))
        load = self.words.valid & self.words.ready
        shamt = Signal(range(B - W + 1))
        m.d.comb += shamt.eq(B - W - nbits)
        merged = Signal(B)
        m.d.comb += merged.eq(Mux(load, buf | (self.words.payload << shamt)[:B], buf))
        used = Mux(fire, length, 0)

        with m.If(self.start.valid & self.start.ready):
            m.d.sync += [busy.eq(1), sym_left.eq(self.start.payload.symbols),
                         words_left.eq(self.start.payload.words), buf.eq(0), nbits.eq(0)]
        with m.Elif(draining):
            m.d.sync += [buf.eq(0), nbits.eq(0)]
            with m.If(load):
                m.d.sync += words_left.eq(words_left - 1)
            with m.If((words_left == 0) | ((words_left == 1) & load)):
                m.d.sync += busy.eq(0)
        with m.Elif(busy):
            with m.If(fire):
                m.d.sync += sym_left.eq(sym_left - 1)
            shifted = onehot_select(onehot, [(merged << l)[:B] for l in range(1, L + 1)], B)
            m.d.sync += [buf.eq(Mux(fire, shifted, merged)),
                         nbits.eq(nbits + Mux(load, W, 0) - used)]
            with m.If(load):
                m.d.sync += words_left.eq(words_left - 1)
        m.d.comb += self.start.ready.eq(~busy)
        return m

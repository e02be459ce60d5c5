"""A systolic array described by its parameters alone, and every fact derived from them.

:class:`ArraySpec` is the plain (Amaranth-free, numpy-free) description of a
:class:`~hwgen.arrays.systolic.SystolicArray`: shape, PE, dataflow and PE pipeline, validated,
with what follows from them: the widths and field offsets of the three stream words, the
latencies and cycles per tile, the module name, and the packing of stream words into plain
integers. The array component is built from one and reads its facts from it; the host driver
(:mod:`hwgen.host`) and the board top (``boards/top.py``) use one where they only need those
facts, so they neither build nor import any gateware.

Stream words (see :mod:`hwgen.arrays.systolic` for what they mean): the first field, and
element 0 of an array field, sit in the low bits; signed elements are two's complement.
:class:`~hwgen.arrays.systolic.SystolicArray` describes the same words as
``amaranth.lib.data`` layouts; ``tests/test_arrayspec.py`` checks that both agree, field by
field, for every PE kind.
"""

import re
from dataclasses import dataclass
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple, SupportsInt, cast

from .pespec import DATAFLOWS, PE_GRAMMAR, PESpec, bits_width, parse_pe

if TYPE_CHECKING:
    from .formats import FloatFormat, IntFormat

__all__ = ["ArraySpec", "Elem", "MAX_DIM", "SUPPORTED_KINDS", "MX_MAX_ROWS",
           "MX_MAX_ACC_LATENCY", "check_array_pe",
           "check_pe_latency", "FLOWS"]

MAX_DIM = 64
#: Flow control of a :class:`hwgen.arrays.systolic.SystolicArray` (its ``flow``; see
#: "Timing and stalls" in that module's docstring).
FLOWS = ("stall", "credit")

#: PE kinds the systolic array builds (every kind in both dataflows, except ``mx``:
#: output-stationary only, at most :data:`MX_MAX_ROWS` rows).
SUPPORTED_KINDS = ("int", "float", "ternary", "bitserial", "dualprec", "mx")
#: Most rows of an ``mx:`` array: a column's PEs close their blocks on distinct clocks (and
#: share one FP32 accumulation unit) only while rows <= the block size, 32.
MX_MAX_ROWS = 32
#: Most registers in an ``mx:`` array's column accumulation (``add_latency``): it is used once
#: per 32-element block, so any latency below 32 keeps the array at one transfer per clock.
MX_MAX_ACC_LATENCY = 6


class Elem(NamedTuple):
    """One element of a stream word: ``width`` bits, two's complement when ``signed``."""
    width: int
    signed: bool = False


def check_array_pe(pe: PESpec | str) -> PESpec:
    """Parse ``pe`` and check that arrays support it; return the :class:`PESpec`."""
    spec = parse_pe(pe)
    if spec.kind not in SUPPORTED_KINDS:
        raise ValueError(f"PE {spec.spec!r} is not supported by SystolicArray yet; supported: "
                         f"{PE_GRAMMAR}")
    return spec


def check_pe_latency(pe: PESpec | str, dataflow: str, mul_latency: int = 0,
                     add_latency: int = 0) -> tuple[int, int]:
    """Check a PE pipeline (see :class:`~hwgen.arrays.pe.PEDatapath`); return
    ``(mul_latency, add_latency)``.

    ``F:ACC:rounded``: multiplier 0..3, adder 0..3; ``F:ACC:fused``: FMA 0..4 (multiplier 0);
    ``F:exact`` and ``F:window``: the product path 0..2 (alignment or product, shift) and
    the column read-out, the one rounding of the fixed-point sum, 0..3 (the PE's integer add
    is never cut). Rounded and fused PEs pipeline in weight-stationary arrays only (an
    output-stationary PE's rounded sum is a loop through its adder); fixed-point PEs in
    both dataflows (their loop is the integer add alone)."""
    pe = cast(PESpec, parse_pe(pe))
    lat = {"Multiplier latency": mul_latency, "Adder latency": add_latency}
    for what, v in lat.items():
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"{what} must be an integer, not {v!r}")
    if not (mul_latency or add_latency):
        return 0, 0
    if pe.kind == "mx":
        if mul_latency or not 0 <= add_latency <= MX_MAX_ACC_LATENCY:
            raise ValueError(f"An MX PE pipeline is the columns' FP32 accumulation: adder "
                             f"latency 0..{MX_MAX_ACC_LATENCY} and multiplier latency 0, not "
                             f"{mul_latency!r} and {add_latency!r} ({pe.spec})")
        return 0, add_latency
    kind = "exact" if pe.fixed_point else pe.accumulate   # F:window pipelines as F:exact
    if kind not in ("rounded", "fused", "exact") or (dataflow != "ws" and kind != "exact"):
        raise ValueError(f"A PE pipeline needs a weight-stationary array of F:ACC:rounded, "
                         f"F:ACC:fused or F:exact PEs or an output-stationary array of "
                         f"F:exact PEs, not {pe.spec!r} ({dataflow})")
    hi = {"rounded": (3, 3), "fused": (0, 4), "exact": (2, 3)}[kind]
    for (what, v), top in zip(lat.items(), hi):
        if not 0 <= v <= top:
            raise ValueError(f"{what} must be between 0 and {top} for {pe.spec}, "
                             f"not {v!r}")
    return mul_latency, add_latency


def _int_elem(fmt):
    return Elem(fmt.bits, fmt.signed)


def _pack(values, elem):
    mask = (1 << elem.width) - 1
    word = 0
    for i, v in enumerate(values):
        word |= (int(v) & mask) << (i * elem.width)
    return word


def _unpack(word, elem, count):
    mask = (1 << elem.width) - 1
    out = []
    for i in range(count):
        v = (int(word) >> (i * elem.width)) & mask
        if elem.signed and v >> (elem.width - 1):
            v -= 1 << elem.width
        out.append(v)
    return out


@dataclass(frozen=True)
class ArraySpec:
    """A ``rows`` × ``cols`` systolic array of ``pe`` processing elements, as parameters.

    Parameters
    ----------
    rows, cols : int
        Array shape, 1..:data:`MAX_DIM`.
    pe : str or PESpec
        PE spec (:mod:`hwgen.pespec`); stored parsed.
    dataflow : str
        ``"ws"`` or ``"os"``.
    mul_latency, add_latency : int
        PE pipeline (weight-stationary float PEs, fixed-point PEs in both dataflows; see
        :class:`~hwgen.arrays.systolic.SystolicArray`).

    Raises
    ------
    TypeError, ValueError
        A bad parameter, with the same messages as
        :class:`~hwgen.arrays.systolic.SystolicArray`.
    """
    rows: int
    cols: int
    pe: "PESpec | str" = "int8"
    dataflow: str = "ws"
    mul_latency: int = 0
    add_latency: int = 0

    def __post_init__(self) -> None:
        for what, v in (("Rows", self.rows), ("Columns", self.cols)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{what} must be an integer, not {v!r}")
            if not 1 <= v <= MAX_DIM:
                raise ValueError(f"{what} must be between 1 and {MAX_DIM}, not {v!r}")
        object.__setattr__(self, "pe", check_array_pe(self.pe))
        if self.dataflow not in DATAFLOWS:
            raise ValueError(f"Dataflow must be one of {', '.join(DATAFLOWS)}, not "
                             f"{self.dataflow!r}")
        check_pe_latency(self.pe, self.dataflow, self.mul_latency, self.add_latency)
        if cast(PESpec, self.pe).kind == "mx":
            if self.dataflow != "os":
                raise ValueError(f"PE {cast(PESpec, self.pe).spec!r} runs in "
                                 f"output-stationary arrays only (dataflow 'os'), not "
                                 f"{self.dataflow!r}")
            if self.rows > MX_MAX_ROWS:
                raise ValueError(f"Rows must be between 1 and {MX_MAX_ROWS} for "
                                 f"{cast(PESpec, self.pe).spec!r} (one FP32 accumulation unit "
                                 f"per column, shared by its rows), not {self.rows!r}")

    # -- the PE --------------------------------------------------------------------------------
    @property
    def acc_bits(self) -> int:
        """Width of one PE's running sum (integer, float encoding or Kulisch register)."""
        return cast(PESpec, self.pe).acc_bits

    @property
    def serial(self) -> bool:
        """True for bit-serial PEs (``bsWxA``): ``acts`` rows carry a ``bits`` field."""
        return cast(PESpec, self.pe).kind == "bitserial"

    @property
    def weight_bits(self) -> int | None:
        """Bit-serial PEs: W, the weight width (the most planes per row)."""
        return cast("IntFormat", cast(PESpec, self.pe).w_fmt).bits if self.serial else None

    @property
    def bits_width(self) -> int | None:
        """Bit-serial PEs: width of the ``acts`` ``bits`` field (``W.bit_length()``)."""
        return bits_width(self.pe) if self.serial else None

    # -- stream words --------------------------------------------------------------------------
    @property
    def a_elem(self) -> Elem:
        """One activation (MX PEs: the element code with the block's E8M0 code above it)."""
        pe = cast(PESpec, self.pe)
        if pe.kind == "mx":
            return Elem(pe.a_fmt.width + 8)
        return (Elem(cast("FloatFormat", pe.a_fmt).width) if pe.kind == "float"
                else _int_elem(pe.a_fmt))

    @property
    def w_elem(self) -> Elem:
        """One weight (a ternary weight is a 2-bit code; MX PEs: as :attr:`a_elem`)."""
        pe = cast(PESpec, self.pe)
        if pe.kind == "mx":
            return Elem(pe.w_fmt.width + 8)
        if pe.kind == "float":
            return Elem(cast("FloatFormat", pe.w_fmt).width)
        if pe.kind == "ternary":
            return Elem(2)
        return _int_elem(pe.w_fmt)

    @property
    def psum_elem(self) -> Elem:
        """One running sum as it travels in ``acts`` (exact PEs: the raw bits of the
        Kulisch register and its NaN/+Inf/-Inf flags, ``acc_bits + 3``)."""
        pe = cast(PESpec, self.pe)
        if pe.fixed_point:
            return Elem(pe.acc_bits + 3)
        if pe.kind in ("float", "mx"):
            return Elem(cast("FloatFormat", pe.acc_fmt).width)
        return _int_elem(pe.acc_fmt)

    @property
    def y_elem(self) -> Elem:
        """One result."""
        pe = cast(PESpec, self.pe)
        return (Elem(cast("FloatFormat", pe.out_fmt).width) if pe.kind in ("float", "mx")
                else _int_elem(pe.out_fmt))

    @property
    def exact_results(self) -> bool:
        """True when a result element carries the rounded result and the raw running sum
        (weight-stationary exact PEs): ``y`` in the low bits, then ``acc``."""
        return self.dataflow == "ws" and cast(PESpec, self.pe).fixed_point

    @property
    def result_elem(self) -> Elem:
        """One element of a ``results`` row (unsigned when it is ``y`` and ``acc``)."""
        if self.exact_results:
            return Elem(self.y_elem.width + self.psum_elem.width)
        return self.y_elem

    @property
    def weight_word_bits(self) -> int:
        """Bits of a ``weights`` transfer: ``cols`` weights."""
        return self.cols * self.w_elem.width

    @property
    def act_fields(self) -> dict[str, tuple[int, int]]:
        """The ``acts`` word's fields in order, low bits first: name → ``(offset, width)``
        (``a``; ``psum`` (WS); ``last``; ``bits`` (bit-serial); ``low`` (dual-precision))."""
        widths = {"a": self.rows * self.a_elem.width}
        if self.dataflow == "ws":
            widths["psum"] = self.cols * self.psum_elem.width
        widths["last"] = 1
        if self.serial:
            widths["bits"] = cast(int, self.bits_width)
        if cast(PESpec, self.pe).kind == "dualprec":
            widths["low"] = 1
        out, offset = {}, 0
        for name, width in widths.items():
            out[name] = (offset, width)
            offset += width
        return out

    @property
    def act_word_bits(self) -> int:
        """Bits of an ``acts`` transfer."""
        return sum(width for _, width in self.act_fields.values())

    @property
    def result_word_bits(self) -> int:
        """Bits of a ``results`` transfer: ``cols`` result elements."""
        return self.cols * self.result_elem.width

    def pack_weights(self, row: Sequence[SupportsInt]) -> int:
        """The ``weights`` word (an int) for one row of ``cols`` weights (ints or
        encodings)."""
        if len(row) != self.cols:
            raise ValueError(f"Weight row must have {self.cols} elements, not {len(row)}")
        return _pack(row, self.w_elem)

    def unpack_weights(self, word: SupportsInt) -> list[int]:
        """The ``cols`` weights (signed ints for integer PEs, encodings for float PEs) of a
        ``weights`` word: the inverse of :meth:`pack_weights`."""
        return _unpack(word, self.w_elem, self.cols)

    def unpack_acts(self, word: SupportsInt) -> list[int]:
        """The ``rows`` activations of the ``a`` field (the low bits) of an ``acts`` word."""
        return _unpack(int(word) >> self.act_fields["a"][0], self.a_elem, self.rows)

    def pack_acts(self, a: Sequence[SupportsInt], *, last: bool = False,
                  psum: Iterable[SupportsInt] | None = None, bits: SupportsInt | None = None,
                  low: bool | None = None) -> int:
        """The ``acts`` word (an int): ``rows`` activations, the ``last`` flag, (WS) the row
        of ``cols`` partial sums as raw bit patterns (None: zeros, i.e. ``+0``) and
        (bit-serial PEs) the ``bits`` field (None: W, full precision), (dual-precision PEs)
        the ``low`` flag (None: high mode)."""
        if len(a) != self.rows:
            raise ValueError(f"Activation row must have {self.rows} elements, not {len(a)}")
        f = self.act_fields
        word = _pack(a, self.a_elem) << f["a"][0]
        word |= int(bool(last)) << f["last"][0]
        if self.dataflow == "ws" and psum is not None:
            word |= _pack(psum, self.psum_elem) << f["psum"][0]
        if self.serial:
            b = cast(int, self.weight_bits) if bits is None else int(bits)
            if not 0 <= b < 1 << cast(int, self.bits_width):
                raise ValueError(f"Bits must be in 0..{(1 << cast(int, self.bits_width)) - 1}, "
                                 f"not {bits!r}")
            word |= b << f["bits"][0]
        elif bits is not None:
            raise ValueError(f"Run-time bits apply to bit-serial PEs only, not "
                             f"{cast(PESpec, self.pe).spec!r}")
        if cast(PESpec, self.pe).kind == "dualprec":
            word |= int(bool(low)) << f["low"][0]
        elif low is not None:
            raise ValueError(f"Low mode applies to dual-precision PEs only, not "
                             f"{cast(PESpec, self.pe).spec!r}")
        return word

    def pack_results(self, row: Sequence[SupportsInt]) -> int:
        """The ``results`` word (an int) for one row of ``cols`` results: the inverse of
        :meth:`unpack_results` (the word a version-2 board's bias buffer holds, too).

        Raises
        ------
        ValueError
            A row of the wrong length, or results that carry the raw running sum too (exact
            PEs, weight-stationary).
        """
        if self.exact_results:
            raise ValueError(f"Results of {cast(PESpec, self.pe).spec!r} carry the rounded "
                             f"result and the running sum: no plain result word to pack")
        if len(row) != self.cols:
            raise ValueError(f"Result row must have {self.cols} elements, not {len(row)}")
        return _pack(row, self.result_elem)

    def unpack_results(self, word: SupportsInt) -> tuple[list[int], list[int]]:
        """Split a ``results`` word into ``(values, psums)``: ``cols`` results (signed ints
        for integer PEs, encodings for float PEs) and the ``cols`` raw running sums to send
        back as the next K-tile's ``psum`` (weight-stationary; equal to the values except
        for exact PEs)."""
        raw = _unpack(word, self.result_elem, self.cols)
        if self.exact_results:
            y = self.y_elem.width
            return [r & ((1 << y) - 1) for r in raw], [r >> y for r in raw]
        return raw, list(raw)

    # -- timing --------------------------------------------------------------------------------
    def _planes_of(self, bits):
        if not self.serial:
            if bits is not None:
                raise ValueError(f"Run-time bits apply to bit-serial PEs only, not "
                                 f"{cast(PESpec, self.pe).spec!r}")
            return 1
        # The rule of hwgen.golden.bsmac.clamp_bits (0 reads as 1, above W as W).
        return min(max(int(self.weight_bits if bits is None else bits), 1), self.weight_bits)

    def cycles_per_row(self, bits: SupportsInt | None = None) -> int:
        """Cycles one ``acts`` row occupies the array: 1, or for bit-serial PEs the planes
        processed, ``bits`` clamped to 1..W (default W). Weight-stationary throughput is
        ``rows·cols / cycles_per_row`` MACs per cycle."""
        return self._planes_of(bits)

    @property
    def latency(self) -> int:
        """Clock cycles, without stalls, from an input transfer to its result transfer:
        WS, from an ``acts`` row to its ``results`` row; OS, from a tile's ``last`` transfer
        to the tile's first ``results`` row. Bit-serial PEs: at full precision (W planes);
        see :meth:`latency_at`."""
        return self.latency_at()

    def latency_at(self, bits: SupportsInt | None = None) -> int:
        """:attr:`latency` for rows of ``bits`` planes (bit-serial PEs; others: ``bits`` is
        None). The wavefront crosses rows + cols - 1 PEs, one step of ``cycles_per_row`` cycles
        each (when no row of more planes is in flight), then the result register or drain
        select (1), the de-skew hand-over (1) and the result FIFO (2: write, then its output
        register): ``(rows + cols - 1)·cycles_per_row + 4``. A pipelined PE adds
        ``rows·add_latency + mul_latency`` (``F:exact``: ``mul_latency + add_latency``, the
        read-out's stages)."""
        return ((self.rows + self.cols - 1) * self._planes_of(bits) + 4
                + self.mx_acc_stages + self.rows * self.pe_add_latency
                + self.mul_latency + self.readout_latency)

    @property
    def cycles_per_tile(self) -> int:
        """Minimum cycles a tile occupies the array at steady state: a tile of n activation
        transfers takes ``max(n, cycles_per_tile)`` cycles when the sources keep up and the
        sink is always ready. WS: the PEs' shadow weight registers reload ``cols`` cycles
        after the tile's first row (``cols - 1`` after the previous tile's last row would
        have left a second bank free: the same clock) and take ``rows`` cycles, so
        ``rows + cols``; OS: ``rows`` (the result drain; bit-serial PEs: ``rows`` steps).
        Bit-serial PEs: the bound at full precision; see :meth:`cycles_per_tile_at`."""
        return self.cycles_per_tile_at()

    @property
    def pe_add_latency(self) -> int:
        """Cycles a PE holds a partial sum beyond its one register: ``add_latency``, except
        for ``F:exact`` PEs, whose ``add_latency`` pipelines the column read-out instead, and
        MX PEs (:attr:`mx_acc_stages`)."""
        pe = cast(PESpec, self.pe)
        return 0 if pe.fixed_point or pe.kind == "mx" else self.add_latency

    @property
    def readout_latency(self) -> int:
        """Register stages of the column read-out (``F:exact`` PEs: ``add_latency``)."""
        return self.add_latency if cast(PESpec, self.pe).fixed_point else 0

    @property
    def mx_acc_stages(self) -> int:
        """MX PEs: clocks from a block's last product to its FP32 sum in the PE, ``1 +
        add_latency`` (the column's register, then the accumulation's registers); 0 for
        other PEs."""
        return 1 + self.add_latency if cast(PESpec, self.pe).kind == "mx" else 0

    @property
    def ws_drain(self) -> int:
        """Weight-stationary: cycles after a tile's last row enters until the next tile's
        weights may load into the PEs' shadow registers (the array counts ``ws_drain - 1``
        from the next tile's first row, which copies them out as it passes: row k of the
        shadow is copied by PE (k, cols-1), cols-1 + k·(1+add_latency) cycles after that row
        enters; the worst is k = rows-1, :attr:`pe_add_latency`)."""
        return self.cols + (self.rows - 1) * self.pe_add_latency

    def cycles_per_tile_at(self, bits: SupportsInt | None = None) -> int:
        """:attr:`cycles_per_tile` for tiles of ``bits`` planes (bit-serial PEs). OS:
        ``rows·P``, P = ``cycles_per_row(bits)`` (a tile of K transfers takes at most
        ``max(K, rows)·P`` cycles: the drain emits a row per step). WS: a tile of n
        rows takes at most ``max(n·P, cycles_per_tile_at(P))`` cycles at steady state,
        P = ``cycles_per_row(bits)``. A bank is reloaded once its last reader,
        PE (rows-1, cols-1), is done, rows + cols - 1 steps of (at most) P cycles after the
        tile's last row, and loading takes ``rows`` cycles, which the next tile sees at a step
        boundary: ``P·(rows + cols - 1 + ceil(rows / P))``. (Steps shorten to one cycle when
        the array runs empty, so a starved array reloads sooner.)"""
        if self.dataflow == "os":
            return self.rows * self._planes_of(bits)
        if not self.serial:
            return self.rows + self.ws_drain
        p = self._planes_of(bits)
        return p * (self.rows + self.cols - 1 + -(-self.rows // p))

    @property
    def module_name(self) -> str:
        # a minus sign (window bounds) reads "m": window-8..2 and window8..2 stay apart
        tag = re.sub(r"[^a-z0-9]+", "_",
                     cast(PESpec, self.pe).spec.lower().replace("-", "m")).strip("_")
        pipe = f"_l{self.mul_latency}_{self.add_latency}" if self.mul_latency or \
            self.add_latency else ""
        return f"systolic_{self.dataflow}_{self.rows}x{self.cols}_{tag}{pipe}"

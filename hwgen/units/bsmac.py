"""Bit-serial MAC with run-time precision (PrecisionBatching-style bitlayers).

Golden model: :mod:`hwgen.golden.bsmac`. cocotb test: ``rtl_tests/test_bsmac.py``.
"""


from amaranth import Module, Mux, Signal, signed as sgn, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..timing import DelayModel
from ..timing.fixed import FixedPipeline

from .intcommon import (GUARD_BITS, MAX_ACC_BITS, MAX_ACT_BITS, MAX_LANES, adder_tree,
                        check_int, signed_width)

__all__ = ["BitSerialMac"]

MAX_WEIGHT_BITS = 16


class BitSerialMac(FixedPipeline, wiring.Component):
    """Bit-serial dot-product MAC: one weight bitlayer per cycle, MSB first, run-time precision.

    Each operation is a ``lanes``-element dot product of ``weight_bits``-bit weights with
    ``act_bits``-bit activations. The unit latches the operation, then each cycle takes one
    bit-plane of the weights (the top bit of every lane's weight shift register), ANDs it with
    the activations, sums the lanes in an adder tree and adds the sum, scaled by the plane's
    weight ``2**(weight_bits-1-x)`` (negated for the top plane of signed weights), into the
    accumulator. It stops after ``bits`` planes, so ``bits`` cycles per operation: the
    result is the dot product with the weights truncated to their top ``bits`` bits, *scale
    kept* (:func:`hwgen.golden.bsmac.bitserial_dot`).

    The weights of an operation enter in parallel, one vector per transfer; a shift register
    per lane turns them into bit-planes on chip, MSB first, so the weight port needs no
    re-ordering on the host. (A weight memory that stores bitlayers, so that only the
    ``bits`` planes used are read, would feed the plane stage directly; that variant is not
    built here.)

    Operations are accumulated into groups: the accumulator starts at zero, adds every
    operation, and on an operation with ``last = 1`` it sends the group's sum on ``o`` and
    clears (so ``last = 1`` on every operation gives one result per dot product, and a dot
    product longer than ``lanes`` is split into several operations, the final one with
    ``last``). ``bits`` may differ between operations, also within a group. The accumulator
    wraps modulo ``2**acc_bits``.

    Timing: a new operation is accepted in the cycle its predecessor's last plane is
    processed, so back-to-back operations take exactly ``bits`` cycles each. The group result
    becomes valid on ``o`` ``bits + latency`` rising edges after the input transfer of the
    group's last operation. ``o.valid`` and ``o.payload`` come from registers; ``i.ready``
    depends combinationally on ``o.ready`` (a full output register stalls the pipeline only
    when a group result would overwrite it).

    Parameters
    ----------
    lanes : int
        Dot-product length per operation, 1 to 256.
    weight_bits : int
        Weight width, 2 to 16 (1 to 16 unsigned).
    act_bits : int
        Activation width, 2 to 24 (1 to 24 unsigned).
    signed : bool
        Two's-complement weights and activations (``True``) or unsigned ones.
    acc_bits : int or None
        Accumulator and result width, up to 62; default: exact for one operation at full
        precision (``lanes * max|w| * max|a|``) plus ``GUARD_BITS`` (8), so groups of up to
        256 operations never wrap.

    Members
    -------
    i : ``In(stream.Signature(i_layout))``
        Operations. Payload fields, first in the low bits: ``w`` (``lanes`` weights, lane 0
        lowest), ``a`` (``lanes`` activations, lane 0 lowest), ``bits`` (planes to accumulate,
        ``bits_width`` bits; 0 reads as 1 and values above ``weight_bits`` as
        ``weight_bits``), ``last`` (closes the group).
    o : ``Out(stream.Signature(signed(acc_bits)))``
        Group results (``unsigned(acc_bits)`` when not ``signed``).

    Attributes
    ----------
    latency : int
        Rising edges from the input transfer of a group's last operation to its result being
        valid on ``o``, beyond that operation's ``bits`` serial cycles: the result is valid
        ``bits + latency`` edges after the transfer (1).
    acc_bits, bits_width, module_name, i_layout

    Raises
    ------
    TypeError
        A parameter is not an integer (``signed`` not a bool).
    ValueError
        A parameter is out of range (the message names the value and the allowed range).
    """

    def __init__(self, lanes: int = 8, weight_bits: int = 8, act_bits: int = 8,
                 signed: bool = True, acc_bits: int | None = None, *,
                 target_mhz: float | None = None, device: "str | None" = None) -> None:
        if not isinstance(signed, bool):
            raise TypeError(f"Signedness must be a bool, not {signed!r}")
        lo = 2 if signed else 1
        extra = " for signed operands" if signed else ""
        self._lanes = check_int("Lane count", lanes, 1, MAX_LANES)
        self._weight_bits = check_int("Weight width", weight_bits, lo, MAX_WEIGHT_BITS, extra)
        self._act_bits = check_int("Activation width", act_bits, lo, MAX_ACT_BITS, extra)
        self._signed = signed
        if signed:
            wmin, wmax = -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1
            amin, amax = -(1 << (act_bits - 1)), (1 << (act_bits - 1)) - 1
            prods = [x * y for x in (wmin, wmax) for y in (amin, amax)]
            exact = signed_width(lanes * min(prods), lanes * max(prods))
        else:
            exact = max(1, (lanes * ((1 << weight_bits) - 1) * ((1 << act_bits) - 1))
                        .bit_length())
        default_acc = min(exact + GUARD_BITS, MAX_ACC_BITS)
        if acc_bits is None:
            acc_bits = default_acc
        self._acc_bits = check_int("Accumulator width", acc_bits, 2 if signed else 1,
                                    MAX_ACC_BITS)
        self._explicit_acc = acc_bits != default_acc
        shape = sgn if signed else unsigned
        self._bits_width = weight_bits.bit_length()
        self.i_layout = data.StructLayout({
            "w": data.ArrayLayout(shape(weight_bits), lanes),
            "a": data.ArrayLayout(shape(act_bits), lanes),
            "bits": unsigned(self._bits_width),
            "last": unsigned(1),
        })
        super().__init__({
            "i": In(stream.Signature(self.i_layout)),
            "o": Out(stream.Signature(shape(self._acc_bits))),
        })
        self._request(target_mhz, device)

    def stage_logic(self, model: DelayModel) -> list[tuple[str, float]]:
        """Its two stages for the delay model (``target_mhz=``, :mod:`hwgen.timing.fixed`):
        the plane sum (an adder tree over the lanes, the top plane's negation) and the
        accumulation loop (shift and add)."""
        K, AB = self._lanes, self._act_bits
        levels = max(K - 1, 1).bit_length()
        tree = sum(model.adder(AB + lv) for lv in range(levels)) + model.mux(2)
        return [("plane sum", tree + model.adder(AB + levels + 1)),
                ("accumulation loop",
                 model.shifter(self._acc_bits, self._weight_bits) +
                 model.adder(self._acc_bits) + model.mux(2))]

    lanes = property(lambda self: self._lanes)
    weight_bits = property(lambda self: self._weight_bits)
    act_bits = property(lambda self: self._act_bits)
    signed = property(lambda self: self._signed)
    acc_bits = property(lambda self: self._acc_bits)
    bits_width = property(lambda self: self._bits_width)
    latency = 1
    clocked = True

    @property
    def module_name(self) -> str:
        name = (f"bsmac_k{self._lanes}_w{self._weight_bits}_a{self._act_bits}_"
                f"{'s' if self._signed else 'u'}")
        return name + (f"_acc{self._acc_bits}" if self._explicit_acc else "")

    def elaborate(self, platform):
        m = Module()
        K, WB, AB = self._lanes, self._weight_bits, self._act_bits
        shape = sgn if self._signed else unsigned

        # -- serializer: weight shift registers, activation registers, plane counter
        wsh = [Signal(WB, name=f"wsh{j}") for j in range(K)]
        areg = [Signal(shape(AB), name=f"a{j}") for j in range(K)]
        busy = Signal()
        remaining = Signal(range(WB + 1))       # planes still to emit
        pshift = Signal(range(WB))              # weight exponent of the next plane
        glast = Signal()                        # the operation closes its group

        # -- plane stage: registered, scaled plane sum
        psum_w = signed_width(-K * (1 << AB), K * (1 << AB))
        p_valid = Signal()
        p_sum = Signal(sgn(psum_w))
        p_shift = Signal(range(WB))
        p_out = Signal()                        # the group ends with this plane

        # -- accumulator and output register
        acc = Signal(shape(self._acc_bits))
        fresh = Signal(init=1)                  # acc holds nothing of the current group
        o_valid = Signal()
        o_payload = Signal(shape(self._acc_bits))
        m.d.comb += [self.o.valid.eq(o_valid), self.o.payload.eq(o_payload)]

        # Stall only when a group result would overwrite an unread output.
        adv = Signal()
        m.d.comb += adv.eq(~(o_valid & ~self.o.ready & p_valid & p_out))

        final_plane = busy & (remaining == 1)
        m.d.comb += self.i.ready.eq(adv & (~busy | final_plane))

        plane_sum = adder_tree(Mux(wsh[j][WB - 1], areg[j], 0) for j in range(K))
        top_plane = pshift == WB - 1
        # two's complement: the top plane of a signed weight counts negative
        scaled = Mux(top_plane, -plane_sum, plane_sum) if self._signed else plane_sum

        with m.If(adv):
            # plane stage takes the current plane (or a bubble)
            m.d.sync += [p_valid.eq(busy), p_sum.eq(scaled), p_shift.eq(pshift),
                         p_out.eq(final_plane & glast)]
            with m.If(busy):
                m.d.sync += [remaining.eq(remaining - 1), pshift.eq(pshift - 1)]
                m.d.sync += [wsh[j].eq(wsh[j] << 1) for j in range(K)]
                with m.If(final_plane):
                    m.d.sync += busy.eq(0)
            with m.If(self.i.valid & self.i.ready):
                nbits = self.i.payload.bits
                eff = Mux(nbits == 0, 1, Mux(nbits > WB, WB, nbits))
                m.d.sync += [busy.eq(1), remaining.eq(eff), pshift.eq(WB - 1),
                             glast.eq(self.i.payload.last)]
                m.d.sync += [wsh[j].eq(self.i.payload.w[j].as_unsigned()) for j in range(K)]
                m.d.sync += [areg[j].eq(self.i.payload.a[j]) for j in range(K)]

            # accumulator stage
            acc_next = Signal(shape(self._acc_bits))
            m.d.comb += acc_next.eq(Mux(fresh, 0, acc) + (p_sum << p_shift))
            with m.If(p_valid):
                m.d.sync += [acc.eq(acc_next), fresh.eq(p_out)]
            with m.If(p_valid & p_out):
                m.d.sync += [o_valid.eq(1), o_payload.eq(acc_next)]
            with m.Elif(self.o.ready):
                m.d.sync += o_valid.eq(0)
        return m

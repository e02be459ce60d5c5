"""Integer-only requantization unit (TFLite/gemmlowp): int32 accumulator + bias → int8/uint8
(or any width up to 16). Golden model: :func:`hwgen.golden.requant.requantize`."""


from amaranth.hdl import Const, Module, Mux, Shape, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.requant import INT32_MAX, INT32_MIN, check_requant_widths
from ..timing import DelayModel
from ..timing.fixed import FixedPipeline

__all__ = ["Requantize", "RegisterWriteSignature"]

#: Width of the signed ``shift`` field: -32..31, positive = left shift (TFLite convention).
SHIFT_BITS = 6
#: Largest per-channel register file.
MAX_CHANNELS = 256


class RegisterWriteSignature(wiring.Signature):
    """A write port into the per-channel register file of :class:`Requantize`.

    Always accepted: in a clock where ``en`` is high, entry ``addr`` takes ``multiplier`` and
    ``shift``. Writes to ``addr >= channels`` are ignored.

    Parameters
    ----------
    channels : int
        Number of register-file entries.

    Members
    -------
    en : ``Out(1)``
    addr : ``Out(range(channels))``
    multiplier : ``Out(signed(32))``
    shift : ``Out(signed(6))``
    """

    def __init__(self, channels: int) -> None:
        self._channels = channels
        super().__init__({
            "en": Out(1),
            "addr": Out(_index_bits(channels)),
            "multiplier": Out(signed(32)),
            "shift": Out(signed(SHIFT_BITS)),
        })

    channels = property(lambda self: self._channels)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._channels == self._channels

    def __repr__(self) -> str:
        return f"RegisterWriteSignature({self._channels})"


def _index_bits(n):
    return max(1, (n - 1).bit_length())


class Requantize(FixedPipeline, wiring.Component):
    """Rescales accumulators to narrow outputs with integer arithmetic only.

    For each input item ``(acc, bias[, ch])`` (``acc`` and ``bias`` sign-extended to 32 bits)::

        x = acc + bias                               int32, wraps
        x = x << max(shift, 0)                       int32, wraps
        y = SaturatingRoundingDoublingHighMul(x, multiplier)
        z = RoundingDivideByPOT(y, max(-shift, 0))   round to nearest, ties away from zero
        o = min(max(z + zero_point, act_min), act_max)

    bit-exact with :func:`hwgen.golden.requant.requantize` (``multiplier``/``shift`` from
    :func:`~hwgen.golden.requant.quantize_multiplier`; ``act_min``/``act_max`` from
    :func:`~hwgen.golden.requant.activation_range`, which is how none/ReLU/ReLU6 are
    selected, at run time).

    **Configuration.** Per tensor (``per_channel=None``): ``multiplier`` and ``shift`` are
    input ports. Per channel (``per_channel=N``): they live in an N-entry register file
    written through the ``wr`` port (:class:`RegisterWriteSignature`; reset clears every
    entry to 0), and each input item names its entry in the ``ch`` payload field. An index
    ``>= N`` reads multiplier 0 and shift 0 (the output is then the clamped zero point).
    ``zero_point``, ``act_min`` and ``act_max`` are per-tensor input ports in both modes.
    Every configuration value, from a port or the register file, is sampled in the clock in
    which the item is transferred on ``i`` and travels down the pipeline with it: a port
    may change on any clock, and a register write in clock t applies to items transferred
    after clock t.

    **Timing.** Four pipeline stages; the result of an item is valid on ``o`` ``latency``
    clocks after its transfer. One item per clock while ``o`` is ready; while the output
    register holds a result that is not taken, the whole pipeline holds (``i.ready`` =
    ``~o.valid | o.ready``, a combinational path from ``o.ready``). No item is lost or
    duplicated under any stall pattern.

    Parameters
    ----------
    acc_bits : int
        Width of ``acc`` and ``bias`` (2..32), sign-extended to int32.
    out_bits : int
        Output width (2..16).
    signed_out : bool
        ``int8``-style (``True``) or ``uint8``-style (``False``) output.
    per_channel : int or None
        ``None`` for per-tensor ports, or the number of register-file entries (1..256).

    Members
    -------
    i : ``In(stream.Signature(StructLayout({"acc", "bias"[, "ch"]})))``
        In Verilog ``i__payload`` holds ``acc`` in the low bits, then ``bias``, then ``ch``.
    o : ``Out(stream.Signature(signed(out_bits)))`` (``unsigned`` if not ``signed_out``)
    multiplier : ``In(signed(32))``, per tensor only
    shift : ``In(signed(6))``, per tensor only; -32..31, positive shifts left
    wr : ``In(RegisterWriteSignature(per_channel))``, per channel only
    zero_point : ``In(signed(out_bits + 1))``
    act_min, act_max : ``In(out shape)``

    Attributes
    ----------
    latency : int
    module_name : str
        ``requant_a32_s8`` (``u8`` for unsigned output; ``_pcN`` per channel).

    Raises
    ------
    TypeError
        A width or the channel count is not an integer.
    ValueError
        A width or the channel count is out of range.
    """

    LATENCY = 4

    def __init__(self, acc_bits: int = 32, out_bits: int = 8, signed_out: bool = True,
                 per_channel: int | None = None, *, target_mhz: float | None = None,
                 device: "str | None" = None) -> None:
        if not isinstance(acc_bits, int) or isinstance(acc_bits, bool):
            raise TypeError(f"Accumulator width must be an integer, not {acc_bits!r}")
        if not 2 <= acc_bits <= 32:
            raise ValueError(f"Accumulator width must be between 2 and 32, not {acc_bits!r}")
        out_bits = check_requant_widths(out_bits, signed_out)
        if per_channel is not None:
            if not isinstance(per_channel, int) or isinstance(per_channel, bool):
                raise TypeError(f"Channel count must be an integer or None, not "
                                f"{per_channel!r}")
            if not 1 <= per_channel <= MAX_CHANNELS:
                raise ValueError(f"Channel count must be between 1 and {MAX_CHANNELS}, "
                                 f"not {per_channel!r}")
        self._acc_bits = acc_bits
        self._out_bits = out_bits
        self._signed_out = bool(signed_out)
        self._per_channel = per_channel
        fields = {"acc": signed(acc_bits), "bias": signed(acc_bits)}
        if per_channel is not None:
            fields["ch"] = unsigned(self.channel_bits)
        self._in_layout = data.StructLayout(fields)
        out_shape = Shape(out_bits, signed=self._signed_out)
        members = {
            "i": In(stream.Signature(self._in_layout)),
            "o": Out(stream.Signature(out_shape)),
        }
        if per_channel is None:
            members["multiplier"] = In(signed(32))
            members["shift"] = In(signed(SHIFT_BITS))
        else:
            members["wr"] = In(RegisterWriteSignature(per_channel))
        members["zero_point"] = In(signed(out_bits + 1))
        members["act_min"] = In(out_shape)
        members["act_max"] = In(out_shape, init=(1 << (out_bits - self._signed_out)) - 1)
        super().__init__(members)
        self._request(target_mhz, device)

    def stage_logic(self, model: DelayModel) -> list[tuple[str, float]]:
        """Its four stages for the delay model (``target_mhz=``, :mod:`hwgen.timing.fixed`)."""
        ob = self._out_bits
        return [("bias add and left shift", model.adder(32) + model.shifter(32, 31)),
                ("32x32 product", model.multiplier(32, 32)),
                ("rounding doubling high multiply", model.adder(64) + model.comparator(32) +
                 model.mux(2)),
                ("divide, zero point and clamp", model.shifter(32, 32) + model.adder(32) +
                 model.adder(ob + 1) + 2 * model.comparator(ob + 1) + model.mux(3))]

    acc_bits = property(lambda self: self._acc_bits)
    out_bits = property(lambda self: self._out_bits)
    signed_out = property(lambda self: self._signed_out)
    per_channel = property(lambda self: self._per_channel)
    latency = property(lambda self: self.LATENCY)
    input_layout = property(lambda self: self._in_layout)
    shift_bits = SHIFT_BITS

    @property
    def channel_bits(self) -> int:
        """Width of the ``ch`` field (per channel), else 0."""
        return 0 if self._per_channel is None else _index_bits(self._per_channel)

    @property
    def zero_point_range(self) -> tuple[int, int]:
        """``(min, max)`` of the ``zero_point`` port."""
        return -(1 << self._out_bits), (1 << self._out_bits) - 1

    @property
    def out_range(self) -> tuple[int, int]:
        """``(min, max)`` of the output codes."""
        n = self._out_bits
        return (-(1 << (n - 1)), (1 << (n - 1)) - 1) if self._signed_out else (0, (1 << n) - 1)

    @property
    def module_name(self) -> str:
        pc = "" if self._per_channel is None else f"_pc{self._per_channel}"
        return (f"requant_a{self._acc_bits}_{'s' if self._signed_out else 'u'}"
                f"{self._out_bits}{pc}")

    def __repr__(self) -> str:
        if not hasattr(self, "_per_channel"):  # __init__ raised
            return "Requantize(...)"
        return (f"Requantize(acc_bits={self._acc_bits}, out_bits={self._out_bits}, "
                f"signed_out={self._signed_out}, per_channel={self._per_channel})")

    def elaborate(self, platform):
        m = Module()
        out_shape = Shape(self._out_bits, signed=self._signed_out)
        zp_shape = signed(self._out_bits + 1)

        # -- configuration of the item being accepted ---------------------------------------
        mult_in = Signal(signed(32))
        shift_in = Signal(signed(SHIFT_BITS))
        if self._per_channel is None:
            m.d.comb += [mult_in.eq(self.multiplier), shift_in.eq(self.shift)]
        else:
            n = self._per_channel
            mults = [Signal(signed(32), name=f"mult_{k}") for k in range(n)]
            shifts = [Signal(signed(SHIFT_BITS), name=f"shift_{k}") for k in range(n)]
            with m.If(self.wr.en):
                with m.Switch(self.wr.addr):
                    for k in range(n):
                        with m.Case(k):
                            m.d.sync += [mults[k].eq(self.wr.multiplier),
                                         shifts[k].eq(self.wr.shift)]
            # Out-of-range indices match no case: multiplier 0, shift 0.
            with m.Switch(self.i.payload.ch):
                for k in range(n):
                    with m.Case(k):
                        m.d.comb += [mult_in.eq(mults[k]), shift_in.eq(shifts[k])]

        # The whole pipeline moves together unless the output register is full and not taken.
        advance = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(advance)

        # -- stage 1: bias add and left shift (int32 wrap-around) ----------------------------
        v1 = Signal()
        x1 = Signal(signed(32))
        m1 = Signal(signed(32))
        rs1 = Signal(range(33))
        zp1, lo1, hi1 = Signal(zp_shape), Signal(out_shape), Signal(out_shape)
        total = Signal(signed(32))
        left = Signal(range(32))
        m.d.comb += [
            total.eq(self.i.payload.acc + self.i.payload.bias),
            left.eq(Mux(shift_in > 0, shift_in, 0)),
        ]
        # -- stage 2: the 32x32 product ------------------------------------------------------
        v2 = Signal()
        prod2 = Signal(signed(64))
        sat2 = Signal()
        rs2 = Signal(range(33))
        zp2, lo2, hi2 = Signal(zp_shape), Signal(out_shape), Signal(out_shape)
        # -- stage 3: SaturatingRoundingDoublingHighMul --------------------------------------
        v3 = Signal()
        y3 = Signal(signed(32))
        rs3 = Signal(range(33))
        zp3, lo3, hi3 = Signal(zp_shape), Signal(out_shape), Signal(out_shape)

        # gemmlowp adds 2**30 (or 1 - 2**30 when the product is negative) and truncates the
        # division by 2**31 toward zero; both cases equal floor((ab + 2**30) / 2**31), an
        # arithmetic shift. Only INT32_MIN * INT32_MIN does not fit, and saturates.
        high = Signal(signed(34))
        m.d.comb += high.eq((prod2 + (1 << 30)) >> 31)

        # -- stage 4 (output register): RoundingDivideByPOT, zero point, clamp ---------------
        mask = Signal(33)
        remainder = Signal(33)
        threshold = Signal(33)
        quotient = Signal(signed(32))
        rounded = Signal(signed(33))
        with_zp = Signal(signed(34))
        low_clamped = Signal(signed(34))
        m.d.comb += [
            mask.eq((Const(1, 34) << rs3) - 1),
            remainder.eq(y3.as_unsigned() & mask),
            threshold.eq((mask >> 1) + (y3 < 0)),
            quotient.eq(y3 >> rs3),
            rounded.eq(quotient + (remainder > threshold)),
            with_zp.eq(rounded + zp3),
            low_clamped.eq(Mux(with_zp < lo3, lo3, with_zp)),
        ]

        with m.If(advance):
            m.d.sync += [
                v1.eq(self.i.valid),
                x1.eq(total << left),
                m1.eq(mult_in),
                rs1.eq(Mux(shift_in < 0, -shift_in, 0)),
                zp1.eq(self.zero_point), lo1.eq(self.act_min), hi1.eq(self.act_max),

                v2.eq(v1),
                prod2.eq(x1 * m1),
                sat2.eq((x1 == INT32_MIN) & (m1 == INT32_MIN)),
                rs2.eq(rs1), zp2.eq(zp1), lo2.eq(lo1), hi2.eq(hi1),

                v3.eq(v2),
                y3.eq(Mux(sat2, INT32_MAX, high)),
                rs3.eq(rs2), zp3.eq(zp2), lo3.eq(lo2), hi3.eq(hi2),

                self.o.valid.eq(v3),
                self.o.payload.eq(Mux(low_clamped > hi3, hi3, low_clamped)),
            ]
        return m

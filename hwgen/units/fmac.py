"""Float multiply-accumulate unit with narrow (``rounded``), ``fused`` or ``exact`` accumulation.

The golden model is :func:`hwgen.golden.fmac.mac_stream`; the cocotb test is
``rtl_tests/test_fmac.py``.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..golden.fmac import ACCUMULATE_MODES, exact_acc_bits
from .fadd import FloatAdder
from .floatraw import check_float_format, check_rounding, unpack
from .fmul import FloatMultiplier
from .rounder import FloatRounder

__all__ = ["FloatMac"]


class FloatMac(wiring.Component):
    """Dot products of a stream of ``(a, b)`` pairs, one MAC per clock.

    Parameters
    ----------
    mul_fmt : FloatFormat or str
        Format of ``a`` (and ``b`` unless ``b_fmt`` is given).
    acc_fmt : FloatFormat or str or None
        Accumulator format for ``rounded``/``fused`` (default ``mul_fmt``); for ``exact`` it is
        the default read-out format.
    out_fmt : FloatFormat or str or None
        Read-out format (``exact`` only; default ``acc_fmt``).
    accumulate : str
        ``"rounded"``: the product is rounded into ``acc_fmt``, then the sum is rounded
        (Hill et al.); ``"fused"``: one FMA per step; ``"exact"``: a Kulisch accumulator of
        :attr:`acc_bits` bits, rounded once on read-out.
    max_terms : int
        ``exact`` only: the accumulator holds any sum of this many products exactly.
    rounding : str
        ``rne rtz rdn rup rna`` or ``"dynamic"`` (adds ``rm``; hold it constant while a dot
        product is in flight).

    Members
    -------
    i : In(stream.Signature(StructLayout({"a", "b", "last"})))
        Input pairs. In Verilog ``i__payload`` is ``{last, b, a}`` (``a`` in the low bits),
        with ``i__valid``/``i__ready``.
    o : Out(stream.Signature(StructLayout({"y", "flags"})))
        One result per ``last``: ``o__payload`` is ``{flags, y}`` (``y`` in the low bits);
        flags bit 0 inexact, 1 underflow, 2 overflow, 3 invalid, ORed over every rounding of
        the dot product.
    rm : In(3)
        Only with ``rounding="dynamic"`` (RISC-V ``frm``).

    Clear semantics: the accumulator starts at ``+0`` after reset and returns to ``+0`` after
    every ``last`` (the pair carrying ``last`` is part of the dot product it closes). There is
    no other way to clear it.

    Back-pressure: while a result waits on ``o`` with ``o.ready`` low, the whole unit stalls
    (``i.ready`` is low); no pair is lost or counted twice under any stall pattern.
    """

    def __init__(self, mul_fmt="e4m3", *, acc_fmt=None, out_fmt=None, accumulate="rounded",
                 max_terms=1024, rounding="rne", b_fmt=None):
        self._mul_fmt = check_float_format(mul_fmt, "Multiplier format")
        self._b_fmt = self._mul_fmt if b_fmt is None else check_float_format(b_fmt, "B format")
        self._acc_fmt = self._mul_fmt if acc_fmt is None else check_float_format(
            acc_fmt, "Accumulator format")
        if accumulate not in ACCUMULATE_MODES:
            raise ValueError(f"Accumulation must be one of {', '.join(ACCUMULATE_MODES)}, "
                             f"not {accumulate!r}")
        self._accumulate = accumulate
        self._rounding = check_rounding(rounding)
        if accumulate == "exact":
            self._out_fmt = self._acc_fmt if out_fmt is None else check_float_format(
                out_fmt, "Output format")
            if not isinstance(max_terms, int) or isinstance(max_terms, bool) or \
                    not 1 <= max_terms <= (1 << 24):
                raise ValueError(f"Maximum number of terms must be an integer from 1 to "
                                 f"{1 << 24}, not {max_terms!r}")
            self._acc_bits, self._lsb = exact_acc_bits(self._mul_fmt, max_terms, self._b_fmt)
        else:
            if out_fmt is not None and check_float_format(out_fmt, "Output format") \
                    != self._acc_fmt:
                raise ValueError(f"Output format must equal the accumulator format with "
                                 f"accumulate={accumulate!r}, not {out_fmt!r}")
            self._out_fmt = self._acc_fmt
            self._acc_bits, self._lsb = self._acc_fmt.width, None
        self._max_terms = max_terms
        in_layout = data.StructLayout({"a": self._mul_fmt.width, "b": self._b_fmt.width,
                                       "last": 1})
        out_layout = data.StructLayout({"y": self._out_fmt.width, "flags": 4})
        ports = {"i": In(stream.Signature(in_layout)), "o": Out(stream.Signature(out_layout))}
        if self._rounding == "dynamic":
            ports["rm"] = In(3)
        super().__init__(ports)

    mul_fmt = property(lambda self: self._mul_fmt)
    b_fmt = property(lambda self: self._b_fmt)
    acc_fmt = property(lambda self: self._acc_fmt)
    out_fmt = property(lambda self: self._out_fmt)
    accumulate = property(lambda self: self._accumulate)
    rounding = property(lambda self: self._rounding)
    max_terms = property(lambda self: self._max_terms)
    clocked = True

    @property
    def acc_bits(self):
        """Accumulator width: the Kulisch register for ``exact``, else ``acc_fmt.width``."""
        return self._acc_bits

    @property
    def acc_lsb_exp(self):
        """``exact`` only: the accumulator counts units of ``2**acc_lsb_exp``."""
        return self._lsb

    @property
    def latency(self):
        """Cycles from the transfer of a ``last`` pair to its result on ``o`` (no stalls)."""
        return 3 if self._accumulate in ("rounded", "exact") else 2

    @property
    def module_name(self):
        parts = ["fmac", self._mul_fmt.name]
        if self._b_fmt != self._mul_fmt:
            parts.append(self._b_fmt.name)
        if self._accumulate == "exact":
            parts += ["exact", self._out_fmt.name, f"t{self._max_terms}"]
        else:
            parts += [self._acc_fmt.name, self._accumulate]
        parts.append("dyn" if self._rounding == "dynamic" else self._rounding)
        return "_".join(parts)

    def elaborate(self, platform):
        m = Module()
        en = Signal()            # the whole pipeline advances together
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en)]

        # Stage 1: input register.
        s1 = Signal(self.i.payload.shape(), name="s1")
        s1_valid = Signal()
        with m.If(en):
            m.d.sync += [s1.eq(self.i.payload), s1_valid.eq(self.i.valid)]

        emit = Signal()
        if self._accumulate == "rounded":
            self._rounded(m, en, s1, s1_valid, emit)
        elif self._accumulate == "fused":
            self._fused(m, en, s1, s1_valid, emit)
        else:
            self._exact(m, en, s1, s1_valid, emit)
        return m

    def _output(self, m, en, emit, y, flags):
        with m.If(en):
            m.d.sync += self.o.valid.eq(emit)
            with m.If(emit):
                m.d.sync += [self.o.payload.y.eq(y), self.o.payload.flags.eq(flags)]

    def _rounded(self, m, en, s1, s1_valid, emit):
        m.submodules.mul = mul = FloatMultiplier(self._mul_fmt, b_fmt=self._b_fmt,
                                                 out_fmt=self._acc_fmt,
                                                 rounding=self._rounding)
        m.submodules.add = add = FloatAdder(self._acc_fmt, rounding=self._rounding)
        if self._rounding == "dynamic":
            m.d.comb += [mul.rm.eq(self.rm), add.rm.eq(self.rm)]
        m.d.comb += [mul.a.eq(s1.a), mul.b.eq(s1.b)]
        # Stage 2: the product, rounded into the accumulator format.
        p = Signal(self._acc_fmt.width)
        p_flags = Signal(4)
        p_last = Signal()
        p_valid = Signal()
        with m.If(en):
            m.d.sync += [p.eq(mul.y), p_flags.eq(mul.flags), p_last.eq(s1.last),
                         p_valid.eq(s1_valid)]
        # Stage 3: the running sum, rounded.
        acc = Signal(self._acc_fmt.width)
        acc_flags = Signal(4)
        m.d.comb += [add.a.eq(acc), add.b.eq(p)]
        step_flags = p_flags | add.flags
        with m.If(en & p_valid):
            with m.If(p_last):
                m.d.sync += [acc.eq(0), acc_flags.eq(0)]
            with m.Else():
                m.d.sync += [acc.eq(add.y), acc_flags.eq(acc_flags | step_flags)]
        m.d.comb += emit.eq(p_valid & p_last)
        self._output(m, en, emit, add.y, acc_flags | step_flags)

    def _fused(self, m, en, s1, s1_valid, emit):
        from .ffma import FloatFMA
        m.submodules.fma = fma = FloatFMA(self._mul_fmt, b_fmt=self._b_fmt, c_fmt=self._acc_fmt,
                                          out_fmt=self._acc_fmt, rounding=self._rounding)
        if self._rounding == "dynamic":
            m.d.comb += fma.rm.eq(self.rm)
        acc = Signal(self._acc_fmt.width)
        acc_flags = Signal(4)
        m.d.comb += [fma.a.eq(s1.a), fma.b.eq(s1.b), fma.c.eq(acc)]
        with m.If(en & s1_valid):
            with m.If(s1.last):
                m.d.sync += [acc.eq(0), acc_flags.eq(0)]
            with m.Else():
                m.d.sync += [acc.eq(fma.y), acc_flags.eq(acc_flags | fma.flags)]
        m.d.comb += emit.eq(s1_valid & s1.last)
        self._output(m, en, emit, fma.y, acc_flags | fma.flags)

    def _exact(self, m, en, s1, s1_valid, emit):
        fa, fb = self._mul_fmt, self._b_fmt
        W, lsb = self._acc_bits, self._lsb
        ra = unpack(m, fa, s1.a, name="ra")
        rb = unpack(m, fb, s1.b, name="rb")
        # Stage 2: the exact product, shifted to its place in the accumulator, and its class.
        prod = Signal(W, name="prod")
        p_neg = Signal()
        p_nan = Signal()
        p_inf = Signal()
        p_invalid = Signal()
        p_last = Signal()
        p_valid = Signal()
        shift = Signal(range(0, W + 1))
        m.d.comb += shift.eq(ra.exp + rb.exp - lsb)
        invalid = (ra.inf & rb.zero) | (rb.inf & ra.zero) | ra.snan | rb.snan
        special = ra.nan | rb.nan | ra.inf | rb.inf
        with m.If(en):
            m.d.sync += [
                prod.eq(Mux(special, 0, (ra.sig * rb.sig) << shift)),
                p_neg.eq(ra.sign ^ rb.sign),
                p_nan.eq(ra.nan | rb.nan | invalid),
                p_inf.eq((ra.inf | rb.inf) & ~(ra.nan | rb.nan | invalid)),
                p_invalid.eq(invalid),
                p_last.eq(s1.last), p_valid.eq(s1_valid),
            ]
        # Stage 3: the Kulisch accumulator (two's complement, wraps beyond max_terms).
        acc = Signal(signed(W), name="acc")
        any_nan = Signal()
        pos_inf = Signal()
        neg_inf = Signal()
        any_invalid = Signal()
        total = Signal(signed(W), name="total")
        m.d.comb += total.eq(Mux(p_neg, acc - prod, acc + prod))
        t_nan = any_nan | p_nan
        t_pos = pos_inf | (p_inf & ~p_neg)
        t_neg = neg_inf | (p_inf & p_neg)
        t_inv = any_invalid | p_invalid
        with m.If(en & p_valid):
            with m.If(p_last):
                m.d.sync += [acc.eq(0), any_nan.eq(0), pos_inf.eq(0), neg_inf.eq(0),
                             any_invalid.eq(0)]
            with m.Else():
                m.d.sync += [acc.eq(total), any_nan.eq(t_nan), pos_inf.eq(t_pos),
                             neg_inf.eq(t_neg), any_invalid.eq(t_inv)]
        # Stage 4 (the output register) holds the final sum; the rounder reads it out.
        o_sum = Signal(signed(W), name="o_sum")
        o_nan = Signal()
        o_pos = Signal()
        o_neg = Signal()
        o_inv = Signal()
        m.d.comb += emit.eq(p_valid & p_last)
        with m.If(en):
            m.d.sync += self.o.valid.eq(emit)
            with m.If(emit):
                m.d.sync += [o_sum.eq(total), o_nan.eq(t_nan), o_pos.eq(t_pos),
                             o_neg.eq(t_neg), o_inv.eq(t_inv)]
        m.submodules.rounder = rnd = FloatRounder(self._out_fmt, sig_width=W,
                                                  exp_range=(lsb, lsb),
                                                  rounding=self._rounding)
        if self._rounding == "dynamic":
            m.d.comb += rnd.rm.eq(self.rm)
        res_nan = o_nan | (o_pos & o_neg)
        res_inf = (o_pos | o_neg) & ~res_nan
        mag = Signal(W)
        m.d.comb += [
            mag.eq(Mux(o_sum < 0, -o_sum, o_sum)),
            rnd.sign.eq(Mux(res_inf, o_neg, o_sum < 0)),
            rnd.exp.eq(lsb), rnd.sig.eq(mag),
            rnd.nan.eq(res_nan), rnd.inf.eq(res_inf), rnd.invalid.eq(o_inv),
            self.o.payload.y.eq(rnd.y), self.o.payload.flags.eq(rnd.flags),
        ]

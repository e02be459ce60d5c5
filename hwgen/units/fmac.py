"""Float multiply-accumulate unit with narrow (``rounded``), ``fused`` or ``exact`` accumulation.

The golden model is :func:`hwgen.golden.fmac.mac_stream`; the cocotb test is
``rtl_tests/test_fmac.py``.
"""

from dataclasses import dataclass

from amaranth.hdl import EnableInserter, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..elaboratables import not_built, refused_quietly
from ..formats import FloatFormat
from ..golden.fmac import ACCUMULATE_MODES, exact_acc_bits
from ..timing.fixed import StagePlan
from .fadd import FloatAdder
from .floatraw import check_float_format, check_rounding, unpack
from .fmul import FloatMultiplier
from .intcommon import delay
from .rounder import FloatRounder

__all__ = ["FloatMac", "MacPlan", "EXACT_PRODUCT_CUTS", "EXACT_READOUT_CUTS"]

#: The exact MAC's product-path registers by ``mul_latency``: ``"product"`` sits between the
#: significand product and its shift into the accumulator's place.
EXACT_PRODUCT_CUTS = {0: (), 1: ("product",)}

#: The exact MAC's read-out registers by ``out_latency``: ``"negated"`` after the sum's
#: magnitude and sign, the rest the rounder's (:class:`~hwgen.units.rounder.FloatRounder`).
EXACT_READOUT_CUTS = {0: (), 1: ("norm",), 2: ("negated", "norm"),
                      3: ("negated", "norm", "round")}


@dataclass(frozen=True)
class MacPlan(StagePlan):
    """What ``FloatMac(target_mhz=F, device=D)`` chose and estimated (a
    :class:`~hwgen.timing.fixed.StagePlan`; ``latency`` is the unit's).

    Attributes
    ----------
    mul_latency : int
        Registers added to the product path (the MAC's loop is never cut: one MAC per clock).
    out_latency : int
        Registers added to the exact read-out (0 for the other accumulations).
    """
    mul_latency: int
    out_latency: int

    def summary(self) -> str:
        out = f", read-out latency {self.out_latency}" if self.out_latency else ""
        return (f"product path latency {self.mul_latency}{out} (unit latency {self.latency}) "
                f"for {self.target_mhz:g} MHz on {self.device}; stages {self.stage_text()} "
                f"ns, estimated {self.fmax_mhz:.1f} MHz")


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

    Pipelining: the accumulation is a loop (each step reads the previous sum), so it is never
    cut and the unit always takes one pair per clock; what can be cut is the product path
    before it. ``mul_latency=N`` adds ``N`` registers there (``rounded``: the multiplier's
    fixed cut table, :data:`hwgen.units.floatop.CUTS`; ``exact``: :data:`EXACT_PRODUCT_CUTS`;
    ``fused`` has none: its product is inside the loop's FMA). ``target_mhz=F`` with
    ``device=D`` plans it instead: the fewest product-path registers whose stages the delay
    model estimates to fit ``F`` MHz, after checking that the loop (and the exact read-out)
    fits at all (:attr:`plan`, a :class:`MacPlan`); an unreachable request raises
    ``ValueError`` naming the loop's estimate. The exact read-out (the one rounding, after the
    loop) is cut too: ``out_latency=N`` (:data:`EXACT_READOUT_CUTS`) or planned. Results never
    change; :attr:`latency` grows by the registers added.

    Clear semantics: the accumulator starts at ``+0`` after reset and returns to ``+0`` after
    every ``last`` (the pair carrying ``last`` is part of the dot product it closes). There is
    no other way to clear it.

    Back-pressure: while a result waits on ``o`` with ``o.ready`` low, the whole unit stalls
    (``i.ready`` is low); no pair is lost or counted twice under any stall pattern.
    """

    def __init__(self, mul_fmt: FloatFormat | str = "e4m3", *,
                 acc_fmt: FloatFormat | str | None = None,
                 out_fmt: FloatFormat | str | None = None, accumulate: str = "rounded",
                 max_terms: int = 1024, rounding: str = "rne",
                 b_fmt: FloatFormat | str | None = None, mul_latency: int | None = None,
                 out_latency: int | None = None, target_mhz: float | None = None,
                 device: "str | None" = None) -> None:
        with refused_quietly(self):
            self._init(mul_fmt, acc_fmt, out_fmt, accumulate, max_terms, rounding, b_fmt,
                       mul_latency, out_latency, target_mhz, device)

    def _init(self, mul_fmt, acc_fmt, out_fmt, accumulate, max_terms, rounding, b_fmt,
              mul_latency, out_latency, target_mhz, device):
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
        self._plan = None
        self._target_mhz = None
        self._out_cuts = ()
        self._mul_cuts = self._choose_pipeline(mul_latency, out_latency, target_mhz, device)
        in_layout = data.StructLayout({"a": self._mul_fmt.width, "b": self._b_fmt.width,
                                       "last": 1})
        out_layout = data.StructLayout({"y": self._out_fmt.width, "flags": 4})
        ports = {"i": In(stream.Signature(in_layout)), "o": Out(stream.Signature(out_layout))}
        if self._rounding == "dynamic":
            ports["rm"] = In(3)
        super().__init__(ports)

    # -- pipeline ------------------------------------------------------------------------
    def _multiplier(self, **kw):
        mul = FloatMultiplier(self._mul_fmt, b_fmt=self._b_fmt, out_fmt=self._acc_fmt,
                              rounding=self._rounding, **kw)
        return mul

    def _readout_points(self):
        from .rounder import RounderGeometry
        geom = RounderGeometry(self._out_fmt, self._acc_bits, (self._lsb, self._lsb))
        return ("negated",) + geom.cut_points, geom

    def _choose_pipeline(self, mul_latency, out_latency, target_mhz, device):
        """The product path's cut points (names) from ``mul_latency`` or a plan; the exact
        read-out's go to ``self._out_cuts``."""
        from ..timing import check_device, check_target_mhz
        if device is not None and target_mhz is None:
            raise ValueError(f"Device is only used with target_mhz, not alone "
                             f"(device={device!r})")
        if out_latency is not None and self._accumulate != "exact":
            raise ValueError(f"out_latency cuts the exact read-out; a {self._accumulate} MAC "
                             f"has none")
        if target_mhz is not None:
            if mul_latency is not None or out_latency is not None:
                raise ValueError("Give mul_latency/out_latency or target_mhz, not both")
            target_mhz = check_target_mhz(target_mhz)
            if device is None:
                raise ValueError(f"A target of {target_mhz:g} MHz needs a device "
                                 f"(device=...)")
            self._target_mhz = target_mhz
            return self._plan_for(target_mhz, check_device(device))
        lat = 0 if mul_latency is None else mul_latency
        table = {"rounded": None, "exact": EXACT_PRODUCT_CUTS, "fused": {0: ()}}[
            self._accumulate]
        if table is None:
            mul = not_built(self._multiplier(latency=lat))     # checks the latency
            return tuple(mul.cuts)
        if isinstance(lat, bool) or not isinstance(lat, int) or lat not in table:
            raise ValueError(f"Product-path latency of a {self._accumulate} MAC must be one of "
                             f"{', '.join(map(str, table))}, not {lat!r}")
        if self._accumulate == "exact":
            out = 0 if out_latency is None else out_latency
            if isinstance(out, bool) or not isinstance(out, int) or \
                    out not in EXACT_READOUT_CUTS:
                raise ValueError(f"Read-out latency must be one of "
                                 f"{', '.join(map(str, EXACT_READOUT_CUTS))}, not {out!r}")
            self._out_cuts = EXACT_READOUT_CUTS[out]
        return table[lat]

    def _plan_for(self, target, device):
        from ..timing import Segment, delay_model, plan_pipeline
        model = delay_model(device)
        what = self._base_name()
        stages = []

        def need(name, ns):
            stages.append((name, ns))
            if 1000.0 / ns < target:
                raise ValueError(f"{what} cannot reach {target:g} MHz on {device}: its {name} "
                                 f"is estimated at {1000.0 / ns:.1f} MHz and is never "
                                 f"pipelined (one MAC per clock)")
        W = self._acc_bits
        if self._accumulate == "rounded":
            add = not_built(FloatAdder(self._acc_fmt, rounding=self._rounding))
            loop = sum(sg.delay for sg in add.segments(model)) + model.mux(2)
            need("accumulation loop (rounded adder)", model.stage_ns(loop))
            mul = not_built(self._multiplier(target_mhz=target, device=device))
            stages[:0] = [(f"product {n}", ns) for n, ns in zip(mul.plan.stage_names,
                                                                mul.plan.stage_ns)]
            cuts = tuple(mul.cuts)
        elif self._accumulate == "fused":
            from .ffma import FloatFMA
            fma = not_built(FloatFMA(self._mul_fmt, b_fmt=self._b_fmt, c_fmt=self._acc_fmt,
                                     out_fmt=self._acc_fmt, rounding=self._rounding))
            loop = sum(sg.delay for sg in fma.segments(model)) + model.mux(2)
            need("accumulation loop (FMA)", model.stage_ns(loop))
            cuts = ()
        else:
            need("accumulation loop (Kulisch adder)",
                 model.stage_ns(model.adder(W) + model.mux(2)))
            _, geom = self._readout_points()
            out_plan = plan_pipeline([Segment("negate", model.adder(W), "negated")] +
                                     geom.segments(model), target, device,
                                     what=f"the read-out of {what}")
            self._out_cuts = tuple(out_plan.cuts)
            sa, sb = self._mul_fmt.man_bits + 1, self._b_fmt.man_bits + 1
            segs = [Segment("decode and multiply", model.lut_levels(2) +
                            model.multiplier(sa, sb), "product"),
                    Segment("align", model.shifter(W, W))]
            plan = plan_pipeline(segs, target, device, what=f"the product path of {what}")
            stages[:0] = list(zip(plan.stage_names, plan.stage_ns))
            stages += [(f"read-out {n}", ns) for n, ns in zip(out_plan.stage_names,
                                                              out_plan.stage_ns)]
            cuts = tuple(plan.cuts)
        n, r = len(cuts), len(self._out_cuts)
        self._plan = MacPlan(device, target, self._base_latency() + n + r, tuple(stages),
                             n, r)
        return cuts

    mul_latency = property(lambda self: len(self._mul_cuts),
                           doc="Registers added to the product path.")
    mul_cuts = property(lambda self: self._mul_cuts,
                        doc="The product path's cut points in use.")
    out_latency = property(lambda self: len(self._out_cuts),
                           doc="Registers added to the exact read-out.")
    out_cuts = property(lambda self: self._out_cuts,
                        doc="The exact read-out's cut points in use.")
    target_mhz = property(lambda self: self._target_mhz)

    @property
    def plan(self) -> MacPlan | None:
        """The :class:`MacPlan` of ``target_mhz=``, else ``None``."""
        return self._plan

    mul_fmt = property(lambda self: self._mul_fmt)
    b_fmt = property(lambda self: self._b_fmt)
    acc_fmt = property(lambda self: self._acc_fmt)
    out_fmt = property(lambda self: self._out_fmt)
    accumulate = property(lambda self: self._accumulate)
    rounding = property(lambda self: self._rounding)
    max_terms = property(lambda self: self._max_terms)
    clocked = True

    @property
    def acc_bits(self) -> int:
        """Accumulator width: the Kulisch register for ``exact``, else ``acc_fmt.width``."""
        return self._acc_bits

    @property
    def acc_lsb_exp(self) -> int | None:
        """``exact`` only: the accumulator counts units of ``2**acc_lsb_exp``."""
        return self._lsb

    def _base_latency(self):
        return 3 if self._accumulate in ("rounded", "exact") else 2

    @property
    def latency(self) -> int:
        """Cycles from the transfer of a ``last`` pair to its result on ``o`` (no stalls)."""
        return self._base_latency() + len(self._mul_cuts) + len(self._out_cuts)

    @property
    def module_name(self) -> str:
        """``fmac_<formats>_<accumulation>_<rounding>`` and, with a pipelined product path,
        ``_l<mul latency>`` (``rounded``: the multiplier's own suffix, ``_l<N>[_c<mask>]``;
        ``exact``: ``_l<mul latency>_<read-out latency>[_c<mask>]``, the mask of the read-out
        cuts when they are not :data:`EXACT_READOUT_CUTS`'s)."""
        name = self._base_name()
        if not self._mul_cuts and not self._out_cuts:
            return name
        if self._accumulate == "rounded":
            mul = not_built(self._multiplier(cuts=self._mul_cuts))
            return name + mul.module_name[len(mul._base_name()):]
        r = len(self._out_cuts)
        name += f"_l{len(self._mul_cuts)}_{r}"
        if tuple(self._out_cuts) != EXACT_READOUT_CUTS.get(r):
            points, _ = self._readout_points()
            name += f"_c{sum(1 << points.index(c) for c in self._out_cuts):x}"
        return name

    def _base_name(self):
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
        # The product path's and read-out's registers (intcommon.delay) advance with the unit.
        pipe = Module()
        if self._mul_cuts or self._out_cuts:
            m.submodules.pipe = EnableInserter(en)(pipe)
        else:
            not_built(pipe)             # no registers: nothing of it is used
        if self._accumulate == "rounded":
            self._rounded(m, en, pipe, s1, s1_valid, emit)
        elif self._accumulate == "fused":
            self._fused(m, en, s1, s1_valid, emit)
        else:
            self._exact(m, en, pipe, s1, s1_valid, emit)
        return m

    def _output(self, m, en, emit, y, flags):
        with m.If(en):
            m.d.sync += self.o.valid.eq(emit)
            with m.If(emit):
                m.d.sync += [self.o.payload.y.eq(y), self.o.payload.flags.eq(flags)]

    def _rounded(self, m, en, pipe, s1, s1_valid, emit):
        mul = self._multiplier(cuts=self._mul_cuts)
        # The multiplier's pipeline registers advance with the rest of the unit (a stalled
        # output holds every stage).
        m.submodules.mul = EnableInserter(en)(mul)
        m.submodules.add = add = FloatAdder(self._acc_fmt, rounding=self._rounding)
        if self._rounding == "dynamic":
            m.d.comb += [mul.rm.eq(self.rm), add.rm.eq(self.rm)]
        m.d.comb += [mul.a.eq(s1.a), mul.b.eq(s1.b)]
        n = len(self._mul_cuts)
        if n:
            m.d.comb += mul.in_valid.eq(s1_valid)
        m_valid = mul.out_valid if n else s1_valid
        m_last = delay(pipe, s1.last, n, "last")
        # Stage 2: the product, rounded into the accumulator format.
        p = Signal(self._acc_fmt.width)
        p_flags = Signal(4)
        p_last = Signal()
        p_valid = Signal()
        with m.If(en):
            m.d.sync += [p.eq(mul.y), p_flags.eq(mul.flags), p_last.eq(m_last),
                         p_valid.eq(m_valid)]
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

    def _exact(self, m, en, pipe, s1, s1_valid, emit):
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
        # The significand product, zero for specials; with mul_latency 1 it is registered
        # ("product") before its shift into place, with everything that travels beside it.
        sig = Signal(len(ra.sig) + len(rb.sig), name="sig_prod")
        m.d.comb += sig.eq(Mux(special, 0, ra.sig * rb.sig))
        side = [shift, ra.sign ^ rb.sign, ra.nan | rb.nan | invalid,
                (ra.inf | rb.inf) & ~(ra.nan | rb.nan | invalid), invalid, s1.last, s1_valid]
        n = len(self._mul_cuts)
        sig = delay(pipe, sig, n, "sig_prod")
        side = [delay(pipe, v, n, f"side{i}") for i, v in enumerate(side)]
        d_shift, d_neg, d_nan, d_inf, d_inv, d_last, d_valid = side
        with m.If(en):
            m.d.sync += [
                prod.eq(sig << d_shift),
                p_neg.eq(d_neg), p_nan.eq(d_nan), p_inf.eq(d_inf), p_invalid.eq(d_inv),
                p_last.eq(d_last), p_valid.eq(d_valid),
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
        # The read-out: with out_latency R its registers advance with the unit, and o.valid
        # follows the sum through as many.
        R = len(self._out_cuts)
        v_sum = self.o.valid if R == 0 else Signal(name="v_sum")
        with m.If(en):
            m.d.sync += v_sum.eq(emit)
            with m.If(emit):
                m.d.sync += [o_sum.eq(total), o_nan.eq(t_nan), o_pos.eq(t_pos),
                             o_neg.eq(t_neg), o_inv.eq(t_inv)]
        if R:
            last = delay(pipe, v_sum, R - 1, "v_out")
            with m.If(en):
                m.d.sync += self.o.valid.eq(last)
        rnd = FloatRounder(self._out_fmt, sig_width=W, exp_range=(lsb, lsb),
                           rounding=self._rounding,
                           cuts=[c for c in self._out_cuts if c != "negated"])
        m.submodules.rounder = EnableInserter(en)(rnd)
        if self._rounding == "dynamic":
            m.d.comb += rnd.rm.eq(self.rm)
        res_nan = o_nan | (o_pos & o_neg)
        res_inf = (o_pos | o_neg) & ~res_nan
        mag = Signal(W)
        sign = Signal()
        m.d.comb += [mag.eq(Mux(o_sum < 0, -o_sum, o_sum)),
                     sign.eq(Mux(res_inf, o_neg, o_sum < 0))]
        raw = [mag, sign, res_nan, res_inf, o_inv]
        if "negated" in self._out_cuts:
            raw = [delay(pipe, v, 1, f"neg{i}") for i, v in enumerate(raw)]
        r_mag, r_sign, r_nan, r_inf, r_inv = raw
        m.d.comb += [
            rnd.sign.eq(r_sign), rnd.exp.eq(lsb), rnd.sig.eq(r_mag),
            rnd.nan.eq(r_nan), rnd.inf.eq(r_inf), rnd.invalid.eq(r_inv),
            self.o.payload.y.eq(rnd.y), self.o.payload.flags.eq(rnd.flags),
        ]


"""MX dot-product unit (OCP Microscaling v1.0): ``lanes`` element pairs per clock, exact block
sums, one FP32 accumulation per block.

The golden model is :func:`hwgen.golden.mx.mx_dot`; the unit matches it bit for bit, flags
included (``tests/test_mxdot_amaranth.py``).
"""


from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..formats import FloatFormat, parse_format
from ..golden.mx import E8M0_BIAS, E8M0_NAN, check_mx_element, mx_block_sum_bits
from .floatraw import (RoundingMode, check_rounding, exp_range, range_shape, sticky_shift_right,
                       unpack)
from ..timing import DelayModel
from ..timing.fixed import FixedPipeline
from .intcommon import adder_tree
from .rounder import FloatRounder

__all__ = ["MxDot", "MXDOT_LANES"]

#: Lane counts: divisors of the 32-element block, so a block is a whole number of beats.
MXDOT_LANES = (8, 16, 32)
_BLOCK = 32
_FP32 = parse_format("fp32")


def _product(a, b):
    """``a * b`` of unsigned values; as shift-and-add when one side has at most 4 bits (the
    FP significands), so synthesis does not spend a DSP block on a 2x2 multiply (yosys maps
    every ``$mul`` to one on ECP5); INT8 x INT8 stays a ``*``."""
    if len(b) > len(a):
        a, b = b, a
    if len(b) > 4:
        return a * b
    return adder_tree([Mux(b[k], a << k, 0) for k in range(len(b))])


class MxDot(FixedPipeline, wiring.Component):
    """Streaming MX dot products: ``y = sum over blocks of X_A * X_B * sum_i P_A,i * P_B,i``.

    Every block of 32 element pairs arrives as ``32 // lanes`` beats on ``i``; the element
    products are exact, an adder tree and a block register sum them exactly in fixed point
    (:func:`~hwgen.golden.mx.mx_block_sum_bits` bits), the two E8M0 scales become an exponent
    add, and the block is added to an FP32 accumulator with one rounding (the shared
    :class:`FloatRounder`, after an FMA-style alignment of the accumulator against the block
    sum). With 8 or 16 lanes a block takes at least two beats, so this accumulation is split
    over two cycles (:attr:`acc_stages`). The semantics, to the bit, are those of
    :func:`hwgen.golden.mx.mx_dot`.

    Parameters
    ----------
    elem : str
        Element format of ``a``: ``e4m3 e5m2 e3m2 e2m3 e2m1 int8``.
    b_elem : str or None
        Element format of ``b`` (default ``elem``).
    lanes : int
        Element pairs per beat: 8, 16 or 32 (one block every ``32 // lanes`` beats).
    rounding : str
        ``rne rtz rdn rup rna`` or ``"dynamic"`` (adds ``rm``).
    target_mhz, device : float, str or None
        A clock request, checked against the delay model's estimate of the unit's stages
        (:meth:`stage_logic`; the pipeline is fixed by ``lanes``:
        :mod:`hwgen.timing.fixed`); refused when the slowest stage cannot meet it.

    Members
    -------
    i : In(stream.Signature(StructLayout({"a", "b", "a_scale", "b_scale", "last"})))
        ``a``/``b``: ``lanes`` element codes each (``ArrayLayout``, lane 0 in the low bits);
        ``a_scale``/``b_scale``: the blocks' E8M0 codes; ``last``: this block closes the dot
        product. In Verilog ``i__payload`` is ``{last, b_scale, a_scale, b, a}`` (``a`` in the
        low bits). The scales and ``last`` are sampled with each block's final beat (hold them
        for the whole block); on the other beats they are ignored. Beat ``k`` of a block
        carries elements ``k*lanes .. k*lanes + lanes - 1``.
    o : Out(stream.Signature(StructLayout({"y": 32, "flags": 4})))
        One FP32 result per dot product: ``o__payload`` is ``{flags, y}``; flags bit 0 inexact,
        1 underflow, 2 overflow, 3 invalid, ORed over the dot product's blocks.
    rm : In(3)
        Only with ``rounding="dynamic"``: RISC-V ``frm`` (0 rne, 1 rtz, 2 rdn, 3 rup, 4 rna,
        5..7 as rne), sampled with each block's final beat.

    The accumulator starts at ``+0`` after reset and returns to ``+0`` after every dot product
    (there is no other clear). Back-pressure: while a result waits on ``o`` with ``o.ready``
    low the whole unit stalls (``i.ready`` low); no beat is lost or counted twice under any
    stall or idle pattern.

    Raises
    ------
    ValueError
        Unknown element format, lane count or rounding mode; the message names the value and
        what is allowed.
    """

    def __init__(self, elem: str | FloatFormat = "e4m3", *,
                 b_elem: str | FloatFormat | None = None, lanes: int = 8, rounding: str = "rne",
                 target_mhz: float | None = None, device: "str | None" = None) -> None:
        self._ea = check_mx_element(elem)
        self._eb = self._ea if b_elem is None else check_mx_element(b_elem, "B element format")
        if isinstance(lanes, bool) or not isinstance(lanes, int) or lanes not in MXDOT_LANES:
            raise ValueError(f"Lanes must be one of {', '.join(map(str, MXDOT_LANES))} (a "
                             f"divisor of the block size {_BLOCK}), not {lanes!r}")
        self._lanes = lanes
        self._rounding = check_rounding(rounding)
        self._sum_bits, self._lsb = mx_block_sum_bits(self._ea.name, self._eb.name, _BLOCK)
        self._in_layout = data.StructLayout({
            "a": data.ArrayLayout(unsigned(self._ea.width), lanes),
            "b": data.ArrayLayout(unsigned(self._eb.width), lanes),
            "a_scale": 8, "b_scale": 8, "last": 1,
        })
        out_layout = data.StructLayout({"y": 32, "flags": 4})
        ports = {"i": In(stream.Signature(self._in_layout)),
                 "o": Out(stream.Signature(out_layout))}
        if self._rounding == "dynamic":
            ports["rm"] = In(3)
        super().__init__(ports)
        self._request(target_mhz, device)

    def stage_logic(self, model: DelayModel) -> list[tuple[str, float]]:
        """Its stages for the delay model (``target_mhz=``): the block sum (element products,
        the adder tree over the lanes, the block register's add), then the FP32 accumulation
        (alignment and add; normalization and rounding), one stage or, with
        :attr:`acc_stages` 2, two."""
        from .rounder import RounderGeometry
        wa, wb = self._ea.width, self._eb.width
        levels = max(self._lanes - 1, 1).bit_length()
        tree = sum(model.adder(wa + wb + lv) for lv in range(levels))
        block = model.multiplier(wa, wb) + tree + model.adder(self._sum_bits)
        frame = self._sum_bits + 26
        add = model.shifter(frame, frame) + model.adder(frame)
        geom = RounderGeometry(parse_format("fp32"), frame, (-160, 160))
        rnd = sum(sg.delay for sg in geom.segments(model))
        if self.acc_stages == 2:
            return [("block sum", block), ("align and add", add), ("round", rnd)]
        return [("block sum", block), ("accumulate", add + rnd)]

    elem = property(lambda self: self._ea.name)
    b_elem = property(lambda self: self._eb.name)
    lanes = property(lambda self: self._lanes)
    rounding = property(lambda self: self._rounding)
    block = _BLOCK
    input_layout = property(lambda self: self._in_layout)
    clocked = True

    @property
    def beats(self) -> int:
        """Beats per block, ``32 // lanes``."""
        return _BLOCK // self._lanes

    @property
    def sum_bits(self) -> int:
        """Width of the exact two's-complement block sum (units of ``2**sum_lsb_exp``)."""
        return self._sum_bits

    @property
    def sum_lsb_exp(self) -> int:
        return self._lsb

    @property
    def acc_stages(self) -> int:
        """Clock cycles of the FP32 accumulation loop: 2 when blocks come at most every other
        cycle (lanes 8 or 16: a register between the alignment/add and the rounder), else 1."""
        return 2 if self.beats >= 2 else 1

    @property
    def latency(self) -> int:
        """Clock edges from the transfer of a dot product's final beat (that edge included)
        to its result being valid on ``o``, without stalls: input register, block register,
        :attr:`acc_stages` accumulator stages (the last one the accumulator/output register)."""
        return 2 + self.acc_stages

    @property
    def module_name(self) -> str:
        """``mxdot_<elem>[_<b_elem>]_l<lanes>_<rounding>`` (``dyn`` for dynamic), e.g.
        ``mxdot_e4m3_e2m1_l8_rne``; ``b_elem`` is left out when it equals ``elem``."""
        parts = ["mxdot", self._ea.name]
        if self._eb.name != self._ea.name:
            parts.append(self._eb.name)
        parts.append(f"l{self._lanes}")
        parts.append("dyn" if self._rounding == "dynamic" else self._rounding)
        return "_".join(parts)

    def __repr__(self) -> str:
        if not hasattr(self, "_rounding"):  # __init__ raised
            return "MxDot(...)"
        return (f"MxDot({self._ea.name!r}, b_elem={self._eb.name!r}, lanes={self._lanes}, "
                f"rounding={self._rounding!r})")

    # -- datapath pieces ---------------------------------------------------------------------

    def _element(self, m, el, bits, name):
        """One element code → ``(sign, sig, shift, nan, snan, inf, zero)``: the magnitude is
        ``sig << shift`` units of ``2**el.lsb`` (``shift`` is ``None`` for int8)."""
        no = Const(0, 1)
        if el.is_int:
            sign = bits[7]
            mag = Signal(8, name=f"{name}_mag")       # |-128| = 128 fits in 8 unsigned bits
            m.d.comb += mag.eq(Mux(sign, -bits.as_signed(), bits))
            return sign, mag, None, no, no, no, mag == 0
        raw = unpack(m, el.fmt, bits, name=name)
        lo, hi = exp_range(el.fmt)
        assert lo == el.lsb
        shift = Signal(range(hi - lo + 1), name=f"{name}_sh")
        m.d.comb += shift.eq(raw.exp - lo)
        return raw.sign, raw.sig, shift, raw.nan, raw.snan, raw.inf, raw.zero

    def elaborate(self, platform):
        m = Module()
        ea, eb = self._ea, self._eb
        lanes, beats = self._lanes, self.beats
        W, lsb = self._sum_bits, self._lsb
        dynamic = self._rounding == "dynamic"

        en = Signal()            # the whole pipeline advances together
        m.d.comb += [en.eq(~self.o.valid | self.o.ready), self.i.ready.eq(en)]

        # -- stage 1: input register --------------------------------------------------------
        s1 = Signal(self._in_layout, name="s1")
        s1_valid = Signal()
        s1_rm = Signal(3) if dynamic else None
        with m.If(en):
            m.d.sync += [s1.eq(self.i.payload), s1_valid.eq(self.i.valid)]
            if dynamic:
                m.d.sync += s1_rm.eq(self.rm)

        # Exact products of the beat's lanes, in units of 2**lsb, and their special classes.
        top_units = ea.max_units * eb.max_units
        Wp = top_units.bit_length()
        terms = []
        any_nan, pos_inf, neg_inf, invalid = [], [], [], []
        for k in range(lanes):
            sa, ma, sha, na, sna, ia, za = self._element(m, ea, s1.a[k], f"a{k}")
            sb, mb, shb, nb, snb, ib, zb = self._element(m, eb, s1.b[k], f"b{k}")
            # A small significand multiply, then the exponents as one left shift.
            mag = Signal(Wp, name=f"p{k}_mag")
            shifts = [sh for sh in (sha, shb) if sh is not None]
            shift = sum(shifts[1:], shifts[0]) if shifts else 0
            m.d.comb += mag.eq(_product(ma, mb) << shift)
            neg = sa ^ sb
            # A NaN/Inf element's significand is garbage, but it is never seen: its block's
            # result is NaN or Inf whatever the sum.
            term = Signal(signed(Wp + 1), name=f"p{k}")
            m.d.comb += term.eq(Mux(neg, -mag, mag))
            terms.append(term)
            inf_x_zero = (ia & zb) | (ib & za)
            p_nan = na | nb | inf_x_zero
            p_inf = (ia | ib) & ~p_nan
            any_nan.append(p_nan)
            pos_inf.append(p_inf & ~neg)
            neg_inf.append(p_inf & neg)
            invalid.append(sna | snb | inf_x_zero)
        beat_sum = Signal(signed(W), name="beat_sum")
        m.d.comb += beat_sum.eq(adder_tree(terms))

        def any_of(bits):
            out = Signal()
            v = Const(0, 1)
            for b in bits:
                v = v | b
            m.d.comb += out.eq(v)
            return out
        b_nan, b_pinf, b_ninf, b_inv = (any_of(x) for x in (any_nan, pos_inf, neg_inf, invalid))

        # -- stage 2: the block's exact sum, completed on its final beat --------------------
        t_sum = Signal(signed(W), name="t_sum")
        t_nan, t_pinf, t_ninf, t_inv = Signal(), Signal(), Signal(), Signal()
        t_exp = Signal(range_shape(lsb - 2 * E8M0_BIAS, lsb + 2 * 255 - 2 * E8M0_BIAS),
                       name="t_exp")
        t_last = Signal()
        t_valid = Signal()
        t_rm = Signal(3) if dynamic else None
        if beats == 1:
            total, c_nan, c_pinf, c_ninf, c_inv = beat_sum, b_nan, b_pinf, b_ninf, b_inv
            final = Const(1, 1)
        else:
            beat = Signal(range(beats))
            blk = Signal(signed(W), name="blk")
            k_nan, k_pinf, k_ninf, k_inv = Signal(), Signal(), Signal(), Signal()
            first = beat == 0
            total = Signal(signed(W), name="blk_total")
            m.d.comb += total.eq(Mux(first, 0, blk) + beat_sum)
            c_nan = b_nan | (~first & k_nan)
            c_pinf = b_pinf | (~first & k_pinf)
            c_ninf = b_ninf | (~first & k_ninf)
            c_inv = b_inv | (~first & k_inv)
            final = beat == beats - 1
            with m.If(en & s1_valid):
                m.d.sync += [blk.eq(total), k_nan.eq(c_nan), k_pinf.eq(c_pinf),
                             k_ninf.eq(c_ninf), k_inv.eq(c_inv),
                             beat.eq(Mux(final, 0, beat + 1))]
        scale_nan = (s1.a_scale == E8M0_NAN) | (s1.b_scale == E8M0_NAN)
        with m.If(en):
            m.d.sync += t_valid.eq(s1_valid & final)
            with m.If(s1_valid & final):
                m.d.sync += [
                    t_sum.eq(total), t_nan.eq(c_nan | scale_nan), t_pinf.eq(c_pinf),
                    t_ninf.eq(c_ninf), t_inv.eq(c_inv), t_last.eq(s1.last),
                    # The scales are an exponent add onto the sum's LSB exponent.
                    t_exp.eq(s1.a_scale + s1.b_scale + (lsb - 2 * E8M0_BIAS)),
                ]
                if dynamic:
                    m.d.sync += t_rm.eq(s1_rm)

        # -- stage 3: acc + X_A X_B S, exactly, rounded once into FP32 -----------------------
        acc = Signal(32, name="acc")             # +0 after reset
        acc_flags = Signal(4)
        uc = unpack(m, _FP32, acc, name="uacc")
        rmode = RoundingMode(self._rounding, t_rm)

        # The FMA layout of FloatFMA: the block sum's magnitude (Pp bits) at a fixed place,
        # L bits above the window's jam bit; the accumulator (24 bits) shifted right from K
        # places above it, what falls off jammed into bit 0; when the accumulator lies more
        # than K places above (or the block sum is zero) it stays leftmost and a nonzero block
        # sum becomes the jam bit.
        Pp, Pc, po = W - 1, _FP32.precision, _FP32.precision
        L = max(po + 3, Pc + 2)
        K = Pp + po + 2
        top = L + K + Pc
        plo, phi = lsb - 2 * E8M0_BIAS, lsb + 2 * 255 - 2 * E8M0_BIAS
        clo, chi = exp_range(_FP32)
        sp = t_sum < 0
        pmag = Signal(Pp, name="t_mag")
        m.d.comb += pmag.eq(Mux(sp, -t_sum, t_sum))
        p_zero = t_sum == 0
        ep_k = Signal(range_shape(plo + K, phi + K))
        m.d.comb += ep_k.eq(t_exp + K)
        dist = Signal(range_shape(K - (chi - plo), K - (clo - phi)))
        m.d.comb += dist.eq(ep_k - uc.exp)
        above = dist < 0
        c_dom = Signal()
        m.d.comb += c_dom.eq(p_zero | (~uc.zero & above))
        amax = top - 1
        dist_hi = K - (clo - phi)
        amt = Signal(range(max(min(amax, max(dist_hi, 0)), 0) + 1))
        if dist_hi > 0:
            m.d.comb += amt.eq(Mux(c_dom | above, 0, Mux(dist >= amax, amax, dist)))
        cw = sticky_shift_right(m, uc.sig << (L + K), top, amt, max(min(amax, dist_hi), 0),
                                name="align")
        e_lo, e_hi = min(plo - L, clo - L - K), max(phi - L, chi - L - K)
        e_lsb = Signal(range_shape(e_lo, e_hi))
        m.d.comb += e_lsb.eq(Mux(c_dom, uc.exp, ep_k) - (L + K))
        pw = Mux(c_dom, ~p_zero, pmag << L)
        eff_sub = sp ^ uc.sign
        # As in FloatFMA: the sum, and the reversed difference beside it (one carry chain each).
        cx = Signal(signed(top + 1))
        z = Signal(signed(top + 1))
        zr = Signal(top)
        m.d.comb += [cx.eq(cw), z.eq(pw + Mux(eff_sub, ~cx, cx) + eff_sub), zr.eq(cx - pw)]
        neg = z < 0
        mag = Signal(top)
        m.d.comb += mag.eq(Mux(neg, zr, z))
        # An exact zero: zeros of one sign keep it (the zero block sum is +0); else +0, -0 in rdn.
        sign = Mux(eff_sub & (z == 0), rmode.rdn, sp ^ neg)

        tn = t_nan | (t_pinf & t_ninf)
        t_inf = (t_pinf | t_ninf) & ~tn
        clash = t_inf & uc.inf & (t_ninf ^ uc.sign)
        nan = tn | uc.nan | clash
        inv = t_inv | (t_pinf & t_ninf) | clash
        inf = (t_inf | uc.inf) & ~nan
        inf_sign = Mux(t_inf, t_ninf, uc.sign)

        # The rounder's input, registered when the loop has two cycles. This is safe because
        # the next block's term reaches the alignment at least `beats` enabled cycles later,
        # after this block has updated the accumulator. (FloatRounder's own cut is not used:
        # it is not gated by `en`.)
        raw = [Mux(inf, inf_sign, sign), e_lsb, mag, nan, inf, inv, t_valid, t_last]
        if dynamic:
            raw.append(t_rm)
        if self.acc_stages == 2:
            regs = [Signal.like(v, name=f"raw_{i}") if isinstance(v, Signal) else
                    Signal(v.shape(), name=f"raw_{i}") for i, v in enumerate(raw)]
            with m.If(en):
                m.d.sync += [r_.eq(v) for r_, v in zip(regs, raw)]
            raw = regs
        r_sign, r_exp, r_sig, r_nan, r_inf, r_inv, r_valid, r_last = raw[:8]

        m.submodules.rounder = r = FloatRounder(_FP32, sig_width=top, exp_range=(e_lo, e_hi),
                                                rounding=self._rounding)
        m.d.comb += [r.sign.eq(r_sign), r.exp.eq(r_exp), r.sig.eq(r_sig),
                     r.nan.eq(r_nan), r.inf.eq(r_inf), r.invalid.eq(r_inv)]
        if dynamic:
            m.d.comb += r.rm.eq(raw[8])

        flags_now = acc_flags | r.flags
        emit = r_valid & r_last
        with m.If(en & r_valid):
            m.d.sync += [acc.eq(Mux(r_last, 0, r.y)), acc_flags.eq(Mux(r_last, 0, flags_now))]
        with m.If(en):
            m.d.sync += self.o.valid.eq(emit)
            with m.If(emit):
                m.d.sync += [self.o.payload.y.eq(r.y), self.o.payload.flags.eq(flags_now)]
        return m

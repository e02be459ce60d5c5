"""Floating-point multiplier for any ExMy formats: ``y = a * b``, one rounding.

The golden model is :func:`hwgen.golden.mul`; the cocotb test is ``rtl_tests/test_fmul.py``.
"""

from collections.abc import Iterable

from amaranth.hdl import Cat, Const, Module, Mux, Signal

from ..formats import FloatFormat
from ..timing import Segment
from .floatop import FloatOpBase
from .floatraw import (biased_field, count_leading_zeros, exp_range, field_offset,
                       normalize_stages, unpack)

__all__ = ["FloatMultiplier"]

#: The low bits of a leading-zero count that shift the product (after it); the bits above
#: them shift the operands (before it), when the count can reach 8 (:meth:`_setup`).
_COARSE = 2


class FloatMultiplier(FloatOpBase):
    """``y = a * b`` rounded once into ``out_fmt``, with IEEE-style exception flags.

    The significands (hidden bit included, subnormals as they are) are multiplied exactly.
    The product is normalized by an amount known from the operands alone: the leading zeros of
    the subnormal operand, counted (a ``p``-bit count) while the product is formed, shift the
    product left, so the product has at most one leading zero and the shared
    :class:`~hwgen.units.rounder.FloatRounder` needs a one-bit normalization (``max_lz=1``)
    instead of counting the ``2p``-bit product's leading zeros after it. Where that count
    reaches 8 (fp16, fp32 significands) the shift is split: each operand is shifted left by
    its own count's multiple of 4 before the product (a normal operand's count is 0), the
    product by the rest (0 to 3) after it; two short shifters of ``p`` bits instead of one
    of ``2p`` bits (``_COARSE``). The lean form with a product in logic (``flags=False``
    with ``product="booth"`` or ``"shiftadd"``) shifts the subnormal operand by its whole
    count before the product instead (the operands swapped, where either may be subnormal,
    so that it is the multiplicand): one ``p``-bit shift. Where a product of two subnormals
    lies below half the output's smallest subnormal (e4m3, e5m2, fp16, bf16, fp32 into
    themselves) only one operand's zeros are counted (the subnormal one, or ``b``):
    such a product rounds as a sticky bit, wherever its leading one is. Otherwise (the narrow
    formats, or e4m3 into fp16) both operands' zeros are counted and added. Special cases as
    :func:`hwgen.golden.mul`: a NaN operand gives the canonical NaN, a signaling NaN or
    ``Inf * 0`` raises invalid.

    Parameters
    ----------
    fmt : FloatFormat or str
        Format of ``a`` (and of ``b`` and ``y`` unless given).
    out_fmt, b_fmt : FloatFormat or str or None
        Formats of ``y`` and ``b``; ``None`` means ``fmt``.
    rounding : str
        ``rne``, ``rtz``, ``rdn``, ``rup``, ``rna`` or ``"dynamic"`` (adds the ``rm`` port).
    latency : int or None
        0 (default) to 3 pipeline stages. Registers go at these cut points: 1: after
        normalization (inside the rounder); 2: also after the multiplier; 3: also on the
        outputs.
    target_mhz : float or None
        Instead of ``latency``: the clock to reach on ``device``; the planner of
        :mod:`hwgen.timing` chooses the cut points (:attr:`plan`, :attr:`cuts`,
        :attr:`latency`). Raises ValueError when the delay model says no latency reaches it.
    device : str or None
        With ``target_mhz``: ``up5k``, ``hx8k``, ``ecp5-25f`` or ``ecp5-85f``.
    cuts : sequence of str or None
        Instead of ``latency``: the cut points that hold registers, from :attr:`cut_points`:
        ``"pp"`` (after two half products: the significand product is split in two along
        ``b``'s bits), ``"raw"`` (after the product), the rounder's (see
        :class:`~hwgen.units.rounder.FloatRounder`) and ``"out"``. The module name rule is
        :class:`~hwgen.units.floatop.FloatOpBase`'s.

    flags : bool
        ``False``: no exception flags (no ``flags`` port, none of the logic only they need;
        module name ``..._noflags``).
    product : str
        ``"auto"`` (default): the significand product is ``a * b`` (a DSP block where the
        device has one); ``"booth"``: radix-4 Booth partial products in logic
        (:mod:`~hwgen.units.booth`; smaller for significands of 8 bits or more on a device
        without DSP blocks; module name ``..._booth``).

    Members
    -------
    a, b : In
        Operand encodings.
    rm : In(3)
        Rounding mode, RISC-V ``frm`` (0 rne, 1 rtz, 2 rdn, 3 rup, 4 rna, 5..7 as rne); only
        with ``rounding="dynamic"``.
    in_valid : In(1)
        Only with ``latency > 0``.
    y : Out(out_fmt.width)
        The rounded product, ``latency`` cycles after its operands.
    flags : Out(4)
        Bit 0 inexact, 1 underflow, 2 overflow, 3 invalid (absent with ``flags=False``).
    out_valid : Out(1)
        ``in_valid`` delayed by ``latency`` (only with ``latency > 0``).

    Raises
    ------
    TypeError, ValueError
        A parameter has the wrong type or value; the message names it and what is allowed.
    """

    _op = "fmul"

    def __init__(self, fmt: FloatFormat | str = "e4m3", *,
                 out_fmt: FloatFormat | str | None = None,
                 b_fmt: FloatFormat | str | None = None, rounding: str = "rne",
                 latency: int | None = None, target_mhz: float | None = None,
                 device: "str | None" = None, cuts: Iterable[str] | None = None,
                 flags: bool = True, product: str = "auto") -> None:
        super().__init__({"a": fmt, "b": b_fmt}, out_fmt, rounding, latency,
                         target_mhz=target_mhz, device=device, cuts=cuts, flags=flags,
                         product=product)

    def _setup(self):
        fa, fb, out = self._in_fmts["a"], self._in_fmts["b"], self._out_fmt
        (alo, _), (blo, _) = exp_range(fa), exp_range(fb)
        width = fa.precision + fb.precision
        #: Operands whose subnormals have leading zeros to count.
        self._lz_ports = tuple(n for n, f in (("a", fa), ("b", fb))
                               if f.subnormals and f.man_bits)
        # A product of two subnormals, one of them normalized: its top bit is at most
        # alo - 1 + blo + width - 1; at or below emin - p - 1 it is a sticky bit for the
        # rounder, so the other operand's zeros need not be counted.
        tiny = alo + blo + width - 2 <= out.emin - out.precision - 1
        self._lz_both = len(self._lz_ports) == 2 and not tiny
        reach = {"a": fa.precision - 1, "b": fb.precision - 1}
        lz = [reach[n] for n in self._lz_ports]
        #: The lean form with a product in logic (``flags=False``, ``product="booth"`` or
        #: ``"shiftadd"``) shifts the subnormal
        #: operand by its whole count before the product, where one operand's zeros are
        #: counted (the operands swapped by "``a`` is subnormal" where either may be): a
        #: ``p``-bit shift and two ``p``-bit multiplexers instead of a ``2p``-bit shift
        #: (measured on the HX8K, LUT4+carry: bf16 416 -> 399, fp16 596 -> 550).
        self._prenorm = (not self._flags and self._product in ("booth", "shiftadd")
                         and not self._lz_both
                         and (len(lz) == 1 or fa.precision == fb.precision))
        #: Otherwise the operands are shifted by their counts' high bits before the product
        #: (the product by the low bits after it) where a count reaches 8: measured on the
        #: HX8K, fp16 fmul 630 -> 614 LUT4+carry; bf16 (counts up to 7) grows, so it is left
        #: alone.
        self._coarse = not self._prenorm and not self._lz_both and max(lz, default=0) >= 8
        fine = (1 << _COARSE) - 1
        #: The most leading zeros counted (the product's total left shift, both operands').
        self._lz_max = ((sum(r & ~fine for r in lz) + fine) if self._coarse
                        else (sum(lz) if self._lz_both else max(lz)) if lz else 0)
        # The exponent handed to the rounder is the sum of the biased exponent fields (1 for a
        # subnormal): the rounder folds the biases into its constants.
        self._exp_offset = -sum(field_offset(f) for f in (fa, fb))

    def _rounder_params(self):
        fa, fb = self._in_fmts["a"], self._in_fmts["b"]
        (alo, ahi), (blo, bhi) = exp_range(fa), exp_range(fb)
        return (fa.precision + fb.precision, (alo + blo - self._lz_max, ahi + bhi), 1)

    def _own_cut_points(self):
        return ("pp", "raw")

    def _own_segments(self, model):
        fa, fb = self._in_fmts["a"], self._in_fmts["b"]
        pa, pb = fa.precision, fb.precision
        ew = max(fa.exp_bits, fb.exp_bits) + 2
        unpack_ns = model.lut_levels(1)
        exp_ns = model.adder(ew)
        if self._lz_max:
            # the operand's leading zeros, then the exponent minus them
            exp_ns = max(exp_ns, model.lzc(max(pa, pb)) + model.adder(ew))
        shift_ns = model.shifter(pa + pb, self._lz_max) if self._lz_max else 0.0
        pre_ns = 0.0
        if self._prenorm and self._lz_max:
            # the operand's count, then its shift (the swap beside the count)
            pre_ns, shift_ns = model.lzc(max(pa, pb)) + model.shifter(max(pa, pb),
                                                                      self._lz_max), 0.0
        if self._coarse:
            # the operand's count, then its shift by the count's high bits; the product's
            # shift by the low bits
            p = max(pa, pb)
            pre_ns = model.lzc(p) + model.shifter(p, p - 1, stages=normalize_stages(p) -
                                                  _COARSE)
            shift_ns = model.shifter(pa + pb, (1 << _COARSE) - 1)
        if self._product == "auto" and model.dsp_blocks(pa, pb):
            # A DSP product is not split: no cut inside it.
            return [Segment("mul", unpack_ns + max(pre_ns + model.multiplier(pa, pb), exp_ns)
                            + shift_ns, "raw")]
        h = pb // 2
        pp_ns = model.multiplier(pa, pb - h, dsp=self._in_dsp)
        return [Segment("pp", unpack_ns + max(pre_ns + pp_ns, exp_ns), "pp"),
                Segment("pp_add", model.adder(pa + pb - h) + shift_ns, "raw")]

    def _operands(self, ua, ub):
        """``({port: (significand, precision)}, a_sub)``: the significands whose leading
        zeros are counted, and "``a`` is subnormal" (its leading bit clear), which picks the
        count where either operand may be subnormal but not both (:meth:`_setup`)."""
        pa = self._in_fmts["a"].precision
        sigs = {"a": (ua.sig, pa), "b": (ub.sig, self._in_fmts["b"].precision)}
        return sigs, ~ua.sig[pa - 1]

    def _leading_zeros(self, ua, ub):
        """The product's normalizing shift: the leading zeros of the subnormal operand (or
        of both, :meth:`_setup`), as a Value, or ``None`` when no operand has subnormals."""
        ports = self._lz_ports
        if not ports:
            return None
        sigs, a_sub = self._operands(ua, ub)

        def clz(port):
            return count_leading_zeros(*sigs[port])[0]
        if len(ports) == 1:
            return clz(ports[0])
        if self._lz_both:
            return clz("a") + clz("b")
        if sigs["a"][1] == sigs["b"][1]:
            return count_leading_zeros(Mux(a_sub, ua.sig, ub.sig), sigs["a"][1])[0]
        return Mux(a_sub, clz("a"), clz("b"))

    def _normalized_first(self, ua, ub, lz):
        """``(x, y)`` where :attr:`_prenorm`: the operand whose leading zeros are counted
        (the subnormal one where either may be), shifted left by the count ``lz``, and the
        other operand."""
        sigs, a_sub = self._operands(ua, ub)
        if len(self._lz_ports) == 1:
            port = self._lz_ports[0]
            x, p = sigs[port]
            y = sigs["b" if port == "a" else "a"][0]
        else:
            p = sigs["a"][1]
            x, y = Mux(a_sub, ua.sig, ub.sig), Mux(a_sub, ub.sig, ua.sig)
        return (x << lz)[:p], y

    def _coarse_shift(self, m, ua, ub):
        """``(sa, sb, total, fine)`` where :attr:`_coarse`: each operand with subnormals
        shifted left by its leading-zero count's high bits (0 for a normal one), the low bits
        of the subnormal operand's count (``a``'s when both are: their product rounds as a
        sticky bit, :meth:`_setup`) as the product's shift, and the total of the shifts."""
        sigs, a_sub = self._operands(ua, ub)
        shifted, counts = dict(a=ua.sig, b=ub.sig), {}
        for port in self._lz_ports:
            sig, p = sigs[port]
            count = Signal(range(p + 1), name=f"lz_{port}")
            m.d.comb += count.eq(count_leading_zeros(sig, p)[0])
            counts[port] = count
            high = Cat(Const(0, _COARSE), count[_COARSE:])
            shifted[port] = (sig << high)[:p]
        if len(counts) == 2:
            fine = Mux(a_sub, counts["a"][:_COARSE], counts["b"][:_COARSE])
        else:
            fine = next(iter(counts.values()))[:_COARSE]
        fine_sig = Signal(_COARSE, name="lz_fine")
        m.d.comb += fine_sig.eq(fine)
        total = Signal(range(self._lz_max + 1), name="lz")
        m.d.comb += total.eq(sum(Cat(Const(0, _COARSE), c[_COARSE:]) for c in counts.values())
                             + fine_sig)
        return shifted["a"], shifted["b"], total, fine_sig

    def elaborate(self, platform):
        m = Module()
        fa, fb = self._in_fmts["a"], self._in_fmts["b"]
        ua = unpack(m, fa, self.a, name="ua")
        ub = unpack(m, fb, self.b, name="ub")
        inf_x_zero = (ua.inf & ub.zero) | (ub.inf & ua.zero)
        nan = ua.nan | ub.nan | inf_x_zero
        r = self._rounder(m)
        sig_width = self._rgeom.sig_width
        sign, exp = ua.sign ^ ub.sign, biased_field(fa, self.a) + biased_field(fb, self.b)
        sa, sb = ua.sig, ub.sig
        if self._coarse:
            # lz: the product's own shift after it, the rest was the operands'
            sa, sb, total, lz = self._coarse_shift(m, ua, ub)
            exp = exp - total
        else:
            lz = self._leading_zeros(ua, ub)
            if lz is not None:
                lz_sig = Signal(range(self._lz_max + 1), name="lz")
                m.d.comb += lz_sig.eq(lz)
                lz, exp = lz_sig, exp - lz_sig
                if self._prenorm:
                    # the normalized operand is the multiplicand (not Booth-recoded)
                    sa, sb = self._normalized_first(ua, ub, lz_sig)
                    lz = None
        if self._flags:
            inf = (ua.inf | ub.inf) & ~nan
        else:
            # The rounder gives NaN precedence over Inf: without flags its Inf input is any
            # operand's all-ones exponent field (Inf or NaN), the cheaper term.
            inf = ua.inf | ub.inf | ua.nan | ub.nan
        invalid = ua.snan | ub.snan | inf_x_zero
        rm = self.rm if self._rounding == "dynamic" else None
        if "pp" in self.cuts:
            # Two half products (b's low and high bits) meet after the cut.
            h = fb.precision // 2
            v = self._cut(m, "pp", dict(lo=self._mul(m, sa, sb[:h]),
                                        hi=self._mul(m, sa, sb[h:]),
                                        sign=sign, exp=exp, nan=nan, inf=inf, lz=lz,
                                        invalid=invalid if self._flags else None, rm=rm))
            prod = v["lo"] + (v["hi"] << h)
            sign, exp, nan, inf, invalid, rm, lz = (v["sign"], v["exp"], v["nan"], v["inf"],
                                                    v["invalid"], v["rm"], v["lz"])
        else:
            prod = self._mul(m, sa, sb)
        if lz is not None:
            prod = (prod << lz)[:sig_width]
        pairs = [
            (r.sign, sign),
            (r.exp, exp),
            (r.sig, prod),
            (r.nan, nan),
            (r.inf, inf),
        ]
        if self._flags:
            pairs.append((r.invalid, invalid))
        if self._rounding == "dynamic":
            pairs.append((r.rm, rm))
        self._drive(m, "raw", pairs)
        self._finish(m, r)
        return m

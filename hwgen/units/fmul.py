"""Floating-point multiplier for any ExMy formats: ``y = a * b``, one rounding.

The golden model is :func:`hwgen.golden.mul`; the cocotb test is ``rtl_tests/test_fmul.py``.
"""

from amaranth.hdl import Module

from .floatop import FloatOpBase
from .floatraw import exp_range, unpack

__all__ = ["FloatMultiplier"]


class FloatMultiplier(FloatOpBase):
    """``y = a * b`` rounded once into ``out_fmt``, with IEEE-style exception flags.

    The significands (hidden bit included, subnormals as they are) are multiplied exactly and
    the product goes to the shared :class:`~hwgen.units.rounder.FloatRounder`, which normalizes
    it (subnormal inputs give leading zeros). Special cases as :func:`hwgen.golden.mul`: a NaN
    operand gives the canonical NaN, a signaling NaN or ``Inf * 0`` raises invalid.

    Parameters
    ----------
    fmt : FloatFormat or str
        Format of ``a`` (and of ``b`` and ``y`` unless given).
    out_fmt, b_fmt : FloatFormat or str or None
        Formats of ``y`` and ``b``; ``None`` means ``fmt``.
    rounding : str
        ``rne``, ``rtz``, ``rdn``, ``rup``, ``rna`` or ``"dynamic"`` (adds the ``rm`` port).
    latency : int
        0 to 3 pipeline stages. Registers go at these cut points: 1: after normalization
        (inside the rounder); 2: also after the multiplier; 3: also on the outputs.

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
        Bit 0 inexact, 1 underflow, 2 overflow, 3 invalid.
    out_valid : Out(1)
        ``in_valid`` delayed by ``latency`` (only with ``latency > 0``).

    Raises
    ------
    TypeError, ValueError
        A parameter has the wrong type or value; the message names it and what is allowed.
    """

    _op = "fmul"

    def __init__(self, fmt="e4m3", *, out_fmt=None, b_fmt=None, rounding="rne", latency=0):
        super().__init__({"a": fmt, "b": b_fmt}, out_fmt, rounding, latency)

    def elaborate(self, platform):
        m = Module()
        fa, fb = self._in_fmts["a"], self._in_fmts["b"]
        ua = unpack(m, fa, self.a, name="ua")
        ub = unpack(m, fb, self.b, name="ub")
        inf_x_zero = (ua.inf & ub.zero) | (ub.inf & ua.zero)
        nan = ua.nan | ub.nan | inf_x_zero
        (alo, ahi), (blo, bhi) = exp_range(fa), exp_range(fb)
        r = self._rounder(m, sig_width=fa.precision + fb.precision,
                          exp_range=(alo + blo, ahi + bhi))
        pairs = [
            (r.sign, ua.sign ^ ub.sign),
            (r.exp, ua.exp + ub.exp),
            (r.sig, ua.sig * ub.sig),
            (r.nan, nan),
            (r.inf, (ua.inf | ub.inf) & ~nan),
            (r.invalid, ua.snan | ub.snan | inf_x_zero),
        ]
        if self._rounding == "dynamic":
            pairs.append((r.rm, self.rm))
        self._drive(m, "raw", pairs)
        self._finish(m, r)
        return m

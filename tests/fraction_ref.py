"""An independent, exact reference for the golden model, written with :class:`fractions.Fraction`.

It reads only a format's *parameters* (``exp_bits``, ``man_bits``, ``bias``, ``subnormals``,
``specials``, ``overflow``) and shares no code with :mod:`hwgen.golden`: every encoding is
decoded from its bit fields, the finite values are listed and sorted, and a value is rounded by
finding its two neighbours in that list and applying the rounding rule. It is meant to be slow
and obviously right, so it stays a plain loop over Python numbers; the only concession to
speed is that the comparisons are done on exact integer ratios (values counted in units of the
format's smallest spacing) rather than through ``Fraction`` objects.

The semantics it encodes are the ones the golden model documents (``hwgen/golden/rounding.py``):
IEEE 754 rounding, tininess detected after rounding, the three overflow policies, FTZ, and the
special-value rules for formats without Inf/NaN.

Used by ``tests/test_golden_encode.py`` and ``tests/test_golden_ops.py``.
"""

import bisect
import math
from fractions import Fraction

from hwgen.formats import FLAG_INEXACT, FLAG_INVALID, FLAG_OVERFLOW, FLAG_UNDERFLOW

__all__ = ["RefFormat", "NAN", "MODES", "exact_mul", "exact_add", "exact_fma"]

#: The NaN marker of this module (values are Fractions, ``±math.inf`` or ``NAN``).
NAN = "nan"
MODES = ("rne", "rtz", "rdn", "rup", "rna")
_INF = math.inf


class RefFormat:
    """Every encoding of a format, decoded from its fields into exact values.

    Attributes
    ----------
    value : list
        ``value[bits]`` is ``(sign, magnitude)`` with the magnitude a Fraction, ``math.inf``,
        or ``NAN``.
    snan : list of bool
        ``snan[bits]``: a signaling NaN (IEEE NaN with the top mantissa bit clear).
    mags : list of Fraction
        The distinct finite magnitudes, ascending (0 first).
    """

    def __init__(self, fmt):
        self.fmt = fmt
        E, M, bias = fmt.exp_bits, fmt.man_bits, fmt.bias
        self.E, self.M, self.bias = E, M, bias
        self.width = 1 + E + M
        self.sign_bit = 1 << (E + M)
        top = (1 << E) - 1
        self.value, self.snan = [], []
        enc = {}
        for bits in range(1 << self.width):
            sign = bits >> (E + M)
            e = (bits >> M) & top
            f = bits & ((1 << M) - 1)
            snan = False
            if fmt.specials == "ieee" and e == top:
                mag = _INF if f == 0 else NAN
                snan = f != 0 and not (f >> (M - 1)) & 1
            elif fmt.specials == "fn" and e == top and f == (1 << M) - 1:
                mag = NAN
            elif e == 0:
                mag = Fraction(f) * Fraction(2) ** (1 - bias - M) if fmt.subnormals else Fraction(0)
            else:
                mag = Fraction((1 << M) + f) * Fraction(2) ** (e - bias - M)
            self.value.append((sign, mag))
            self.snan.append(snan)
            if sign == 0 and isinstance(mag, Fraction):
                enc.setdefault(mag, bits)  # the first (smallest) encoding: 0 for zero
        self.enc = enc
        self.mags = sorted(enc)
        self.max_finite = self.mags[-1]
        self.min_normal = Fraction(2) ** (1 - bias)
        unit = Fraction(2) ** (1 - bias - M)
        self.imags = [int(v / unit) for v in self.mags]
        assert all(v == i * unit for v, i in zip(self.mags, self.imags))
        self.enc_units = {i: enc[v] for v, i in zip(self.mags, self.imags)}
        self.max_units = self.imags[-1]
        # The next number of the unbounded grid above the max (the top binade's spacing on).
        self.above_max_units = self.max_units + (1 << (self.max_units.bit_length() - 1 - M))
        if fmt.specials == "ieee":
            self.nan_bits = (top << M) | (1 << (M - 1))
            self.inf_bits = top << M
        elif fmt.specials == "fn":
            self.nan_bits = (1 << (E + M)) - 1
            self.inf_bits = None
        else:
            self.nan_bits = self.inf_bits = None
        self._cache = {}

    # -- decoding --------------------------------------------------------------------------
    def float_values(self):
        """Every encoding as a Python float (exact), ``nan`` for NaN; list indexed by bits."""
        out = []
        for sign, mag in self.value:
            if mag is NAN:
                out.append(math.nan)
            else:
                v = float(mag)
                out.append(-v if sign else v)
        return out

    def is_nan(self, bits):
        return self.value[bits][1] is NAN

    # -- rounding --------------------------------------------------------------------------
    # Magnitudes are handled as exact rationals ``num/den`` (Python ints); grid values as
    # integers counted in units of G = 2**(1 - bias - M), the subnormal spacing, of which every
    # value of the format is a whole multiple (the min normal is 2**M units).

    @staticmethod
    def _choose(num, den, lo, hi, neg, mode):
        """Round the rational ``num/den``, with ``lo <= num/den <= hi`` (adjacent grid points,
        integers), to one of them. ``neg``: the value is negative (for the directed modes)."""
        if lo * den == num:
            return lo
        if hi * den == num:
            return hi
        if mode == "rtz":
            return lo
        if mode == "rdn":
            return hi if neg else lo
        if mode == "rup":
            return lo if neg else hi
        twice, mid = 2 * num, (lo + hi) * den
        if twice != mid:
            return lo if twice < mid else hi
        if mode == "rna":
            return hi
        # rne: the neighbour whose significand, counted in units of the spacing, is even.
        step = hi - lo
        assert lo % step == 0
        return lo if (lo // step) % 2 == 0 else hi

    def _units(self, k, s):
        """``k * 2**s`` in units of G, as a rational (num, den)."""
        g = 1 - self.bias - self.M
        return (k << (s - g), 1) if s >= g else (k, 1 << (g - s))

    def round_unbounded(self, num, den, neg, mode):
        """Round ``num/den > 0`` to M+1 significant bits with an unbounded exponent.

        Returns ``(k, s)``: the result is ``k * 2**s``.
        """
        e = num.bit_length() - den.bit_length()  # floor(log2(num/den)) or one more
        if (den << e if e >= 0 else den) > (num if e >= 0 else num << -e):
            e -= 1
        s = e - self.M
        tn, td = (num, den << s) if s >= 0 else (num << -s, den)
        k = tn // td
        return self._choose(tn, td, k, k + 1, neg, mode), s

    def round(self, x, mode="rne", neg=None):
        """Round an exact value into the format: returns ``(bits, flags)``.

        ``x`` is a Fraction (or int/float, converted exactly), ``±math.inf`` or ``NAN``. ``neg``
        gives the sign of a zero (and defaults to the sign of ``x``).
        """
        if neg is None and not (x is NAN or (isinstance(x, float) and math.isnan(x))):
            neg = math.copysign(1.0, x) < 0 if isinstance(x, float) else x < 0
        key = (x, mode, neg)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._round(x, mode, neg)
        return hit

    def _round(self, x, mode, neg):
        fmt = self.fmt
        if mode not in MODES:
            raise ValueError(mode)
        if x is NAN or (isinstance(x, float) and math.isnan(x)):
            if self.nan_bits is None:
                return self.sign_bit, FLAG_INVALID  # documented: NaN → -0 without NaN
            return self.nan_bits, 0
        sign = self.sign_bit if neg else 0
        max_bits = self.enc[self.max_finite]
        if isinstance(x, float) and math.isinf(x):
            if self.inf_bits is not None:
                return sign | self.inf_bits, 0
            if self.nan_bits is not None:
                return self.nan_bits, FLAG_INVALID
            return sign | max_bits, FLAG_OVERFLOW | FLAG_INEXACT
        mag = abs(Fraction(x))
        if mag == 0:
            return sign, 0
        num, den = mag.numerator, mag.denominator
        # With an unbounded exponent: overflow when above the max, tiny when below min normal.
        k, s = self.round_unbounded(num, den, neg, mode)
        un, ud = self._units(k, s)
        if un > self.max_units * ud:
            toward_zero = mode == "rtz" or (mode == "rdn" and not neg) or (mode == "rup" and neg)
            if fmt.overflow == "saturate" or toward_zero:
                bits = sign | max_bits
            elif fmt.overflow == "inf":
                bits = sign | self.inf_bits
            else:
                bits = self.nan_bits
            return bits, FLAG_OVERFLOW | FLAG_INEXACT
        tiny = un < (1 << self.M) * ud  # the min normal is 2**M units
        if tiny and not fmt.subnormals:
            return sign, FLAG_UNDERFLOW | FLAG_INEXACT
        # The value in units of G, and its neighbours on the format's grid.
        gn, gd = self._units(num, 0)
        gd *= den
        if fmt.subnormals:
            i = bisect.bisect_right(self.imags, gn // gd) - 1
            lo = self.imags[i]
            hi = self.imags[i + 1] if i + 1 < len(self.imags) else self.above_max_units
            r = self._choose(gn, gd, lo, hi, neg, mode)
        else:
            assert un % ud == 0  # normal range: the format's grid is the unbounded one
            r = un // ud
        assert r <= self.max_units, (x, mode, r)
        flags = 0
        if r * gd != gn:
            flags |= FLAG_INEXACT
            if tiny:
                flags |= FLAG_UNDERFLOW
        return sign | self.enc_units[r], flags


# -- exact operations on decoded values (IEEE 754 special-case rules) -------------------------
# Each returns (value, neg, invalid): value a Fraction, ±inf or NAN; neg the sign of a zero.

def _signed(ref, bits):
    sign, mag = ref.value[bits]
    if mag is NAN:
        return NAN, bool(sign)
    if mag == _INF:
        return (-_INF if sign else _INF), bool(sign)
    return (-mag if sign else mag), bool(sign)


def exact_mul(ra, a, rb, b):
    """Exact ``a * b`` of encodings ``a`` (in ``ra``) and ``b`` (in ``rb``)."""
    x, xs = _signed(ra, a)
    y, ys = _signed(rb, b)
    snan = ra.snan[a] or rb.snan[b]
    if x is NAN or y is NAN:
        return NAN, False, snan
    if (x in (_INF, -_INF) and y == 0) or (y in (_INF, -_INF) and x == 0):
        return NAN, False, True
    neg = xs != ys
    if x in (_INF, -_INF) or y in (_INF, -_INF):
        return (-_INF if neg else _INF), neg, False
    return x * y, neg, False


def _add_values(x, xs, y, ys, mode):
    if x is NAN or y is NAN:
        return NAN, False, False
    xi, yi = x in (_INF, -_INF), y in (_INF, -_INF)
    if xi and yi and x != y:
        return NAN, False, True
    if xi:
        return x, x < 0, False
    if yi:
        return y, y < 0, False
    s = x + y
    if s == 0:
        # Zeros of one sign keep it; any other exact zero is +0, or -0 when rounding down.
        neg = xs if (x == 0 and y == 0 and xs == ys) else mode == "rdn"
        return s, neg, False
    return s, s < 0, False


def exact_add(ra, a, rb, b, mode, subtract=False):
    """Exact ``a + b`` (or ``a - b``); the sign of an exact zero depends on ``mode``."""
    x, xs = _signed(ra, a)
    y, ys = _signed(rb, b)
    if subtract and y is not NAN:
        y, ys = -y, not ys
    v, neg, invalid = _add_values(x, xs, y, ys, mode)
    return v, neg, invalid or ra.snan[a] or rb.snan[b]


def exact_fma(ra, a, rb, b, rc, c, mode):
    """Exact ``a * b + c``."""
    p, ps, inv = exact_mul(ra, a, rb, b)
    z, zs = _signed(rc, c)
    snan = ra.snan[a] or rb.snan[b] or rc.snan[c]
    if p is NAN or z is NAN:
        return NAN, False, inv or snan
    v, neg, inv2 = _add_values(p, ps, z, zs, mode)
    return v, neg, inv2 or snan

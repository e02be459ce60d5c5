"""Golden model of integer-only requantization (Jacob et al.; TFLite/gemmlowp), as done by
:class:`hwgen.units.requant.Requantize`.

A real rescaling factor ``scale`` (input scale × weight scale / output scale) is represented
on the host as a Q31 multiplier ``M0`` and an exponent ``shift`` with
``scale ≈ M0 · 2**(shift - 31)`` (:func:`quantize_multiplier`, TFLite's ``QuantizeMultiplier``;
``shift > 0`` is a left shift, ``shift < 0`` a right shift). An int32 accumulator is then
rescaled with integer arithmetic only, in this order (TFLite's default double-rounding
``MultiplyByQuantizedMultiplier``)::

    x = acc + bias                             int32, wraps modulo 2**32
    x = x * 2**max(shift, 0)                   int32, wraps modulo 2**32
    y = SaturatingRoundingDoublingHighMul(x, M0)
    z = RoundingDivideByPOT(y, max(-shift, 0))
    q = clamp(z + zero_point, act_min, act_max)   exact (no int32 wrap), max then min

The two int32 wraps are what compiled TFLite code does on two's-complement machines; the
zero-point addition is exact here (in C it could overflow only for results that the clamp
would saturate anyway, and there it would wrap to the wrong end).

numpy only; every function is vectorized and broadcasts its arguments.
"""

import math

import numpy as np
import numpy.typing as npt

__all__ = [
    "INT32_MIN", "INT32_MAX", "ACTIVATIONS", "SHIFT_MIN", "SHIFT_MAX",
    "quantize_multiplier", "quantize_multipliers",
    "saturating_rounding_doubling_high_mul", "rounding_divide_by_pot",
    "multiply_by_quantized_multiplier", "activation_range", "requantize",
    "check_requant_widths",
]

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1

#: Shift range accepted by :func:`requantize` (and the 6-bit signed ``shift`` port of the
#: unit): -32..31. TFLite produces -31..30 for scales in [2**-32, 2**30).
SHIFT_MIN = -32
SHIFT_MAX = 31

#: Fused activations, as TFLite's ``CalculateActivationRangeQuantized``.
ACTIVATIONS = ("none", "relu", "relu6", "relu_n1_to_1")


# -- host side: real scale -> (M0, shift) ---------------------------------------------------

def _round_half_away(x: float) -> int:
    """C's ``std::round`` (TfLiteRound) on a Python float."""
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def quantize_multiplier(real_scale: float, *, single_rounding: bool = False) -> tuple[int, int]:
    """TFLite's ``QuantizeMultiplier``: a real scale as ``(M0, shift)``.

    ``real_scale == M0 * 2**(shift - 31)`` to within the Q31 rounding of ``M0``.

    * ``q, shift = frexp(real_scale)`` with ``0.5 <= |q| < 1``;
    * ``M0 = round(q * 2**31)``, rounded half away from zero (``std::round``);
    * the carry case ``M0 == 2**31`` (``q`` just below 1 rounds up) becomes
      ``M0 = 2**30, shift + 1``;
    * ``shift < -31`` (``|real_scale|`` below about ``2**-32``) flushes to ``(0, 0)``;
    * ``real_scale == 0`` gives ``(0, 0)``;
    * with ``single_rounding`` (TFLite built with ``TFLITE_SINGLE_ROUNDING``) a shift above 30
      saturates to ``(2**31 - 1, 30)``; otherwise it is returned as is.

    Negative scales give negative multipliers, as TFLite's default build does.

    Returns
    -------
    (int, int)
        ``(M0, shift)``.

    Raises
    ------
    ValueError
        ``real_scale`` is not finite.
    """
    real_scale = float(real_scale)
    if not math.isfinite(real_scale):
        raise ValueError(f"Scale must be a finite number, not {real_scale!r}")
    if real_scale == 0.0:
        return 0, 0
    q, shift = math.frexp(real_scale)
    q_fixed = _round_half_away(q * (1 << 31))  # exact: q has 53 bits, times a power of two
    assert q_fixed <= (1 << 31)
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    if single_rounding and shift > 30:
        shift, q_fixed = 30, (1 << 31) - 1
    return int(q_fixed), int(shift)


def quantize_multipliers(real_scales: npt.ArrayLike, *,
                         single_rounding: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """:func:`quantize_multiplier` over an array of scales (per-channel): ``(M0s, shifts)``
    as int64 arrays of the same shape."""
    scales = np.asarray(real_scales, dtype=np.float64)
    pairs = [quantize_multiplier(s, single_rounding=single_rounding) for s in scales.ravel()]
    m0 = np.array([p[0] for p in pairs], dtype=np.int64).reshape(scales.shape)
    sh = np.array([p[1] for p in pairs], dtype=np.int64).reshape(scales.shape)
    return m0, sh


# -- the integer-only arithmetic -------------------------------------------------------------

def _int32_array(name: str, x: npt.ArrayLike) -> np.ndarray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integers, not {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < INT32_MIN or arr.max() > INT32_MAX):
        bad = arr[(arr < INT32_MIN) | (arr > INT32_MAX)].ravel()[0]
        raise ValueError(f"{name} must be an int32 (between {INT32_MIN} and {INT32_MAX}), "
                         f"not {bad}")
    return arr


def _wrap32(x: npt.ArrayLike) -> np.ndarray:
    x = np.asarray(x, dtype=np.int64)
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _out(x: npt.ArrayLike) -> np.ndarray | np.int64:
    x = np.asarray(x, dtype=np.int64)
    return x[()] if x.ndim == 0 else x


def saturating_rounding_doubling_high_mul(a: npt.ArrayLike,
                                          b: npt.ArrayLike) -> np.ndarray | np.int64:
    """gemmlowp's ``SaturatingRoundingDoublingHighMul`` on int32 values.

    The high 32 bits of ``2 * a * b``, rounded: ``(a*b + nudge) / 2**31`` with C's division
    (truncation toward zero) and ``nudge = 2**30`` when ``a*b >= 0``, ``1 - 2**30`` otherwise.
    The one case that does not fit, ``a == b == INT32_MIN``, saturates to ``INT32_MAX``.
    (The negative nudge makes negative ties round toward zero, i.e. every tie rounds up.)

    Returns int64 values in the int32 range.
    """
    a = _int32_array("A", a)
    b = _int32_array("B", b)
    ab = a * b  # |a*b| <= 2**62: exact in int64
    s = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    high = np.where(s >= 0, s >> 31, -((-s) >> 31))  # truncating division by 2**31
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    return _out(np.where(overflow, INT32_MAX, high))


def rounding_divide_by_pot(x: npt.ArrayLike, exponent: npt.ArrayLike) -> np.ndarray | np.int64:
    """gemmlowp's ``RoundingDivideByPOT``: ``x / 2**exponent`` rounded to nearest, ties away
    from zero::

        mask = 2**exponent - 1
        remainder = x & mask
        threshold = (mask >> 1) + (1 if x < 0 else 0)
        result = (x >> exponent) + (1 if remainder > threshold else 0)

    ``x`` are int32 values; ``exponent`` 0..32 (gemmlowp asserts <= 31; the same formula
    rounds correctly at 32, which the unit's 6-bit shift port can express).
    """
    x = _int32_array("X", x)
    e = np.asarray(exponent)
    if e.dtype.kind not in "iu":
        raise TypeError(f"Exponent must hold integers, not {e.dtype}")
    e = e.astype(np.int64)
    if e.size and (e.min() < 0 or e.max() > 32):
        bad = e[(e < 0) | (e > 32)].ravel()[0]
        raise ValueError(f"Exponent must be between 0 and 32, not {bad}")
    mask = (np.int64(1) << e) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return _out((x >> e) + (remainder > threshold))


def _check_shift(shift: npt.ArrayLike) -> np.ndarray:
    sh = np.asarray(shift)
    if sh.dtype.kind not in "iu":
        raise TypeError(f"Shift must hold integers, not {sh.dtype}")
    sh = sh.astype(np.int64)
    if sh.size and (sh.min() < SHIFT_MIN or sh.max() > SHIFT_MAX):
        bad = sh[(sh < SHIFT_MIN) | (sh > SHIFT_MAX)].ravel()[0]
        raise ValueError(f"Shift must be between {SHIFT_MIN} and {SHIFT_MAX}, not {bad}")
    return sh


def multiply_by_quantized_multiplier(x: npt.ArrayLike, multiplier: npt.ArrayLike,
                                     shift: npt.ArrayLike) -> np.ndarray | np.int64:
    """TFLite's (double-rounding) ``MultiplyByQuantizedMultiplier(x, M0, shift)`` on int32
    ``x``: left shift (int32, wrapping), SRDHM, then RoundingDivideByPOT."""
    x = _int32_array("X", x)
    m0 = _int32_array("Multiplier", multiplier)
    sh = _check_shift(shift)
    left = np.maximum(sh, 0)
    right = np.maximum(-sh, 0)
    xl = _wrap32(x << left)  # x * (1 << left) in int32: |x << 31| < 2**63, exact in int64
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(xl, m0), right)


# -- output range and activation -------------------------------------------------------------

def check_requant_widths(out_bits: int | np.integer, signed: bool) -> int:
    """Validate an output width (2..16); return it as an int (shared with the unit)."""
    if not isinstance(out_bits, (int, np.integer)) or isinstance(out_bits, bool):
        raise TypeError(f"Output width must be an integer, not {out_bits!r}")
    if not 2 <= out_bits <= 16:
        raise ValueError(f"Output width must be between 2 and 16, not {out_bits!r}")
    return int(out_bits)


def _qrange(out_bits: int, signed: bool) -> tuple[int, int]:
    return (-(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1) if signed else \
        (0, (1 << out_bits) - 1)


def activation_range(act: str, out_bits: int | np.integer = 8, signed: bool = True,
                     zero_point: npt.ArrayLike = 0, out_scale: float | None = None
                     ) -> tuple[np.ndarray | np.int64, np.ndarray | np.int64]:
    """TFLite's ``CalculateActivationRangeQuantized``: ``(act_min, act_max)`` for a fused
    activation, as the values to program into the unit's ``act_min``/``act_max`` ports.

    ``"none"``: the whole output range. ``"relu"``: ``[max(qmin, zero_point), qmax]``.
    ``"relu6"``: also ``act_max = min(qmax, zero_point + round(6 / out_scale))``.
    ``"relu_n1_to_1"``: ``[max(qmin, zp + round(-1/s)), min(qmax, zp + round(1/s))]``.
    ``f / out_scale`` is computed in float32 and rounded half away from zero, as TFLite does.
    ``zero_point`` may be an array (per channel): the bounds broadcast with it.

    Raises
    ------
    ValueError
        Unknown ``act``, or ``"relu6"``/``"relu_n1_to_1"`` without a positive ``out_scale``.
    """
    out_bits = check_requant_widths(out_bits, signed)
    if act not in ACTIVATIONS:
        raise ValueError(f"Activation must be one of {', '.join(ACTIVATIONS)}, not {act!r}")
    qmin, qmax = _qrange(out_bits, signed)
    zp = np.asarray(zero_point, dtype=np.int64)

    def quantize(f: float) -> np.ndarray:
        if f == 0.0:
            return zp  # round(0 / scale) is 0 for any scale
        if out_scale is None or not float(out_scale) > 0:
            raise ValueError(f"Activation {act!r} needs a positive output scale, "
                             f"not {out_scale!r}")
        with np.errstate(over="ignore"):
            r = np.float32(f) / np.float32(out_scale)
        r = float(r)
        if not math.isfinite(r) or abs(r) > 2 ** 40:
            r = math.copysign(2 ** 40, r)  # saturated by the clamp below in any case
        return zp + _round_half_away(r)

    lo = np.full_like(zp, qmin)
    hi = np.full_like(zp, qmax)
    if act == "relu":
        lo = np.maximum(qmin, quantize(0.0))
    elif act == "relu6":
        lo = np.maximum(qmin, quantize(0.0))
        hi = np.minimum(qmax, quantize(6.0))
    elif act == "relu_n1_to_1":
        lo = np.maximum(qmin, quantize(-1.0))
        hi = np.minimum(qmax, quantize(1.0))
    return _out(lo), _out(hi)


def requantize(acc: npt.ArrayLike, bias: npt.ArrayLike, multiplier: npt.ArrayLike,
               shift: npt.ArrayLike, zero_point: npt.ArrayLike, out_bits: int | np.integer = 8,
               signed: bool = True, act: str = "none", *, out_scale: float | None = None,
               act_min: npt.ArrayLike | None = None, act_max: npt.ArrayLike | None = None,
               channel: npt.ArrayLike | None = None) -> np.ndarray | np.int64:
    """Integer-only requantization of int32 accumulators (see the module docstring).

    Parameters
    ----------
    acc, bias : array_like of int
        int32 accumulators and biases (broadcast together).
    multiplier, shift, zero_point : int or array_like
        ``M0`` (int32, Q31), shift (-32..31, positive = left) and output zero point. Scalars
        (per-tensor) or arrays that broadcast with ``acc`` (e.g. one per channel along the last
        axis), or, with ``channel``, arrays indexed by ``channel``.
    out_bits, signed : int, bool
        Output type (``int8``: 8, True; ``uint8``: 8, False).
    act : str
        ``"none"``, ``"relu"``, ``"relu6"`` or ``"relu_n1_to_1"`` (see
        :func:`activation_range`; relu6 needs ``out_scale``).
    act_min, act_max : int or array_like, optional
        Explicit clamp bounds within the output range; they override ``act``. If
        ``act_min > act_max`` the result is ``act_max`` (max is applied first, as in TFLite).
    channel : array_like of int, optional
        Per-item channel index into ``multiplier``/``shift``/``zero_point`` (and explicit
        ``act_min``/``act_max`` arrays).

    Returns
    -------
    numpy.ndarray or numpy.int64
        Output codes in the ``out_bits`` range (int64).
    """
    out_bits = check_requant_widths(out_bits, signed)
    qmin, qmax = _qrange(out_bits, signed)
    acc = _int32_array("Accumulator", acc)
    bias = _int32_array("Bias", bias)
    m0 = _int32_array("Multiplier", multiplier)
    sh = _check_shift(shift)
    zp = np.asarray(zero_point)
    if zp.dtype.kind not in "iu":
        raise TypeError(f"Zero point must hold integers, not {zp.dtype}")
    zp = zp.astype(np.int64)
    if act_min is None and act_max is None:
        lo, hi = activation_range(act, out_bits, signed, zp, out_scale)
    else:
        dlo, dhi = _qrange(out_bits, signed)
        lo = np.asarray(dlo if act_min is None else act_min, dtype=np.int64)
        hi = np.asarray(dhi if act_max is None else act_max, dtype=np.int64)
        for name, v in (("act_min", lo), ("act_max", hi)):
            if v.size and (v.min() < qmin or v.max() > qmax):
                raise ValueError(f"{name} must be between {qmin} and {qmax}, not "
                                 f"{v[(v < qmin) | (v > qmax)].ravel()[0]}")
    lo, hi = np.asarray(lo), np.asarray(hi)
    if channel is not None:
        ch = np.asarray(channel).astype(np.int64)
        def pick(v: np.ndarray) -> np.ndarray:
            return v[ch] if v.ndim else v
        m0, sh, zp = pick(m0), pick(sh), pick(zp)
        lo, hi = pick(lo), pick(hi)
    x = _wrap32(acc + bias)
    z = multiply_by_quantized_multiplier(x, m0, sh)
    q = np.asarray(z, dtype=np.int64) + zp
    return _out(np.minimum(np.maximum(q, lo), hi))

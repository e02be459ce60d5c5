"""The canonical internal raw float, and the helpers every float operator shares.

A *raw float* (like Berkeley HardFloat's ``rawFloat``) is an encoding taken apart: the sign, the
special-value flags, a signed exponent wide enough never to overflow, and an integer significand.
Its value is ``(-1)**sign * sig * 2**exp``: ``exp`` is the exponent of the significand's *least*
significant bit, exactly as in :class:`hwgen.golden.rounding.Raw`. Subnormals keep their leading
zeros (``sig < 2**man_bits``, ``exp`` that of the smallest normal), unless :func:`unpack` is
asked to normalize them.

Also here: :class:`RoundingMode` (static or run-time rounding mode as one-hot Amaranth values
that constant-fold when static), :func:`exp_shape`, and :func:`sticky_shift_right`.
"""

from collections.abc import Callable
from typing import cast

from amaranth.hdl import (Cat, Const, Module, Mux, Shape, ShapeLike, Signal, Value, ValueLike,
                          signed, unsigned)
from amaranth.lib import data

from ..formats import FRM, ROUNDING_MODES, FloatFormat, parse_format

__all__ = ["raw_layout", "exp_range", "exp_shape", "unpack", "biased_field", "field_offset",
           "RoundingMode", "check_float_format", "check_rounding", "check_latency",
           "sticky_shift_right", "range_shape", "normalize_left", "normalize_stages",
           "shift_stages", "count_leading_zeros", "pipeline_register", "greater_than"]


def range_shape(lo: int, hi: int) -> Shape:
    """The smallest signed shape holding every integer in ``[lo, hi]``."""
    neg = (-lo - 1).bit_length() + 1 if lo < 0 else 1
    return signed(max(neg, max(hi, 0).bit_length() + 1))


def exp_range(fmt: FloatFormat, *, normalize: bool = False) -> tuple[int, int]:
    """``(lo, hi)``: the range of a raw float's LSB exponent for encodings of ``fmt``."""
    lo = fmt.emin - fmt.man_bits
    if normalize and fmt.subnormals:
        lo -= fmt.man_bits
    hi = ((1 << fmt.exp_bits) - 1) - fmt.bias - fmt.man_bits
    return lo, hi


def exp_shape(fmt: FloatFormat, *, normalize: bool = False) -> Shape:
    """Signed shape of a raw float's exponent for ``fmt`` (see :func:`exp_range`)."""
    return range_shape(*exp_range(fmt, normalize=normalize))


def raw_layout(sig_width: int, exp_shp: ShapeLike) -> data.StructLayout:
    """The raw-float layout: ``sign, nan, snan, inf, zero`` (1 bit each), ``exp``, ``sig``.

    ``zero`` is set for an exact zero (``sig == 0`` and not a special); ``sig`` and ``exp`` are
    meaningless for NaN and Inf.
    """
    return data.StructLayout({
        "sign": 1, "nan": 1, "snan": 1, "inf": 1, "zero": 1,
        "exp": exp_shp, "sig": unsigned(sig_width),
    })


def unpack(m: Module, fmt: FloatFormat | str, bits: Value, *, normalize: bool = False,
           name: str = "raw") -> data.View:
    """Take the encoding ``bits`` of ``fmt`` apart into a raw float (a ``data.View``).

    The logic is added to ``m.d.comb``. With ``normalize=True`` subnormal significands are
    shifted up so the hidden-bit position is always set for nonzero finite values (the exponent
    then reaches ``emin - 2*man_bits``); this costs a leading-zero normalizer, and only the adder
    needs it, for operand formats whose subnormals overlap the other operand's normal range.
    """
    fmt = cast(FloatFormat, parse_format(fmt))
    mb, eb = fmt.man_bits, fmt.exp_bits
    p = fmt.precision
    shp = exp_shape(fmt, normalize=normalize)
    raw = Signal(raw_layout(p, shp), name=name)
    sign = bits[fmt.width - 1]
    field = bits[mb:mb + eb]
    mant = bits[:mb] if mb else Const(0, 1)
    top = (1 << eb) - 1
    normal = field != 0
    if fmt.specials == "ieee":
        special = field == top
        nan = special & (mant != 0)
        inf = special & (mant == 0)
        snan = nan & ~bits[mb - 1]
    elif fmt.specials == "fn":
        nan = bits[:fmt.width - 1] == (1 << (fmt.width - 1)) - 1
        inf = snan = Const(0, 1)
    else:
        nan = inf = snan = Const(0, 1)
    if fmt.subnormals:
        sig = Mux(normal, (1 << mb) | mant, mant) if mb else normal
        zero = ~normal & (mant == 0)
    else:
        sig = Mux(normal, (1 << mb) | mant, 0) if mb else normal
        zero = ~normal
    # Subnormals share the exponent of the smallest normal number.
    exp = biased_field(fmt, bits) - field_offset(fmt)
    m.d.comb += [
        raw.sign.eq(sign), raw.nan.eq(nan), raw.snan.eq(snan), raw.inf.eq(inf),
        raw.zero.eq(zero & ~nan & ~inf),
    ]
    if normalize and fmt.subnormals and mb:
        # Only subnormals have leading zeros (at most man_bits of them).
        lz_sig, lz = normalize_left(m, sig, p, max_shift=mb)
        m.d.comb += [raw.sig.eq(lz_sig), raw.exp.eq(exp - lz)]
    else:
        m.d.comb += [raw.sig.eq(sig), raw.exp.eq(exp)]
    return raw


def field_offset(fmt: FloatFormat) -> int:
    """``bias + man_bits``: what :func:`biased_field` exceeds the raw exponent of
    :func:`unpack` (its significand's LSB weight) by."""
    return fmt.bias + fmt.man_bits


def biased_field(fmt: FloatFormat, bits: Value) -> Value:
    """The biased exponent field of the encoding ``bits``, 1 for a subnormal or zero: the
    exponent of :func:`unpack` plus :func:`field_offset`, without the subtraction."""
    field = bits[fmt.man_bits:fmt.man_bits + fmt.exp_bits]
    return Cat(field[0] | (field == 0), field[1:])


def greater_than(x: ValueLike, c: int) -> Value:
    """``x > c`` for a constant ``c``, as an AND/OR chain over ``x``'s bits (from the least
    significant: a bit where ``c`` has a 1 must be set too, a set bit where ``c`` has a 0
    decides), which LUT mapping turns into a tree. Synthesis maps a compare operator to a
    carry chain as long as ``x`` even when ``c`` is constant."""
    x = Value.cast(x)
    n = len(x)
    bits = x.as_unsigned()
    if x.shape().signed:
        # offset binary: flipping the sign bit orders signed values as unsigned ones
        bits, c = bits ^ (1 << (n - 1)), c + (1 << (n - 1))
    if c < 0:
        return Const(1, 1)
    if c >= (1 << n) - 1:
        return Const(0, 1)
    res: Value = Const(0, 1)
    for i in range(n):
        res = (bits[i] & res) if (c >> i) & 1 else (bits[i] | res)
    return res


def normalize_left(
        m: Module, value: Value, width: int, *, max_shift: int | None = None,
        limit: Value | None = None, name: str = "norm", keep: int | None = None,
        between: Callable[[int, Value, list[tuple[int, Value]], Value, Value | None],
                          tuple[Value, list[tuple[int, Value]], Value, Value | None]]
        | None = None) -> tuple[Value, Value]:
    """Shift ``value`` (``width`` bits) left until its top bit is set, by stages of 2**k.

    Returns ``(shifted, amount)``. ``max_shift`` bounds the leading zeros the caller can have
    (smaller stages only); ``limit`` (an unsigned Value, at most ``width - 1``) caps the shift:
    the result is shifted by ``min(leading_zeros, limit)``. A stage shifts by 2**k when the top
    2**k bits are zero and the cap allows it; with a cap the greedy choice is exact because the
    ``tight`` flag tracks whether the amount so far equals the cap's high bits.

    ``keep``: only the top ``keep`` bits of the result matter one by one, the others only
    through their OR (a rounder's kept bits and guard bits above its sticky bits). After
    each stage, the bits that the remaining stages cannot bring up into those ``keep`` are
    ORed into bit 0 and the others cleared, so the later stages shift fewer bits (bit 0
    stays below the top ``keep`` bits whatever the remaining shift).

    ``between(i, cur, amount_bits, tight, limit)``, if given, is called after the ``i``-th
    stage done (``i`` from 1, before every stage but the first) and returns those four values,
    possibly through pipeline registers (``amount_bits`` is a list of ``(k, bit)``).
    :func:`normalize_stages` says how many stages there are.
    """
    if max_shift is None:
        max_shift = width - 1
    stages = max(max_shift, 1).bit_length()
    cur = value
    amount_bits = []
    tight = Const(1, 1)
    done = 0
    for k in reversed(range(stages)):
        s = 1 << k
        if s >= width:
            amount_bits.append((k, Const(0, 1)))
            continue
        if between is not None and done:
            cur, amount_bits, tight, limit = between(done, cur, amount_bits, tight, limit)
        done += 1
        zeros = cur[width - s:width] == 0
        if limit is not None:
            lbit = limit[k] if k < len(limit) else Const(0, 1)
            do = zeros & (~tight | lbit)
            tight = tight & (do | ~lbit)
        else:
            do = zeros
        sig = Signal(width, name=f"{name}_s{k}")
        m.d.comb += sig.eq(Mux(do, cur << s, cur)[:width])
        cur = sig
        amount_bits.append((k, do))
        cut = width - keep - (s - 1) if keep is not None else 0
        if cut >= 2:
            # the remaining stages shift by at most s - 1
            cur = Cat(cur[:cut] != 0, Const(0, cut - 1), cur[cut:])
    amount = Value.cast(0)
    for k, bit in amount_bits:
        amount = amount | (bit.as_unsigned() << k)
    return cur, amount


def count_leading_zeros(value: ValueLike, width: int) -> tuple[Value, Value]:
    """``(count, all_zero)``: the leading zeros of ``value`` (``width`` bits) by a binary tree
    (``log2`` levels of 2:1 multiplexers), and whether ``value`` is zero.

    ``count`` is meaningful only when ``all_zero`` is 0 (the value is padded at the bottom
    with ones to a power of two).
    """
    size = 1 << max(width - 1, 0).bit_length()
    v = Value.cast(value)[:width]
    padded = size > width
    if padded:
        v = Cat(Const((1 << (size - width)) - 1, size - width), v)

    def tree(bits, n):
        if n == 1:
            return ~bits[0], None
        if n == 2:
            return ~bits[1] & ~bits[0], ~bits[1]
        zh, ch = tree(bits[n // 2:], n // 2)
        zl, cl = tree(bits[:n // 2], n // 2)
        low = Mux(zh, cl, ch) if ch is not None else Const(0, 0)
        return zh & zl, Cat(low, zh)

    zero, count = tree(v, size)
    if padded:
        zero = v[size - width:] == 0
    return (Const(0, 1) if count is None else count), zero


def normalize_stages(width: int, max_shift: int | None = None) -> int:
    """How many shift stages :func:`normalize_left` builds for these arguments."""
    if max_shift is None:
        max_shift = width - 1
    return sum(1 for k in range(max(max_shift, 1).bit_length()) if (1 << k) < width)


def shift_stages(max_amount: int) -> int:
    """How many stages :func:`sticky_shift_right` builds for ``max_amount``."""
    return max(max_amount, 0).bit_length()


def pipeline_register(m: Module, value: ValueLike | None, name: str) -> Value | None:
    """``value`` through a reset-less ``sync`` register called ``name``; constants (and
    ``None``) pass as they are (nothing to register)."""
    if value is None or isinstance(value, Const):
        return value
    value = Value.cast(value)
    reg = Signal(value.shape(), name=name, reset_less=True)
    m.d.sync += reg.eq(value)
    return reg


def sticky_shift_right(
        m: Module, value: Value, width: int, amount: Value, max_amount: int, *,
        name: str = "rsh",
        between: Callable[[int, Value, Value], tuple[Value, Value]] | None = None) -> Value:
    """``value >> amount`` (``width`` bits) with every shifted-out one ORed into bit 0.

    ``amount`` must not exceed ``max_amount`` (the caller clamps it). Bit 0 of the result is a
    "jam" bit: it only stands for "something nonzero below", so callers use this only where
    bit 0 lies below every rounding guard bit. The stages shift by 1, 2, 4, ...;
    ``between(i, cur, amount)``, if given, is called after ``i`` stages (from 1, before every
    stage but the first) and returns ``(cur, amount)``, possibly through pipeline registers.
    """
    cur = value
    for k in range(max(max_amount, 1).bit_length()):
        s = 1 << k
        if s > max_amount:
            break
        if between is not None and k:
            cur, amount = between(k, cur, amount)
        lost = cur[:min(s, width)] != 0
        shifted = (cur >> s) | lost
        nxt = Signal(width, name=f"{name}_s{k}")
        m.d.comb += nxt.eq(Mux(amount[k], shifted, cur))
        cur = nxt
    return cur


class RoundingMode:
    """The rounding mode as one-hot 1-bit values: ``rne rtz rdn rup rna``.

    ``rounding`` is a static mode name (the values are constants that fold away) or
    ``"dynamic"`` with ``rm`` a 3-bit RISC-V ``frm`` code (5..7 behave as rne).
    """

    def __init__(self, rounding: str, rm: Value | None = None) -> None:
        if rounding == "dynamic":
            self.rtz = rm == FRM["rtz"]
            self.rdn = rm == FRM["rdn"]
            self.rup = rm == FRM["rup"]
            self.rna = rm == FRM["rna"]
            self.rne = ~(self.rtz | self.rdn | self.rup | self.rna)
        else:
            for mode in ROUNDING_MODES:
                setattr(self, mode, Const(int(mode == rounding), 1))


def check_float_format(fmt: FloatFormat | str, what: str = "Format") -> FloatFormat:
    """Cast a format name or :class:`FloatFormat`; raise a one-line TypeError/ValueError."""
    if isinstance(fmt, str):
        f = parse_format(fmt)
        if not isinstance(f, FloatFormat):
            raise ValueError(f"{what} must be a float format (eXmY or a float preset), "
                             f"not {fmt!r}")
        return f
    if isinstance(fmt, FloatFormat):
        return fmt
    raise TypeError(f"{what} must be a FloatFormat or a format name, not {fmt!r}")


def check_rounding(rounding: str) -> str:
    allowed = ROUNDING_MODES + ("dynamic",)
    if not isinstance(rounding, str) or rounding not in allowed:
        raise ValueError(f"Rounding must be one of {', '.join(allowed)}, not {rounding!r}")
    return rounding


def check_latency(latency: int, max_latency: int) -> int:
    if not isinstance(latency, int) or isinstance(latency, bool):
        raise TypeError(f"Latency must be an integer from 0 to {max_latency}, not {latency!r}")
    if not 0 <= latency <= max_latency:
        raise ValueError(f"Latency must be an integer from 0 to {max_latency}, not {latency!r}")
    return latency

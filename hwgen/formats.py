"""Number formats: what a number is.

A :class:`FloatFormat` is a sign bit, ``exp_bits`` exponent bits with a bias and ``man_bits``
stored mantissa bits with a hidden 1 (0 for subnormals). ``specials`` says what the top of the
exponent range means:

``"ieee"``
    The all-ones exponent is reserved: mantissa 0 is ±Inf, anything else NaN (IEEE 754).
``"fn"``
    No infinities; only the all-ones pattern (exponent and mantissa) is NaN (OCP FP8 E4M3).
``"none"``
    Every pattern is a finite number (OCP FP6/FP4, and the formats of Hill et al.).

``overflow`` is the policy for a rounded result above the largest finite value: ``"inf"``
(IEEE: to Inf, or to the largest finite value in the directed modes that round toward zero),
``"nan"`` (the same rule with NaN in place of Inf, as ml_dtypes does for E4M3) or
``"saturate"`` (always the largest finite value). The default follows ``specials``.

This module imports nothing from the rest of hwgen: every other layer stands on it.
"""

import re
from fractions import Fraction
from typing import Any, Literal, overload

__all__ = [
    "FLAG_INEXACT", "FLAG_UNDERFLOW", "FLAG_OVERFLOW", "FLAG_INVALID", "FRM",
    "FloatFormat", "IntFormat", "PRESETS", "ROUNDING_MODES", "SPECIALS", "OVERFLOW_POLICIES",
    "parse_format", "MAX_EXP_BITS", "MAX_MAN_BITS",
]

#: Rounding modes, in the order of RISC-V ``frm`` where it has them (see ``FRM`` in golden).
ROUNDING_MODES = ("rne", "rtz", "rdn", "rup", "rna")
SPECIALS = ("ieee", "fn", "none")

#: Run-time rounding-mode codes, as RISC-V's ``frm`` (other codes behave as rne).
FRM = {"rne": 0, "rtz": 1, "rdn": 2, "rup": 3, "rna": 4}

#: Exception flag bits, as in the ``flags`` output of every float unit.
FLAG_INEXACT = 1 << 0
FLAG_UNDERFLOW = 1 << 1
FLAG_OVERFLOW = 1 << 2
FLAG_INVALID = 1 << 3
OVERFLOW_POLICIES = ("inf", "nan", "saturate")

#: Limits of the golden model: significands are handled in 64-bit integers, and a product of
#: two significands (2 × 24 bits) plus guard bits must fit.
MAX_EXP_BITS = 11
MAX_MAN_BITS = 23

_DEFAULT_OVERFLOW = {"ieee": "inf", "fn": "nan", "none": "saturate"}


class FloatFormat:
    """A binary floating-point format ``eXmY``.

    Parameters
    ----------
    exp_bits : int
        Exponent width, 1 to ``MAX_EXP_BITS``.
    man_bits : int
        Stored mantissa (fraction) width, 0 to ``MAX_MAN_BITS``.
    bias : int or None
        Exponent bias; ``2**(exp_bits-1) - 1`` when ``None``.
    subnormals : bool
        When ``False`` subnormal encodings read as zero and tiny results flush to zero.
    specials : str
        ``"ieee"``, ``"fn"`` or ``"none"`` (see the module docstring).
    overflow : str or None
        ``"inf"``, ``"nan"`` or ``"saturate"``; ``None`` picks the default of ``specials``.

    Raises
    ------
    TypeError
        A width or the bias is not an integer.
    ValueError
        A width is out of range, ``specials``/``overflow`` is unknown, or the overflow policy
        needs a special value the format does not have.
    """

    def __init__(self, exp_bits: int, man_bits: int, *, bias: int | None = None,
                 subnormals: bool = True, specials: str = "ieee",
                 overflow: str | None = None) -> None:
        if not isinstance(exp_bits, int) or isinstance(exp_bits, bool):
            raise TypeError(f"Exponent width must be an integer, not {exp_bits!r}")
        if not isinstance(man_bits, int) or isinstance(man_bits, bool):
            raise TypeError(f"Mantissa width must be an integer, not {man_bits!r}")
        if not 1 <= exp_bits <= MAX_EXP_BITS:
            raise ValueError(
                f"Exponent width must be between 1 and {MAX_EXP_BITS}, not {exp_bits!r}")
        if not 0 <= man_bits <= MAX_MAN_BITS:
            raise ValueError(
                f"Mantissa width must be between 0 and {MAX_MAN_BITS}, not {man_bits!r}")
        if specials not in SPECIALS:
            raise ValueError(
                f"Specials must be one of {', '.join(SPECIALS)}, not {specials!r}")
        if specials == "ieee" and exp_bits < 2:
            raise ValueError(
                f"Exponent width must be at least 2 with specials 'ieee', not {exp_bits!r}")
        if specials == "ieee" and man_bits < 1:
            raise ValueError(
                f"Mantissa width must be at least 1 with specials 'ieee' (NaN needs a "
                f"mantissa bit), not {man_bits!r}")
        if specials == "fn" and exp_bits + man_bits < 2:
            raise ValueError(
                f"Format e{exp_bits}m{man_bits} is too narrow for specials 'fn'")
        if bias is None:
            bias = (1 << (exp_bits - 1)) - 1
        if not isinstance(bias, int) or isinstance(bias, bool):
            raise TypeError(f"Bias must be an integer, not {bias!r}")
        if abs(bias) > (1 << MAX_EXP_BITS):
            raise ValueError(f"Bias must be between {-(1 << MAX_EXP_BITS)} and "
                             f"{1 << MAX_EXP_BITS}, not {bias!r}")
        if overflow is None:
            overflow = _DEFAULT_OVERFLOW[specials]
        if overflow not in OVERFLOW_POLICIES:
            raise ValueError(
                f"Overflow policy must be one of {', '.join(OVERFLOW_POLICIES)}, "
                f"not {overflow!r}")
        if overflow == "inf" and specials != "ieee":
            raise ValueError(f"Overflow policy 'inf' needs specials 'ieee', not {specials!r}")
        if overflow == "nan" and specials == "none":
            raise ValueError("Overflow policy 'nan' needs a NaN; specials 'none' has none")
        self._exp_bits = exp_bits
        self._man_bits = man_bits
        self._bias = bias
        self._subnormals = bool(subnormals)
        self._specials = specials
        self._overflow = overflow
        # Every value must be exact in a float64 (decode returns float64).
        if self.emax > 1023 or self.emin - man_bits < -1074:
            raise ValueError(f"Bias {bias!r} puts e{exp_bits}m{man_bits} outside the float64 "
                             f"range the golden model decodes to")

    # -- parameters ------------------------------------------------------------------------
    exp_bits = property(lambda self: self._exp_bits)
    man_bits = property(lambda self: self._man_bits)
    bias = property(lambda self: self._bias)
    subnormals = property(lambda self: self._subnormals)
    specials = property(lambda self: self._specials)
    overflow = property(lambda self: self._overflow)

    # -- derived facts ---------------------------------------------------------------------
    @property
    def width(self) -> int:
        """Total bits: sign + exponent + mantissa."""
        return 1 + self._exp_bits + self._man_bits

    total_bits = width

    @property
    def precision(self) -> int:
        """Significand bits including the hidden one."""
        return self._man_bits + 1

    @property
    def emin(self) -> int:
        """Unbiased exponent of the smallest normal number."""
        return 1 - self._bias

    @property
    def max_exp_field(self) -> int:
        """Largest biased exponent field that holds finite numbers."""
        top = (1 << self._exp_bits) - 1
        if self._specials == "ieee":
            return top - 1
        if self._specials == "fn" and self._man_bits == 0:
            return top - 1
        return top

    @property
    def max_man_field(self) -> int:
        """Largest mantissa field at ``max_exp_field`` that holds a finite number."""
        full = (1 << self._man_bits) - 1
        if self._specials == "fn" and self._man_bits > 0:
            return full - 1
        return full

    @property
    def emax(self) -> int:
        """Unbiased exponent of the largest finite number."""
        return self.max_exp_field - self._bias

    @property
    def max_finite(self) -> Fraction:
        """Largest finite value, exactly (a :class:`~fractions.Fraction`)."""
        sig = (1 << self._man_bits) | self.max_man_field
        if self.max_exp_field == 0:  # only subnormals (e1 formats)
            sig = self.max_man_field
            return Fraction(sig) * _pow2(self.emin - self._man_bits)
        return Fraction(sig) * _pow2(self.emax - self._man_bits)

    @property
    def min_normal(self) -> Fraction:
        """Smallest positive normal value, exactly."""
        return _pow2(self.emin)

    @property
    def min_subnormal(self) -> Fraction:
        """Smallest positive value, exactly (the min normal when subnormals are off)."""
        if not self._subnormals or self._man_bits == 0:
            return self.min_normal
        return _pow2(self.emin - self._man_bits)

    @property
    def epsilon(self) -> Fraction:
        """Distance from 1 to the next larger value: ``2**-man_bits``."""
        return _pow2(-self._man_bits)

    @property
    def has_inf(self) -> bool:
        return self._specials == "ieee"

    @property
    def has_nan(self) -> bool:
        return self._specials != "none"

    @property
    def nan_bits(self) -> int | None:
        """The canonical quiet NaN (positive, top mantissa bit set), or ``None``."""
        if self._specials == "ieee":
            qbit = (1 << (self._man_bits - 1)) if self._man_bits else 0
            return (((1 << self._exp_bits) - 1) << self._man_bits) | qbit
        if self._specials == "fn":
            return (1 << (self._exp_bits + self._man_bits)) - 1
        return None

    @property
    def inf_bits(self) -> int | None:
        """+Inf, or ``None``."""
        if self._specials == "ieee":
            return ((1 << self._exp_bits) - 1) << self._man_bits
        return None

    @property
    def max_bits(self) -> int:
        """Encoding of +max_finite."""
        return (self.max_exp_field << self._man_bits) | self.max_man_field

    @property
    def sign_mask(self) -> int:
        return 1 << (self._exp_bits + self._man_bits)

    # -- identity --------------------------------------------------------------------------
    def _key(self) -> tuple[int, int, int, bool, str, str]:
        return (self._exp_bits, self._man_bits, self._bias, self._subnormals,
                self._specials, self._overflow)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FloatFormat) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    @property
    def name(self) -> str:
        """Shortest name that :func:`parse_format` reads back to this format.

        A preset's name when the format equals a preset; otherwise ``eXmY`` followed by
        ``_fn``/``_none`` (specials other than ieee), ``_bN`` (non-default bias, ``m`` for
        minus), ``_ftz`` (no subnormals), ``_sat``/``_ovnan`` (non-default overflow). Always a
        valid Verilog identifier fragment.
        """
        for preset_name, fmt in PRESETS.items():
            if fmt == self:
                return preset_name
        base = f"e{self._exp_bits}m{self._man_bits}"
        parts = [base]
        bare = PRESETS[base].specials if base in PRESETS else "ieee"
        if self._specials != bare:
            parts.append(self._specials)
        if self._bias != (1 << (self._exp_bits - 1)) - 1:
            parts.append(f"b{self._bias}" if self._bias >= 0 else f"bm{-self._bias}")
        if not self._subnormals:
            parts.append("ftz")
        if self._overflow != _DEFAULT_OVERFLOW[self._specials]:
            parts.append({"saturate": "sat", "nan": "ovnan", "inf": "ovinf"}[self._overflow])
        return "_".join(parts)

    def __repr__(self) -> str:
        return (f"FloatFormat({self._exp_bits}, {self._man_bits}, bias={self._bias}, "
                f"subnormals={self._subnormals}, specials={self._specials!r}, "
                f"overflow={self._overflow!r})")

    def __str__(self) -> str:
        return self.name


class IntFormat:
    """A two's-complement (``signed``) or unsigned integer of ``bits`` bits."""

    def __init__(self, bits: int, signed: bool = True) -> None:
        if not isinstance(bits, int) or isinstance(bits, bool):
            raise TypeError(f"Integer width must be an integer, not {bits!r}")
        if not 1 <= bits <= 64:
            raise ValueError(f"Integer width must be between 1 and 64, not {bits!r}")
        if signed and bits < 2:
            raise ValueError(f"Signed integer width must be at least 2, not {bits!r}")
        self._bits = bits
        self._signed = bool(signed)

    bits = property(lambda self: self._bits)
    width = bits
    total_bits = bits
    signed = property(lambda self: self._signed)

    @property
    def min_value(self) -> int:
        return -(1 << (self._bits - 1)) if self._signed else 0

    @property
    def max_value(self) -> int:
        return (1 << (self._bits - 1)) - 1 if self._signed else (1 << self._bits) - 1

    @property
    def name(self) -> str:
        return f"{'int' if self._signed else 'uint'}{self._bits}"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, IntFormat) and
                (self._bits, self._signed) == (other._bits, other._signed))

    def __hash__(self) -> int:
        return hash((self._bits, self._signed))

    def __repr__(self) -> str:
        return f"IntFormat({self._bits}, signed={self._signed})"

    def __str__(self) -> str:
        return self.name


def _pow2(n: int) -> Fraction:
    return Fraction(2) ** n


PRESETS = {
    "fp32": FloatFormat(8, 23),
    "fp16": FloatFormat(5, 10),
    "bf16": FloatFormat(8, 7),
    "tf32": FloatFormat(8, 10),
    "e4m3": FloatFormat(4, 3, specials="fn"),
    "e5m2": FloatFormat(5, 2),
    "e3m2": FloatFormat(3, 2, specials="none"),
    "e2m3": FloatFormat(2, 3, specials="none"),
    "e2m1": FloatFormat(2, 1, specials="none"),
}

_NAME_RE = re.compile(r"e(\d+)m(\d+)((?:_[a-z0-9]+)*)")
_INT_RE = re.compile(r"(u?)int(\d+)")
_SUFFIX_HELP = "_ieee, _fn, _none, _bN, _bmN, _ftz, _sat, _ovnan, _ovinf"


@overload
def parse_format(spec: FloatFormat) -> FloatFormat: ...
@overload
def parse_format(spec: IntFormat) -> IntFormat: ...
@overload
def parse_format(spec: Literal["fp32", "fp16", "bf16", "tf32", "e4m3", "e5m2", "e3m2", "e2m3",
                               "e2m1"]) -> FloatFormat: ...
@overload
def parse_format(spec: FloatFormat | IntFormat | str) -> FloatFormat | IntFormat: ...


def parse_format(spec: FloatFormat | IntFormat | str) -> FloatFormat | IntFormat:
    """Turn a name into a format.

    Accepts a :class:`FloatFormat`/:class:`IntFormat` (returned as is), a preset name
    (``fp32 fp16 bf16 tf32 e4m3 e5m2 e3m2 e2m3 e2m1``), ``intN``/``uintN``, or ``eXmY``
    with optional suffixes (``_fn``, ``_none``, ``_ieee``, ``_bN``/``_bmN`` bias, ``_ftz``,
    ``_sat``/``_ovnan``/``_ovinf``). A bare ``eXmY`` that is not a preset has IEEE specials.

    Raises
    ------
    TypeError
        ``spec`` is not a string or format.
    ValueError
        The name is unknown or its widths are out of range.
    """
    if isinstance(spec, (FloatFormat, IntFormat)):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"Format must be a name or a FloatFormat/IntFormat, not {spec!r}")
    name = spec.strip().lower()
    if name in PRESETS:
        return PRESETS[name]
    m = _INT_RE.fullmatch(name)
    if m:
        try:
            return IntFormat(int(m.group(2)), signed=not m.group(1))
        except ValueError as err:
            raise ValueError(f"Invalid format {spec!r}: {err}") from None
    m = _NAME_RE.fullmatch(name)
    if not m:
        raise ValueError(
            f"Unknown format {spec!r}; expected a preset ({', '.join(PRESETS)}), "
            f"intN/uintN, or eXmY with optional suffixes {_SUFFIX_HELP}")
    e, mb = int(m.group(1)), int(m.group(2))
    suffixes = [s for s in m.group(3).split("_") if s]
    kw: dict[str, Any] = {}
    preset = PRESETS.get(f"e{e}m{mb}")
    if preset is not None and not suffixes:
        return preset
    seen: dict[str | None, str] = {}
    for s in suffixes:
        kind = ("specials" if s in SPECIALS else "subnormals" if s == "ftz" else
                "overflow" if s in ("sat", "ovnan", "ovinf") else
                "bias" if re.fullmatch(r"bm?\d+", s) else None)
        if kind is not None and kind in seen:
            raise ValueError(f"Format suffixes {seen[kind]!r} and {s!r} in {spec!r} both set "
                             f"the {kind}; give one")
        seen[kind] = s
        if s in SPECIALS:
            kw["specials"] = s
        elif s == "ftz":
            kw["subnormals"] = False
        elif s in ("sat", "ovnan", "ovinf"):
            kw["overflow"] = {"sat": "saturate", "ovnan": "nan", "ovinf": "inf"}[s]
        elif re.fullmatch(r"bm?\d+", s):
            kw["bias"] = -int(s[2:]) if s[1] == "m" else int(s[1:])
        else:
            raise ValueError(f"Unknown format suffix {s!r} in {spec!r}; "
                             f"allowed: {_SUFFIX_HELP}")
    if preset is not None and "specials" not in kw:
        kw["specials"] = preset.specials  # e4m3_ftz keeps e4m3's fn specials
    try:
        return FloatFormat(e, mb, **kw)
    except ValueError as err:
        raise ValueError(f"Invalid format {spec!r}: {err}") from None

"""Board PLLs: divider parameters for a requested clock, and the Amaranth module that makes it.

Two families, each with the arithmetic of its Project IceStorm / Project Trellis calculator
reproduced here (and checked against the real tools in ``tests/test_pll.py``):

* iCE40 ``SB_PLL40_PAD`` / ``SB_PLL40_CORE`` in ``SIMPLE`` feedback, as ``icepll`` computes it
  (``yowasp-icepll -i IN -o OUT``): ``F_PFD = F_IN / (DIVR + 1)``,
  ``F_VCO = F_PFD · (DIVF + 1)``, ``F_OUT = F_VCO / 2**DIVQ``; the search goes through DIVR
  0-15, DIVF 0-127, DIVQ 1-6 in that order, keeps PFD in 10-133 MHz and VCO in 533-1066 MHz,
  and takes the first setting whose output is closest to the request (double precision).
  ``FILTER_RANGE`` follows the PFD frequency.
* ECP5 ``EHXPLLL`` with ``CLKOP`` feedback, as ``ecppll`` computes it
  (``yowasp-ecppll -i IN -o OUT``): ``F_PFD = F_IN / CLKI_DIV``,
  ``F_VCO = F_PFD · CLKFB_DIV · CLKOP_DIV``, ``F_OUT = F_VCO / CLKOP_DIV``; the search goes
  through CLKI_DIV 1-128, CLKFB_DIV 1-80, CLKOP_DIV 1-128, keeps PFD in 3.125-400 MHz and
  VCO in 400-800 MHz, and takes the output closest to the request, ties going to the VCO
  closest to 600 MHz, then to the first found. ``ecppll`` does this in single precision
  (``float``), and so does this module (numpy ``float32``), so that the same setting is
  chosen; ``CLKOP_CPHASE`` is ecppll's half-period phase, computed its way (about
  ``CLKOP_DIV / 2`` rounded down, sometimes one less through a single-precision rounding:
  2 for ``CLKOP_DIV`` 6, 4 for 8), ``CLKOP_FPHASE`` 0.

The frequencies a :class:`PLLConfig` reports (``output_mhz``, ``pfd_mhz``, ``vco_mhz``) are
those of its dividers, computed from the input frequency with one product and one quotient
(so one frequency is the same float whichever dividers make it); the calculators print the
same numbers (icepll to 3 decimals, ecppll its single-precision ones to 6 digits).

A request the PLL cannot make raises :exc:`ValueError` naming the frequency and the range it
can make from that input clock: the request must lie inside the family's output range
(iCE40 16-275 MHz, ECP5 10-400 MHz, the limits both calculators apply) and the closest
setting must too (from 12 MHz an iCE40 makes 270 or 276 MHz near the top of its range:
275 MHz would give 276, which is out of range, so it is refused).

:class:`ICE40PLL` and :class:`ECP5PLL` (or :func:`make_pll`, which picks one from the
configuration's family) instantiate the primitive for a clock pin or a clock signal, create a
clock domain on its output and hold that domain in reset until the PLL has locked.
:func:`pll_frequencies`, :func:`pll_at_most` and :func:`pll_frequencies_near` list what a PLL
can make from an input clock, for a search over clock frequencies.
"""

import math
import numbers
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from amaranth.hdl import (ClockDomain, ClockSignal, Const, Elaboratable, Instance, IOPort,
                          Module, ResetSignal, Signal, Value)
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer

from hwgen.elaboratables import not_built

__all__ = ["PLLLimits", "PLL_LIMITS", "PLLConfig", "pll_config", "ice40_pll", "ecp5_pll",
           "pll_frequencies", "pll_at_most", "pll_frequencies_near", "ICE40PLL", "ECP5PLL",
           "make_pll", "add_pll", "pll_family", "platform_pll"]


@dataclass(frozen=True)
class PLLLimits:
    """Frequency ranges (MHz, inclusive) a family's PLL works in, as its calculator checks them.

    Attributes
    ----------
    name : str
        The family as people write it (``iCE40``).
    input_mhz, pfd_mhz, vco_mhz, output_mhz : tuple of float
        ``(low, high)`` of the reference clock, the phase detector, the VCO and the output.
    """
    name: str
    input_mhz: tuple
    pfd_mhz: tuple
    vco_mhz: tuple
    output_mhz: tuple


#: The limits ``icepll`` (iCE40 LP/HX/UltraPlus datasheets) and ``ecppll`` (ECP5 sysCLOCK
#: guide) apply, by family name (the ``family`` of :data:`hwgen.flow.devices.DEVICES`).
PLL_LIMITS = {
    "ice40": PLLLimits("iCE40", input_mhz=(10.0, 133.0), pfd_mhz=(10.0, 133.0),
                       vco_mhz=(533.0, 1066.0), output_mhz=(16.0, 275.0)),
    "ecp5": PLLLimits("ECP5", input_mhz=(8.0, 400.0), pfd_mhz=(3.125, 400.0),
                      vco_mhz=(400.0, 800.0), output_mhz=(10.0, 400.0)),
}

# Divider ranges the calculators search (iCE40: SIMPLE feedback lets DIVF use all 7 bits).
_ICE40_DIVR = range(16)
_ICE40_DIVF = range(128)
_ICE40_DIVQ = range(1, 7)
_ECP5_CLKI_DIV = 128
_ECP5_CLKFB_DIV = 80
_ECP5_CLKOP_DIV = 128


@dataclass(frozen=True)
class PLLConfig:
    """One PLL setting: what was asked, what the dividers make, and the primitive parameters.

    Attributes
    ----------
    family : str
        ``"ice40"`` or ``"ecp5"``.
    input_mhz : float
        The reference clock.
    requested_mhz : float
        The output frequency asked for.
    output_mhz : float
        The output frequency the dividers make (exact up to double rounding).
    pfd_mhz, vco_mhz : float
        Phase detector and VCO frequencies of the setting.
    parameters : dict
        The primitive's parameters, name → value (integers and strings): iCE40
        ``FEEDBACK_PATH``, ``DIVR``, ``DIVF``, ``DIVQ``, ``FILTER_RANGE``; ECP5 ``CLKI_DIV``,
        ``CLKFB_DIV``, ``CLKOP_DIV``, ``CLKOP_CPHASE``, ``CLKOP_FPHASE``, ``FEEDBK_PATH``.
    """
    family: str
    input_mhz: float
    requested_mhz: float
    output_mhz: float
    pfd_mhz: float
    vco_mhz: float
    parameters: dict = field(hash=False)

    @property
    def output_hz(self):
        """:attr:`output_mhz` in Hz (what a UART divider is computed from)."""
        return self.output_mhz * 1e6

    @property
    def limits(self):
        """The family's :class:`PLLLimits`."""
        return PLL_LIMITS[self.family]

    def to_dict(self):
        """The setting as plain JSON-able data (for ``report.json``)."""
        return dict(family=self.family, input_mhz=self.input_mhz,
                    requested_mhz=self.requested_mhz, output_mhz=self.output_mhz,
                    pfd_mhz=self.pfd_mhz, vco_mhz=self.vco_mhz,
                    parameters=dict(self.parameters))


def _check_family(family):
    if family not in PLL_LIMITS:
        raise ValueError(f"PLL family must be one of {', '.join(sorted(PLL_LIMITS))}, not "
                         f"{family!r}")
    return PLL_LIMITS[family]


def _check_mhz(value, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number of MHz, not {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{what} must be a positive number of MHz, not {value!r}")
    return value


def _check_input(family, input_mhz):
    lim = _check_family(family)
    input_mhz = _check_mhz(input_mhz, "PLL input frequency")
    lo, hi = lim.input_mhz
    if not lo <= input_mhz <= hi:
        raise ValueError(f"{lim.name} PLL input frequency must be within {lo:g} to {hi:g} MHz, "
                         f"not {input_mhz:g} MHz")
    return lim, input_mhz


# --- iCE40 (icepll) ----------------------------------------------------------------------

def _ice40_settings(f_in):
    """Every valid ``(divr, divf, divq, f_out)`` in icepll's search order; ``f_out`` computed
    as icepll does (double precision, same operations)."""
    (pfd_lo, pfd_hi), (vco_lo, vco_hi) = PLL_LIMITS["ice40"].pfd_mhz, PLL_LIMITS["ice40"].vco_mhz
    for divr in _ICE40_DIVR:
        f_pfd = f_in / (divr + 1)
        if f_pfd < pfd_lo or f_pfd > pfd_hi:
            continue
        for divf in _ICE40_DIVF:
            f_vco = f_pfd * (divf + 1)
            if f_vco < vco_lo or f_vco > vco_hi:
                continue
            for divq in _ICE40_DIVQ:
                yield divr, divf, divq, f_vco * 2.0 ** -divq


def _ice40_filter_range(f_pfd):
    # icepll's loop-filter choice by PFD frequency (the iCE40 sysCLOCK guide's table).
    for bound, value in ((17, 1), (26, 2), (44, 3), (66, 4), (101, 5)):
        if f_pfd < bound:
            return value
    return 6


def _ice40_output(f_in, divr, divf, divq):
    # One product, one quotient: the exact frequency, correctly rounded, whichever dividers
    # make it (icepll's own order of operations can differ from it in the last bit).
    return f_in * (divf + 1) / ((divr + 1) << divq)


def _ice40_search(f_in, f_req):
    best = None
    for divr, divf, divq, f_out in _ice40_settings(f_in):
        # Strictly closer replaces: the first of equally close settings stays (icepll).
        if best is None or abs(f_out - f_req) < abs(best[3] - f_req):
            best = divr, divf, divq, f_out
    return best


def _ice40_config(f_in, f_req):
    best = _ice40_search(f_in, f_req)
    if best is None:
        return None
    divr, divf, divq, _ = best
    f_pfd = f_in / (divr + 1)
    return PLLConfig(
        family="ice40", input_mhz=f_in, requested_mhz=f_req,
        output_mhz=_ice40_output(f_in, divr, divf, divq), pfd_mhz=f_pfd,
        vco_mhz=f_in * (divf + 1) / (divr + 1),
        parameters=dict(FEEDBACK_PATH="SIMPLE", DIVR=divr, DIVF=divf, DIVQ=divq,
                        FILTER_RANGE=_ice40_filter_range(f_pfd)))


# --- ECP5 (ecppll) -----------------------------------------------------------------------

@lru_cache(maxsize=16)
def _ecp5_grid(f_in):
    """ecppll's valid settings for input ``f_in``, in its loop order: ``(dividers, fvco,
    fout)``, ``dividers`` an (N, 3) array of (CLKI_DIV, CLKFB_DIV, CLKOP_DIV), ``fvco`` and
    ``fout`` its single-precision frequencies."""
    f32 = np.float32
    lim = PLL_LIMITS["ecp5"]
    refclk = np.arange(1, _ECP5_CLKI_DIV + 1, dtype=f32)
    fbdiv = np.arange(1, _ECP5_CLKFB_DIV + 1, dtype=f32)
    opdiv = np.arange(1, _ECP5_CLKOP_DIV + 1, dtype=f32)
    fpfd = f32(f_in) / refclk
    # float * float * float, left to right, each rounded to single precision (as in C++).
    fvco = (fpfd[:, None, None] * fbdiv[None, :, None]) * opdiv[None, None, :]
    fout = fvco / opdiv[None, None, :]
    valid = ((fpfd >= f32(lim.pfd_mhz[0])) & (fpfd <= f32(lim.pfd_mhz[1])))[:, None, None] \
        & (fvco >= f32(lim.vco_mhz[0])) & (fvco <= f32(lim.vco_mhz[1]))
    dividers = np.argwhere(valid) + 1     # row-major: the loop order
    result = dividers, fvco[valid], fout[valid]
    for a in result:
        a.setflags(write=False)
    return result


def _ecp5_search(f_in, f_req):
    f32 = np.float32
    dividers, fvco, fout = _ecp5_grid(f_in)
    if not len(dividers):
        return None
    error = np.abs(fout - f32(f_req))
    # ecppll replaces its best on a strictly smaller error, or on an equal error with a VCO
    # strictly closer to 600 MHz: the winner is the smallest error, then the VCO closest to
    # 600 MHz, then the first in loop order.
    tied = np.flatnonzero(error == error.min())
    dist = np.abs(fvco[tied] - f32(600))
    n = tied[int(np.argmax(dist == dist.min()))]
    refclk, fbdiv, opdiv = (int(d) for d in dividers[n])
    return refclk, fbdiv, opdiv, float(fout[n]), float(fvco[n])


def _ecp5_output(f_in, refclk, fbdiv):
    # The exact frequency, correctly rounded (see _ice40_output).
    return f_in * fbdiv / refclk


def _ecp5_cphase(fout32, fvco32):
    # ecppll: float ns_phase = 1/(fout * 1e6) * 0.5;  cphase = (int)(ns_phase * (fvco * 1e6))
    # (the products with 1e6 are in double; ns_phase is rounded to float in between).
    ns_phase = float(np.float32(1 / (fout32 * 1e6) * 0.5))
    return int(ns_phase * (fvco32 * 1e6))


def _ecp5_config(f_in, f_req):
    best = _ecp5_search(f_in, f_req)
    if best is None:
        return None
    refclk, fbdiv, opdiv, fout32, fvco32 = best
    return PLLConfig(
        family="ecp5", input_mhz=f_in, requested_mhz=f_req,
        output_mhz=_ecp5_output(f_in, refclk, fbdiv), pfd_mhz=f_in / refclk,
        vco_mhz=f_in * fbdiv * opdiv / refclk,
        parameters=dict(CLKI_DIV=refclk, CLKFB_DIV=fbdiv, CLKOP_DIV=opdiv,
                        CLKOP_CPHASE=_ecp5_cphase(fout32, fvco32), CLKOP_FPHASE=0,
                        FEEDBK_PATH="CLKOP"))


# --- What a PLL can make -----------------------------------------------------------------

@lru_cache(maxsize=16)
def _frequencies(family, f_in):
    lo, hi = PLL_LIMITS[family].output_mhz
    if family == "ice40":
        outs = (_ice40_output(f_in, r, f, q) for r, f, q, _ in _ice40_settings(f_in))
    else:
        dividers, _, _ = _ecp5_grid(f_in)
        outs = (_ecp5_output(f_in, int(r), int(b)) for r, b in
                np.unique(dividers[:, :2], axis=0))
    return tuple(sorted({f for f in outs if lo <= f <= hi}))


def pll_frequencies(family, input_mhz, *, low=None, high=None):
    """Every output frequency (MHz) the ``family`` PLL makes from ``input_mhz`` within its
    output range, ascending; with ``low``/``high``, only those in ``[low, high]``.

    Each one is exactly what :func:`pll_config` makes when asked for it.

    Raises
    ------
    ValueError
        Unknown family or an input frequency outside the family's input range.
    """
    _, input_mhz = _check_input(family, input_mhz)
    freqs = _frequencies(family, input_mhz)
    low = -math.inf if low is None else _check_mhz(low, "Lowest frequency")
    high = math.inf if high is None else _check_mhz(high, "Highest frequency")
    return [f for f in freqs if low <= f <= high]


def _range_text(lim, input_mhz):
    freqs = _frequencies(lim.name.lower(), input_mhz)
    makes = f"{freqs[0]:g} to {freqs[-1]:g} MHz" if freqs else "nothing"
    return (f"it makes {makes} from a {input_mhz:g} MHz clock "
            f"(output {lim.output_mhz[0]:g}-{lim.output_mhz[1]:g} MHz, "
            f"VCO {lim.vco_mhz[0]:g}-{lim.vco_mhz[1]:g} MHz, "
            f"PFD {lim.pfd_mhz[0]:g}-{lim.pfd_mhz[1]:g} MHz)")


def pll_config(family, input_mhz, output_mhz):
    """The PLL setting closest to ``output_mhz`` from a ``input_mhz`` reference clock, as
    ``icepll`` (``family="ice40"``) or ``ecppll`` (``family="ecp5"``) chooses it.

    Parameters
    ----------
    family : str
        ``"ice40"`` or ``"ecp5"``.
    input_mhz : float
        The board oscillator (12 on the iCEBreaker, 25 on the ULX3S).
    output_mhz : float
        The clock asked for.

    Returns
    -------
    PLLConfig

    Raises
    ------
    TypeError
        A frequency that is not a number.
    ValueError
        Unknown family; an input outside the family's input range; an output the PLL cannot
        make (outside its output range, or whose closest setting is): the message names the
        frequency and the range the PLL makes from that input.
    """
    lim, input_mhz = _check_input(family, input_mhz)
    output_mhz = _check_mhz(output_mhz, "PLL output frequency")
    lo, hi = lim.output_mhz
    config = None
    if lo <= output_mhz <= hi:
        config = (_ice40_config if family == "ice40" else _ecp5_config)(input_mhz, output_mhz)
    if config is None or not lo <= config.output_mhz <= hi:
        got = "" if config is None else f" (its closest is {config.output_mhz:g} MHz)"
        raise ValueError(f"{lim.name} PLL cannot make {output_mhz:g} MHz{got}: "
                         f"{_range_text(lim, input_mhz)}")
    return config


def ice40_pll(input_mhz, output_mhz):
    """:func:`pll_config` for the iCE40 ``SB_PLL40_*`` (``yowasp-icepll -i IN -o OUT``)."""
    return pll_config("ice40", input_mhz, output_mhz)


def ecp5_pll(input_mhz, output_mhz):
    """:func:`pll_config` for the ECP5 ``EHXPLLL`` (``yowasp-ecppll -i IN -o OUT``)."""
    return pll_config("ecp5", input_mhz, output_mhz)


def pll_at_most(family, input_mhz, mhz):
    """The setting of the highest frequency the PLL makes from ``input_mhz`` that is not
    above ``mhz`` (for ``--clock-mhz auto``: "the fastest clock not above what timing allows").

    Raises
    ------
    ValueError
        ``mhz`` is below the lowest frequency the PLL makes from that input (the message names
        the range), or the family/input is bad.
    """
    lim, input_mhz = _check_input(family, input_mhz)
    mhz = _check_mhz(mhz, "PLL output frequency")
    # A hair of tolerance: a request printed from a frequency this module computed.
    below = pll_frequencies(family, input_mhz, high=mhz * (1 + 1e-12))
    if not below:
        raise ValueError(f"{lim.name} PLL cannot make {mhz:g} MHz or less: "
                         f"{_range_text(lim, input_mhz)}")
    config = pll_config(family, input_mhz, below[-1])
    assert config.output_mhz <= mhz * (1 + 1e-12), config
    return config


def pll_frequencies_near(family, input_mhz, mhz, count=3):
    """The frequencies the PLL makes nearest to ``mhz``: up to ``count`` at or below it and
    up to ``count`` above it, ascending."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise TypeError(f"Count must be a positive integer, not {count!r}")
    mhz = _check_mhz(mhz, "PLL output frequency")
    freqs = pll_frequencies(family, input_mhz)
    below = [f for f in freqs if f <= mhz]
    above = [f for f in freqs if f > mhz]
    return below[-count:] + above[:count]


def pll_family(platform):
    """The PLL family (``"ice40"``, ``"ecp5"``) of an amaranth platform (class or instance),
    or None when this module has no PLL for it."""
    from amaranth.vendor import LatticePlatform, SiliconBluePlatform
    cls = platform if isinstance(platform, type) else type(platform)
    if issubclass(cls, SiliconBluePlatform):
        return "ice40"
    if issubclass(cls, LatticePlatform) and str(cls.device).upper().startswith("LFE5U"):
        return "ecp5"
    return None


def _oscillator_mhz(cls):
    # From the class's resources: instantiating the ULX3S platforms looks for openFPGALoader.
    for res in cls.resources:
        if res.name == cls.default_clk and res.number == 0 and res.clock is not None:
            return res.clock.frequency / 1e6
    return None


def platform_pll(platform, output_mhz):
    """:func:`pll_config` for the default clock of an amaranth platform (class or instance):
    the family from the platform, the input from its ``default_clk`` resource
    (``platform_pll(ICEBreakerPlatform, 42)`` is ``ice40_pll(12, 42)``).

    Raises
    ------
    ValueError
        The platform has no PLL here (not an iCE40 or ECP5 part, or no default clock pin),
        or :func:`pll_config`'s errors.
    """
    cls = platform if isinstance(platform, type) else type(platform)
    family = pll_family(cls)
    f_in = _oscillator_mhz(cls) if family else None
    if f_in is None:
        raise ValueError(f"Platform {cls.__name__} has no PLL definition; PLLs are defined for "
                         f"{' and '.join(v.name for v in PLL_LIMITS.values())} parts "
                         f"clocked from a pin")
    return pll_config(family, f_in, output_mhz)


# --- The PLL in the design ---------------------------------------------------------------

class _PLL(Elaboratable):
    """What both families share: the clock and reset of a domain on the PLL output.

    The PLL drives ``ClockSignal(domain)`` and ``ResetSignal(domain)``; the domain is defined
    by its parent or above (Amaranth 0.6 drops domains that a submodule defines and its
    parents use): :func:`add_pll` does both.

    The domain's reset: 1 until the PLL reports lock, then 1 for ``2 + reset_cycles + 1``
    more output-clock cycles (a two-stage reset synchronizer, a counter, a register), then 0.
    If lock drops, the counter is reset asynchronously and the domain's reset is 1 again from
    the next clock edge until lock is back and the count has run again. The domain itself has
    a synchronous reset (Amaranth's default), driven by a register of the same clock, so every
    flip-flop of the domain sees a clean reset; before the PLL clock starts they hold their
    initial (= reset) values from configuration.
    """

    _family: "str | None" = None
    _default_reset_s = 0.0

    def __init__(self, config, clk_in, *, domain="sync", reset_s=None):
        try:
            self._setup(config, clk_in, domain, reset_s)
        except Exception:
            not_built(self)                 # never built: no "created but never used" warning
            raise

    def _setup(self, config, clk_in, domain, reset_s):
        if not isinstance(config, PLLConfig):
            raise TypeError(f"PLL configuration must be a PLLConfig, not {config!r}")
        if config.family != self._family:
            raise ValueError(f"{type(self).__name__} needs a configuration of the "
                             f"{self._family!r} family, not {config.family!r}")
        if not isinstance(domain, str) or not domain:
            raise TypeError(f"Domain name must be a non-empty string, not {domain!r}")
        reset_s = self._default_reset_s if reset_s is None else reset_s
        if isinstance(reset_s, bool) or not isinstance(reset_s, numbers.Real) \
                or not reset_s >= 0:
            raise ValueError(f"Reset time must be a non-negative number of seconds, not "
                             f"{reset_s!r}")
        self.config = config
        self.domain = domain
        self.reset_cycles = math.ceil(reset_s * config.output_hz)
        self.clk_in = self._check_input(clk_in)
        #: The PLL's output clock (the domain's clock).
        self.clk = Signal(name=f"{domain}_pll_clk")
        #: The PLL's lock output, asynchronous to everything.
        self.locked = Signal(name=f"{domain}_pll_locked")

    @staticmethod
    def _port_or_signal(clk_in):
        if isinstance(clk_in, IOPort):
            clk_in = io.SingleEndedPort(clk_in)
        if isinstance(clk_in, io.SingleEndedPort):
            if len(clk_in) != 1 or clk_in.invert[0]:
                raise ValueError(f"PLL input clock port must be one non-inverted pin, not "
                                 f"{clk_in!r}")
            return clk_in
        if isinstance(clk_in, io.PortLike):
            raise TypeError(f"PLL input clock port must be a single-ended port, not "
                            f"{clk_in!r}")
        try:
            value = Value.cast(clk_in)
        except TypeError:
            raise TypeError(f"PLL input clock must be a single-ended port or a 1-bit signal, "
                            f"not {clk_in!r}") from None
        if len(value) != 1:
            raise ValueError(f"PLL input clock must be a 1-bit signal, not {clk_in!r}")
        return value

    _check_input = _port_or_signal

    def elaborate(self, platform):
        m = Module()
        self._instantiate(m)
        por = f"{self.domain}_pll_reset"
        # The domain itself belongs to the parent (see add_pll); this one is private.
        m.domains += ClockDomain(por, async_reset=True, local=True)
        m.d.comb += [ClockSignal(self.domain).eq(self.clk), ClockSignal(por).eq(self.clk)]
        # Lock goes straight into an asynchronously asserted, synchronously released reset
        # of the counter's domain: losing lock resets the count even if the clock stops.
        m.submodules.lock_sync = ResetSynchronizer(~self.locked, domain=por)
        count = Signal(range(self.reset_cycles + 1))
        ready = Signal()
        with m.If(count == self.reset_cycles):
            m.d[por] += ready.eq(1)
        with m.Else():
            m.d[por] += count.eq(count + 1)
        m.d.comb += ResetSignal(self.domain).eq(~ready)
        return m


class ICE40PLL(_PLL):
    """An iCE40 PLL (``SIMPLE`` feedback) making clock domain ``domain``.

    ``clk_in`` a pin (an :class:`amaranth.lib.io.SingleEndedPort`, e.g.
    ``platform.request("clk12", dir="-")``, or an :class:`IOPort`): ``SB_PLL40_PAD``, the pin
    wired straight to the PLL (nextpnr needs it to be a PLL input pad, and the pin then feeds
    only the PLL; the iCEBreaker's 12 MHz pin 35 is the UP5K's). ``clk_in`` a 1-bit signal:
    ``SB_PLL40_CORE`` fed from the fabric (not on the iCEBreaker: the UP5K's one PLL shares
    pin 35's site, so nextpnr cannot place a core PLL while that pin is an input). The output
    is ``PLLOUTGLOBAL`` (global network).

    Parameters
    ----------
    config : PLLConfig
        An ``"ice40"`` setting (:func:`ice40_pll`).
    clk_in : port or signal
        The reference clock.
    domain : str
        The clock domain created (default ``"sync"``).
    reset_s : float
        Seconds the domain's reset stays asserted after lock (default 15 µs, like Amaranth's
        own iCE40 ``sync`` domain: iCE40 block RAMs read as zero for a few µs after
        configuration), counted in output-clock cycles.

    Attributes
    ----------
    primitive : str
        ``"SB_PLL40_PAD"`` or ``"SB_PLL40_CORE"``.
    clk, locked : Signal
        The PLL's output clock and lock output.
    reset_cycles : int
        Output-clock cycles counted after lock before the reset is released.
    """
    _family = "ice40"
    _default_reset_s = 15e-6

    @property
    def primitive(self):
        return "SB_PLL40_PAD" if isinstance(self.clk_in, io.SingleEndedPort) \
            else "SB_PLL40_CORE"

    def _instantiate(self, m):
        p = self.config.parameters
        if isinstance(self.clk_in, io.SingleEndedPort):
            # An IOValue on an "i" port makes the top-level port an input with no buffer of
            # our own: nextpnr puts the SB_IO there and checks that it is the PLL's pad.
            clk_port = dict(i_PACKAGEPIN=self.clk_in.io)
        else:
            clk_port = dict(i_REFERENCECLK=self.clk_in)
        m.submodules.pll = Instance(
            self.primitive,
            p_FEEDBACK_PATH=p["FEEDBACK_PATH"], p_PLLOUT_SELECT="GENCLK",
            # The widths icepll writes (4'b0000 ...): the cell's parameter widths.
            p_DIVR=Const(p["DIVR"], 4), p_DIVF=Const(p["DIVF"], 7), p_DIVQ=Const(p["DIVQ"], 3),
            p_FILTER_RANGE=Const(p["FILTER_RANGE"], 3),
            **clk_port, i_RESETB=Const(1), i_BYPASS=Const(0),
            o_PLLOUTGLOBAL=self.clk, o_LOCK=self.locked)


class ECP5PLL(_PLL):
    """An ECP5 ``EHXPLLL`` (``CLKOP`` output, ``CLKOP`` feedback) making clock domain
    ``domain``, configured as ``ecppll`` writes it (loop-filter attributes included).

    ``clk_in`` a pin (an :class:`amaranth.lib.io.SingleEndedPort`, e.g.
    ``platform.request("clk25", dir="-")``, or an :class:`IOPort`): through an input buffer
    to ``CLKI`` (the ULX3S 25 MHz pin G2 is a PLL input pin); a 1-bit signal: straight to
    ``CLKI``.

    Parameters
    ----------
    config : PLLConfig
        An ``"ecp5"`` setting (:func:`ecp5_pll`).
    clk_in : port or signal
        The reference clock.
    domain : str
        The clock domain created (default ``"sync"``).
    reset_s : float
        Seconds the domain's reset stays asserted after lock (default 0: only the
        synchronizer's cycles).

    Attributes
    ----------
    primitive : str
        ``"EHXPLLL"``.
    clk, locked : Signal
        The PLL's output clock and lock output.
    reset_cycles : int
        Output-clock cycles counted after lock before the reset is released.
    """
    _family = "ecp5"
    primitive = "EHXPLLL"

    def _instantiate(self, m):
        p = self.config.parameters
        clk_i = self.clk_in
        if isinstance(clk_i, io.SingleEndedPort):
            m.submodules.clk_buf = buf = io.Buffer("i", clk_i)
            clk_i = buf.i
        m.submodules.pll = Instance(
            "EHXPLLL",
            # ecppll's attributes: Diamond reads the frequencies, nextpnr the loop filter.
            a_FREQUENCY_PIN_CLKI=f"{self.config.input_mhz:g}",
            a_FREQUENCY_PIN_CLKOP=f"{self.config.output_mhz:g}",
            a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
            a_MFG_GMCREF_SEL="2",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
            p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
            p_CLKI_DIV=p["CLKI_DIV"], p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=p["CLKOP_DIV"],
            p_CLKOP_CPHASE=p["CLKOP_CPHASE"], p_CLKOP_FPHASE=p["CLKOP_FPHASE"],
            p_FEEDBK_PATH=p["FEEDBK_PATH"], p_CLKFB_DIV=p["CLKFB_DIV"],
            i_RST=Const(0), i_STDBY=Const(0), i_CLKI=clk_i, o_CLKOP=self.clk,
            i_CLKFB=self.clk, i_PHASESEL0=Const(0), i_PHASESEL1=Const(0),
            i_PHASEDIR=Const(1), i_PHASESTEP=Const(1), i_PHASELOADREG=Const(1),
            i_PLLWAKESYNC=Const(0), i_ENCLKOP=Const(0), o_LOCK=self.locked)


def make_pll(config, clk_in, *, domain="sync", reset_s=None):
    """:class:`ICE40PLL` or :class:`ECP5PLL` for ``config``'s family (same arguments)."""
    if not isinstance(config, PLLConfig):
        raise TypeError(f"PLL configuration must be a PLLConfig, not {config!r}")
    cls = ICE40PLL if config.family == "ice40" else ECP5PLL
    return cls(config, clk_in, domain=domain, reset_s=reset_s)


def add_pll(m, config, clk_in, *, domain="sync", reset_s=None):
    """Define clock domain ``domain`` in module ``m``, clocked by a new PLL (a submodule of
    ``m`` named ``<domain>_pll``) and held in reset until it locks; return the PLL.

    Example, in a board top's ``elaborate`` (the platform then creates no ``sync`` of its
    own)::

        clk = platform.request(platform.default_clk, 0, dir="-")
        pll = add_pll(m, ice40_pll(12, 42), clk)       # sync at 42 MHz

    Arguments as :func:`make_pll`.
    """
    pll = make_pll(config, clk_in, domain=domain, reset_s=reset_s)
    m.domains += ClockDomain(domain)
    m.submodules[f"{domain}_pll"] = pll
    return pll

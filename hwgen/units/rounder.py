"""The one shared rounder of every float operator (HardFloat's ``roundRawFNToRecFN`` role).

An operator hands :class:`FloatRounder` an unrounded raw result: sign, exponent, an integer
significand, and the special flags (NaN, Inf, invalid). The rounder does everything else and
matches :func:`hwgen.golden.rounding.round_raw` bit for bit, flags included.

Datapath
--------
1. The significand is padded on the right to ``Wn = max(sig_width, precision + 3)`` bits, so
   the frame always has a guard bit, a second guard bit (for tininess) and a sticky region.
   When the operator guarantees few leading zeros (``max_lz``), the frame is cut to
   ``precision + 3 + max_lz`` bits instead: the bits below, which no shift can bring up to the
   second guard bit, become one jam bit.
2. *Denormalize* (only when the exponent range can put the value below ``emin`` even at the
   frame's top bit): shift right by ``emin - e_top`` (clamped to ``precision + 1``), ORing the
   lost bits into bit 0.
3. *Normalize*: shift left by the leading-zero count, in stages of 2**k, stopping at ``emin``
   when the output has subnormals (the cap makes subnormal results come out already aligned to
   their quantum). After this the frame's top ``precision`` bits are the kept significand.
   The left shift is sized to ``sig_width`` (the leading zeros the operator can produce).
   Only the top ``precision + 2`` bits matter one by one after it, so after each stage the
   bits the remaining stages cannot bring up to them are ORed into bit 0
   (:func:`~.floatraw.normalize_left`'s ``keep``). Where the frame's top bit lies below
   ``emin`` the cap is 0 and nothing normalizes; so without cut points before ``"norm"`` the
   denormalization runs beside the normalization instead of before it (a mux picks one), on
   the frame's top ``precision + 2`` bits and one jam bit for the rest. Without flags (so
   without tininess) and with a one-bit normalization (``max_lz=1``, the multiplier), the
   two are one right shift instead: of the frame shifted left by one, by 0 (normalize),
   1 (neither) or one more than the denormalization amount, on the ``precision + 2`` bits
   that can reach the kept and guard bits and one jam bit below them; the frame is then
   ``precision + 2`` bits (kept, guard, sticky).
4. [optional register: the ``"norm"`` cut point]
5. Round: one incrementer on the kept bits. The encoding is formed HardFloat-style as
   ``((biased_exp - 1) << man_bits) + rounded_significand`` so the rounding carry, the
   subnormal-to-normal step and the step into the overflow range propagate by themselves.
   The significand's bits above the mantissa field (0, 1 or 2) are added to the exponent
   field alone, so no carry runs through the mantissa field after the increment.
6. Overflow: that magnitude above the largest finite encoding, decided without it: the
   exponent field is compared with the largest one (minus 0, 1, 2) while the increment runs,
   and the increment's top bits pick the answer (after a ``"round"`` cut: one constant
   compare of the registered magnitude). Underflow: tininess after rounding, from the frame
   bits (a second rounding decision one bit lower, needed only when the result lands one
   binade below ``emin``). Specials last; without flags, an overflow whose encoding is
   statically the one an Inf input gives (:func:`overflow_as_inf`) is that case.

Pipeline cut points (:attr:`RounderGeometry.cut_points`, in datapath order; any subset may
hold registers): ``"prep"`` after the exponent-side preparation (the denormalization amount,
or the normalization cap when there is no denormalization), ``"denorm"`` after the
denormalizing shift, ``"norm1"``, ``"norm2"``, ... after that many stages of the normalizing
shift, ``"norm"`` after normalization (step 4), ``"round"`` after the increment and the
encoding's magnitude, before the overflow compare and the output selection.

Static rounding modes are Amaranth constants, so the mode logic folds away; ``"dynamic"`` adds
the 3-bit ``rm`` port (RISC-V ``frm``: 0 rne, 1 rtz, 2 rdn, 3 rup, 4 rna, 5..7 as rne).

Contract with the operator: the value is exactly ``sig * 2**exp``, except that bit 0 of
``sig`` may be a *jam* (sticky) bit standing for "something nonzero below"; the operator must
guarantee that bit 0 then lies at least two places below the rounding guard bit of a result
rounded to ``precision`` bits with an unbounded exponent (every operator here keeps
``precision + 2`` bits above its jam bit). A zero ``sig`` is an exact zero of sign ``sign``.
"""

from collections.abc import Iterable

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value

from ..timing import DelayModel, Segment
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..formats import FLAG_INEXACT, FLAG_INVALID, FLAG_OVERFLOW, FLAG_UNDERFLOW, FloatFormat
from .floatraw import (RoundingMode, check_float_format, check_rounding, greater_than,
                       normalize_left, normalize_stages, pipeline_register, range_shape,
                       sticky_shift_right)

__all__ = ["FloatRounder", "RounderGeometry"]


def clamp_distance(m: Module, x: Value, c: int, hi: int, name: str, *,
                   down: bool = False) -> Signal:
    """``min(max(d, 0), hi)`` for ``d = x - c`` (``down``: ``d = c - x``), a Value ``x`` and a
    constant ``c``: the two bounds are constant compares on ``x`` and only the low bits of
    ``d`` are formed."""
    out = Signal(range(hi + 1), name=name)
    low = ((c - x) if down else (x - c))[:out.shape().width]
    if down:
        m.d.comb += out.eq(Mux(~greater_than(x, c - hi), hi, Mux(greater_than(x, c), 0, low)))
    else:
        m.d.comb += out.eq(Mux(greater_than(x, c + hi - 1), hi,
                               Mux(~greater_than(x, c - 1), 0, low)))
    return out


def overflow_as_inf(fmt: FloatFormat, rounding: str) -> bool:
    """Whether an overflow's encoding is, whatever the sign, the one an Inf input gives
    (Inf, the canonical NaN or the largest finite value): rounding to nearest into the
    format's Inf or NaN, or rounding so that an overflow saturates into a format without
    either."""
    to_max = {"rne": False, "rna": False, "rtz": True}.get(rounding)
    if to_max is None:          # rdn, rup: the sign decides; dynamic: the mode does
        return False
    big = "max" if to_max or fmt.overflow == "saturate" else fmt.overflow
    return big == ("inf" if fmt.has_inf else "nan" if fmt.has_nan else "max")


class RounderGeometry:
    """The rounder's datapath sizes for one set of parameters, without building anything:
    its pipeline cut points and its :class:`~hwgen.timing.Segment` list.

    Parameters
    ----------
    fmt : FloatFormat
    sig_width : int
    exp_range : (int, int)
    max_lz : int or None
        As for :class:`FloatRounder`.
    """

    def __init__(self, fmt: FloatFormat, sig_width: int, exp_range: tuple[int, int],
                 max_lz: int | None = None) -> None:
        f = self.fmt = fmt
        p = f.precision
        self.sig_width = W = sig_width
        self.exp_range = lo, hi = exp_range
        top_lo = lo + W - 1
        if max_lz is None:
            max_lz = W - 1
        if not isinstance(max_lz, int) or not 0 <= max_lz <= W - 1:
            raise ValueError(f"Leading zeros must be an integer in 0..{W - 1}, not {max_lz!r}")
        #: The most leading zeros a nonzero ``sig`` can have (the normalizing shift's reach).
        self.max_lz = max_lz
        #: The frame the shifts work on: ``sig`` padded to ``precision + 3`` bits, or cut to
        #: ``precision + 3 + max_lz`` (the bits no shift brings up to the guard bits ORed
        #: into one jam bit).
        self.frame_width = Wn = min(max(W, p + 3), p + 3 + max_lz)
        can_be_tiny = top_lo - self.max_lz < f.emin
        #: A cap on the normalization (outputs with subnormals that the result can reach).
        self.limited = bool(f.subnormals and can_be_tiny)
        #: A denormalizing right shift before it (the frame's top bit can lie below emin).
        self.denorm = self.limited and top_lo < f.emin
        self.rmax = min(f.emin - top_lo, p + 1) if self.denorm else 0
        self.norm_stages = normalize_stages(Wn, self.max_lz)
        self.exp_width = range_shape(lo + W - 1, hi + W - 1).width

    @property
    def cut_points(self) -> tuple[str, ...]:
        """The rounder's candidate cut points, in datapath order."""
        pts = (["prep"] if self.limited else []) + (["denorm"] if self.denorm else [])
        pts += [f"norm{i}" for i in range(1, self.norm_stages)]
        return tuple(pts + ["norm", "round"])

    def segments(self, model: DelayModel, last_cut: str | None = None) -> list[Segment]:
        """The rounder's datapath as :class:`~hwgen.timing.Segment` objects on ``model``; the
        last one (output selection) is followed by ``last_cut``."""
        f, p, Wn, ew = self.fmt, self.fmt.precision, self.frame_width, self.exp_width
        segs = []
        if self.limited:
            # e_top = exp + const, then the distance to emin, clamped.
            segs.append(Segment("prep", model.adder(ew) + model.adder(ew) +
                                model.comparator(ew) + model.mux(3), "prep"))
        if self.denorm:
            segs.append(Segment("denorm", model.shifter(Wn, self.rmax), "denorm"))
        n = self.norm_stages
        per = model.normalizer(Wn, self.max_lz) / n
        for i in range(1, n + 1):
            segs.append(Segment(f"norm{i}", per, f"norm{i}" if i < n else "norm"))
        # Sticky OR, round-up decision and increment, then the exponent joins the magnitude.
        segs.append(Segment("round", model.logic(Wn - p - 1) + model.increment(p + 1) +
                            model.adder(ew), "round"))
        # Overflow compare, tininess, the specials and the output selection.
        segs.append(Segment("encode", model.comparator(f.width) + model.mux(4), last_cut))
        return segs


class FloatRounder(wiring.Component):
    """Round a raw float result into ``fmt``, producing the encoding and the exception flags.

    Parameters
    ----------
    fmt : FloatFormat or str
        Output format.
    sig_width : int
        Width of the ``sig`` input.
    exp_range : (int, int)
        Range of the ``exp`` input (exponent of ``sig``'s least significant bit); the
        datapath is sized from it (shifts that cannot happen are not built).
    max_lz : int or None
        The most leading zeros a nonzero ``sig`` can have (default ``sig_width - 1``): the
        normalizing shift is built for that many. An operator that normalizes its result
        itself (the multiplier: the product of two normalized significands has at most one)
        passes less, and then guarantees it for every nonzero ``sig`` whose value is at least
        ``2**(emin - precision)``; a smaller value may have more leading zeros, as long as
        ``exp`` puts the frame's top bit at or below ``emin - precision - 1`` (the
        denormalizing shift then takes every bit below the guard bits: it rounds as the
        sticky bit alone).
    rounding : str
        ``rne rtz rdn rup rna`` or ``"dynamic"`` (adds the ``rm`` input).
    register_normalized : bool
        Put a pipeline register after the normalization shift (uses the ``sync`` domain);
        the same as ``"norm"`` in ``cuts``.
    cuts : iterable of str
        Cut points (of :attr:`cut_points`) that hold pipeline registers (``sync`` domain).
    flags : bool
        ``False``: no exception flags (no ``flags`` output, no ``invalid`` input, none of the
        logic that only the flags need).
    exp_offset : int
        The ``exp`` input is the exponent minus this constant (its range is ``exp_range``
        minus it): an operator hands over a sum of biased exponent fields and the rounder
        folds the biases into its own constants instead of the operator subtracting them.

    Members
    -------
    sign, exp, sig, nan, inf, invalid : In
        The raw result. ``nan`` and ``inf`` take precedence over ``sig``, and ``nan`` over
        ``inf``; ``invalid`` raises the invalid flag (only with ``flags=True``).
    rm : In(3)
        Run-time rounding mode (only when ``rounding="dynamic"``).
    y : Out(fmt.width)
        The encoding, :attr:`latency` cycles after the inputs.
    flags : Out(4)
        Bit 0 inexact, 1 underflow, 2 overflow, 3 invalid (only with ``flags=True``).
    """

    def __init__(self, fmt: FloatFormat | str, *, sig_width: int, exp_range: tuple[int, int],
                 rounding: str = "rne", register_normalized: bool = False,
                 cuts: Iterable[str] = (), flags: bool = True,
                 max_lz: int | None = None, exp_offset: int = 0) -> None:
        self._fmt = check_float_format(fmt)
        if not isinstance(sig_width, int) or sig_width < 1:
            raise ValueError(f"Significand width must be a positive integer, not {sig_width!r}")
        lo, hi = exp_range
        if lo > hi:
            raise ValueError(f"Exponent range must be (lo, hi) with lo <= hi, not {exp_range!r}")
        if not isinstance(exp_offset, int):
            raise TypeError(f"Exponent offset must be an integer, not {exp_offset!r}")
        self._sig_width = sig_width
        self._exp_range = (lo, hi)
        self._exp_offset = exp_offset
        self._rounding = check_rounding(rounding)
        self._geom = RounderGeometry(self._fmt, sig_width, (lo, hi), max_lz)
        cuts = set(cuts)
        if register_normalized:
            cuts.add("norm")
        bad = sorted(cuts - set(self._geom.cut_points))
        if bad:
            raise ValueError(f"Cut point must be one of {', '.join(self._geom.cut_points)}, "
                             f"not {bad[0]!r}")
        self._cuts = frozenset(cuts)
        if not isinstance(flags, bool):
            raise TypeError(f"Flags must be True or False, not {flags!r}")
        self._flags = flags
        ports = {
            "sign": In(1), "exp": In(range_shape(lo - exp_offset, hi - exp_offset)),
            "sig": In(sig_width),
            "nan": In(1), "inf": In(1), "invalid": In(1),
            "y": Out(self._fmt.width), "flags": Out(4),
        }
        if not flags:
            del ports["invalid"], ports["flags"]
        if rounding == "dynamic":
            ports["rm"] = In(3)
        super().__init__(ports)

    fmt = property(lambda self: self._fmt)
    rounding = property(lambda self: self._rounding)
    geometry = property(lambda self: self._geom)

    @property
    def cut_points(self) -> tuple[str, ...]:
        """Candidate cut points, in datapath order."""
        return self._geom.cut_points

    @property
    def cuts(self) -> tuple[str, ...]:
        """The cut points holding registers, in datapath order."""
        return tuple(c for c in self._geom.cut_points if c in self._cuts)

    @property
    def latency(self) -> int:
        return len(self._cuts)

    def elaborate(self, platform):
        m = Module()
        f = self._fmt
        p, mb, w = f.precision, f.man_bits, f.width
        W = self._sig_width
        Wn = self._geom.frame_width
        lo, hi = self._exp_range
        emin = f.emin
        cuts = self._cuts
        dyn = self._rounding == "dynamic"
        # Cut points before "norm" move the nonzero test (and the rest of what rides along)
        # to the front; without them the netlist is built in its original order.
        early = bool(cuts - {"norm", "round"})

        # What every cut carries besides the datapath values.
        fl = self._flags
        live = dict(sign=self.sign, nan=self.nan, inf=self.inf,
                    invalid=self.invalid if fl else None,
                    rm=self.rm if dyn else None)

        def cut(name, values):
            """Register ``values`` (a dict) and ``live`` at cut point ``name`` when in use."""
            if name not in cuts:
                return values
            out = {k: pipeline_register(m, v, f"{name}_{k}_q") for k, v in values.items()}
            for k, v in live.items():
                if v is not None:
                    live[k] = pipeline_register(m, v, f"{name}_{k}_q")
            return out

        sig = Signal(Wn)
        if W <= Wn:
            m.d.comb += sig.eq(self.sig << (Wn - W))
        else:
            # The low bits stay below the second guard bit whatever the shifts (the left
            # shift moves them up by at most max_lz): one jam bit stands for them.
            low = W - Wn + 1
            m.d.comb += sig.eq(Cat(self.sig[:low] != 0, self.sig[low:]))
        # Exponent of the frame's top bit (the pad does not move it).
        top_lo, top_hi = lo + W - 1, hi + W - 1
        # It is carried biased (plus bias - 1, the encoding's exponent field minus one), so
        # the field needs no adder of its own after normalization.
        eb = f.bias - 1
        e_top = Signal(range_shape(top_lo + eb, top_hi + eb))
        off = self._exp_offset
        m.d.comb += e_top.eq(self.exp + (W - 1 + eb + off))
        max_lz = self._geom.max_lz
        # The distances of the frame's top bit to emin are compared on ``exp`` itself
        # (e_top - emin = x - c0), so no full-width subtraction precedes the compares.
        x, c0 = self.exp, emin - (W - 1) - off
        frame_lo = top_lo - max_lz              # lowest exponent of a normalized top bit
        can_be_tiny = frame_lo < emin
        if early:
            nz = Signal()
            m.d.comb += nz.eq(self.sig != 0)
            live["nz"] = nz

        live_e = {"e_top": e_top}

        def between(i, cur, bits, tight, limit):
            name = f"norm{i}"
            if name not in cuts:
                return cur, bits, tight, limit
            v = cut(name, dict(cur=cur, tight=tight, limit=limit,
                               **{f"amt{k}": b for k, b in bits}, **live_e))
            live_e.update({k: v[k] for k in live_e})
            return v["cur"], [(k, v[f"amt{k}"]) for k, _ in bits], v["tight"], v["limit"]

        if early:
            # Pipelined before normalization: the exponent side (denormalization amount,
            # normalization cap, whether the frame starts below emin) is settled first, in
            # the "prep" stage, and rides along; the shifts follow.
            limited = f.subnormals and can_be_tiny
            denorm = limited and top_lo < emin
            lim = None
            if limited:
                vals = dict(sig=sig, e_top=e_top)
                if denorm:
                    rmax = min(emin - top_lo, p + 1)
                    ramt = clamp_distance(m, x, c0, rmax, "ramt", down=True)
                    under = Signal()
                    m.d.comb += under.eq(~greater_than(x, c0 - 1))
                    vals.update(ramt=ramt, under=under)
                lim = clamp_distance(m, x, c0, max_lz, "lim")
                vals["lim"] = lim
                v = cut("prep", vals)
                sig, e_top, lim = v["sig"], v["e_top"], v["lim"]
                if denorm:
                    sig = sticky_shift_right(m, sig, Wn, v["ramt"], rmax, name="denorm")
                    v = cut("denorm", dict(sig=sig, e_top=e_top, lim=lim, under=v["under"]))
                    sig, e_top, lim = v["sig"], v["e_top"], v["lim"]
                    live_e["under"] = v["under"]
            live_e["e_top"] = e_top
            frame, shift = normalize_left(m, sig, Wn, keep=p + 2, max_shift=max_lz, limit=lim,
                                          between=between)
            e_top = live_e["e_top"]
            if denorm:
                e_frame_v = Mux(live_e["under"], emin + eb, e_top - shift)
            else:
                e_frame_v = e_top - shift
            e_frame_lo = emin if limited else frame_lo
        elif f.subnormals and can_be_tiny and top_lo < emin and max_lz == 1 and not fl:
            # Without flags (so without tininess), a one-bit normalization (the multiplier)
            # and the denormalization are one right shift, by 0 (normalize), 1 (neither) or
            # 1 + the denormalization amount, of the frame shifted left by one, on the bits
            # that can reach the kept and guard bits and one jam bit below them; the frame is
            # then p + 2 bits: the kept bits, the guard bit and the sticky bit.
            rmax = min(emin - top_lo, p + 1)
            lim = clamp_distance(m, x, c0, max_lz, "lim")
            ramt1 = clamp_distance(m, x, c0 + 1, rmax + 1, "ramt1", down=True)
            under = ~greater_than(x, c0 - 1)
            shift = Signal(name="norm")
            m.d.comb += shift.eq(~sig[Wn - 1] & lim[0])
            amt = Signal(range(rmax + 2), name="amt")
            m.d.comb += amt.eq(Mux(under, ramt1, ~shift))
            below = Wn - (p + 2)              # sig's bits below: the jam bit
            frame = sticky_shift_right(m, Cat(sig[:below] != 0, sig[below:]), p + 3, amt,
                                       rmax + 1, name="denorm")[:p + 2]
            e_frame_v = Mux(under, emin + eb, e_top - shift)
            e_frame_lo = emin
        elif f.subnormals and can_be_tiny:
            lim = clamp_distance(m, x, c0, max_lz, "lim")
            frame, shift = normalize_left(m, sig, Wn, keep=p + 2, max_shift=max_lz, limit=lim)
            e_frame_v = e_top - shift
            if top_lo < emin:
                # Below emin even at the top bit (then the cap is 0: no normalization):
                # denormalize instead, a right shift beside the normalization. Only the top
                # p + 2 bits of its result matter one by one, and a right shift only moves
                # bits down, so the bits below them are ORed into bit 0 first.
                rmax = min(emin - top_lo, p + 1)
                ramt = clamp_distance(m, x, c0, rmax, "ramt", down=True)
                below = Wn - (p + 2)             # (not `cut`: that is the register helper)
                jammed = (Cat(sig[:below] != 0, Const(0, below - 1)) if below >= 2
                          else sig[:below])
                den = sticky_shift_right(m, Cat(jammed, sig[below:]), Wn, ramt, rmax,
                                         name="denorm")
                under = ~greater_than(x, c0 - 1)
                frame = Mux(under, den, frame)
                e_frame_v = Mux(under, emin + eb, e_frame_v)
            e_frame_lo = emin                   # the cap stops normalization at emin
        else:
            frame, shift = normalize_left(m, sig, Wn, keep=p + 2, max_shift=max_lz)
            e_frame_v = e_top - shift
            e_frame_lo = frame_lo
        e_frame = Signal(range_shape(e_frame_lo + eb, top_hi + eb))   # biased, as e_top
        m.d.comb += e_frame.eq(e_frame_v)
        if early:
            nz = live.pop("nz")
        else:
            nz = Signal()
            m.d.comb += nz.eq(self.sig != 0)

        # -- optional pipeline cut: after normalization ----------------------------------------
        stage = [frame, e_frame, nz, live["sign"], live["nan"], live["inf"], live["invalid"]]
        if dyn:
            stage.append(live["rm"])
        if "norm" in cuts:
            regs = [None if s is None else
                    Signal.like(s, name=f"{getattr(s, 'name', 'r')}_q", reset_less=True)
                    for s in stage]
            for r, s in zip(regs, stage):
                if r is not None:
                    m.d.sync += r.eq(s)
            stage = regs
        frame, e_frame, nz, sign, nan, inf, invalid = stage[:7]
        rmode = RoundingMode(self._rounding, stage[7] if dyn else None)

        # -- rounding --------------------------------------------------------------------------
        Wn = len(frame)
        kept = frame[Wn - p:]
        guard = frame[Wn - p - 1]
        sticky = frame[:Wn - p - 1] != 0
        inexact = guard | sticky
        inc = ((rmode.rne & guard & (sticky | kept[0])) | (rmode.rna & guard) |
               (rmode.rdn & inexact & sign) | (rmode.rup & inexact & ~sign))
        rounded = Signal(p + 1)
        m.d.comb += rounded.eq(kept + inc)
        # Biased exponent minus one, shifted onto the mantissa field, plus the significand:
        # the significand's bits above the mantissa field (0, 1 or 2) are added to the
        # exponent alone, so no carry runs through the mantissa field.
        max_mag = ((top_hi + f.bias - 1) << mb) + (1 << p)
        mag = Signal(range_shape(min((e_frame_lo + f.bias - 1) << mb, 0), max_mag))
        e_field = e_frame
        r_low, r_high = rounded[:mb], rounded[mb:]
        m.d.comb += mag.eq(((e_field + r_high) << mb) | r_low)

        # Tininess decides the result only when subnormals flush; else only the flags use it.
        need_tiny = fl or not f.subnormals

        def tininess():
            tiny = Signal()
            if can_be_tiny and need_tiny:
                if f.subnormals:
                    # Tininess after rounding: a result one binade below emin is not tiny when
                    # rounding to full precision with an unbounded exponent carries into emin.
                    guard_u = frame[Wn - p - 2]
                    sticky_u = frame[:Wn - p - 2] != 0
                    inexact_u = guard_u | sticky_u
                    inc_u = (((rmode.rne | rmode.rna) & guard_u) |
                             (rmode.rdn & inexact_u & sign) | (rmode.rup & inexact_u & ~sign))
                    ones = (kept[:p - 1].all() if p > 1 else Const(1, 1)) & guard
                    m.d.comb += tiny.eq(nz & ~frame[Wn - 1] & ~(frame[Wn - 2] & ones & inc_u))
                else:
                    m.d.comb += tiny.eq(nz & ((e_frame < emin - 1 + eb) |
                                              ((e_frame == emin - 1 + eb) & ~rounded[p])))
            return tiny

        overflow = Signal()
        if "round" in cuts:
            # The cut after the increment: what the output selection needs rides along.
            tiny = tininess()
            live.update(sign=sign, nan=nan, inf=inf, invalid=invalid,
                        rm=stage[7] if dyn else None)
            v = cut("round", dict(mag=mag, tiny=tiny if need_tiny else None,
                                  inexact=inexact if fl else None, nz=nz))
            mag, tiny, inexact, nz = v["mag"], v["tiny"], v["inexact"], v["nz"]
            sign, nan, inf, invalid = live["sign"], live["nan"], live["inf"], live["invalid"]
            rmode = RoundingMode(self._rounding, live["rm"] if dyn else None)
            if max_mag > f.max_bits:
                m.d.comb += overflow.eq(nz & (mag > f.max_bits))
        else:
            if max_mag > f.max_bits:
                # mag > max_bits from the exponent field, compared before the rounding
                # increment, and the increment's top bits: (e_field + r_high, r_low) above
                # (e_max, m_max) for r_high = 0, 1, 2.
                e_max, m_max = f.max_bits >> mb, f.max_bits & ((1 << mb) - 1)
                f_lo, f_hi = e_frame_lo + f.bias - 1, top_hi + f.bias - 1
                low_over = r_low > m_max if m_max < (1 << mb) - 1 else Const(0, 1)

                def above(t):
                    """e_field > t, folded where its range decides it."""
                    if t < f_lo or t >= f_hi:
                        return Const(int(t < f_lo), 1)
                    return greater_than(e_field, t)

                def at(t):
                    return e_field == t if f_lo <= t <= f_hi else Const(0, 1)
                over = [above(e_max - k) | (at(e_max - k) & low_over) for k in range(3)]
                m.d.comb += overflow.eq(nz & Mux(r_high[1], over[2],
                                                 Mux(r_high[0], over[1], over[0])))
            tiny = tininess()

        # -- encoding and flags ----------------------------------------------------------------
        y = Signal(w)
        flags = Signal(4)

        def out(yv, fv):
            """The encoding and (with flags) the flags of one case."""
            m.d.comb += [y.eq(yv), flags.eq(fv)] if fl else y.eq(yv)

        sign_only = Cat(Const(0, w - 1), sign)
        max_enc = Cat(Const(f.max_bits, w - 1), sign)
        with m.If(nan):
            if f.has_nan:
                out(f.nan_bits, 0)
            else:
                out(f.sign_mask, FLAG_INVALID)
        # Without flags, an overflow that gives the Inf case's encoding is that case (overflow
        # implies a nonzero significand, so it may come before the zero case).
        merged = not fl and overflow_as_inf(f, self._rounding)
        with m.Elif((inf | overflow) if merged else inf):
            if f.has_inf:
                out(Cat(Const(f.inf_bits, w - 1), sign), 0)
            elif f.has_nan:
                out(f.nan_bits, FLAG_INVALID)
            else:
                out(max_enc, FLAG_OVERFLOW | FLAG_INEXACT)
        with m.Elif(~nz):
            out(sign_only, 0)
        if not merged:
            with m.Elif(overflow):
                if f.overflow == "saturate":
                    big = max_enc
                else:
                    to_max = rmode.rtz | (rmode.rdn & ~sign) | (rmode.rup & sign)
                    big_enc = (Cat(Const(f.inf_bits, w - 1), sign) if f.overflow == "inf"
                               else Const(f.nan_bits, w))
                    big = Mux(to_max, max_enc, big_enc)
                out(big, FLAG_OVERFLOW | FLAG_INEXACT)
        if not f.subnormals and can_be_tiny:
            with m.Elif(tiny):
                out(sign_only, FLAG_UNDERFLOW | FLAG_INEXACT)
        with m.Else():
            out(Cat(mag[:w - 1], sign),
                Cat(inexact, tiny & inexact, Const(0, 2)) if fl else 0)
        if fl:
            m.d.comb += [self.y.eq(y), self.flags.eq(flags | (invalid << 3))]
        else:
            m.d.comb += self.y.eq(y)
        return m

"""``acc ± mag`` in one carry chain, generic or on the ECP5's carry cells.

A fixed-point accumulator (the exact and windowed PEs) adds a product's magnitude or
subtracts it, by its sign: ``acc + (mag ^ s) + s``. Written as logic, that is one adder and
one XOR per bit, and on the ECP5 yosys maps the XOR to a LUT4 of its own in front of every
carry cell (``synth_ecp5`` ties the cell's third LUT input to 0). The carry cell ``CCU2C``
computes its propagate bit with a full LUT4, so the sign can go to that spare input:
propagate ``A ^ B ^ s``, generate ``A`` (where ``A == B ^ s`` the carry is ``A``), the
sum ``propagate ^ carry``. :func:`signed_add` builds that chain when the design is
elaborated for an ECP5 (``platform.family == "ecp5"``: amaranth's Lattice platforms, and
the out-of-context synthesis flow's :func:`synthesis_platform`), and the plain expression
otherwise (simulation, other families). ``tests/test_carry.py`` proves the two equal with
yosys's SAT solver on the ECP5 cell library's simulation model of ``CCU2C``.
"""

from amaranth.hdl import Cat, Const, Instance, Module, Signal, Value, signed

__all__ = ["signed_add", "synthesis_platform", "CCU2C_ADDSUB_INIT"]

#: ``CCU2C`` LUT contents of one bit of ``A + (B ^ C)``: with ``D`` = 1 (the upper byte) the
#: propagate ``A ^ B ^ C``; the low nibble (``C`` = ``D`` = 0) is the cell's generate LUT2,
#: here ``A``.
CCU2C_ADDSUB_INIT = 0x96AA


class _Platform:
    """What :func:`synthesis_platform` returns: only a ``family`` (``"ice40"``, ``"ecp5"``)."""

    def __init__(self, family: str) -> None:
        self.family = family

    def __repr__(self) -> str:
        return f"synthesis_platform({self.family!r})"


def synthesis_platform(family: str) -> _Platform:
    """A stand-in platform for elaborating a design that will be synthesized out of context
    for ``family``: elaboratables that map something onto the family's cells read only its
    ``family`` (as amaranth's own platforms have it)."""
    return _Platform(family)


def signed_add(m: Module, acc: Value, mag: Value, sign: Value, width: int,
               platform: object = None) -> Value:
    """``acc + mag``, or ``acc - mag`` when ``sign`` is set, in ``width`` bits (``acc``
    sign-extended, ``mag`` unsigned, both at most ``width`` bits): the low ``width`` bits of
    the exact sum. One carry chain: ``({acc, 1} + {mag ^ s, s}) >> 1``, the carry-in ``s``
    from an extra low bit; on an ECP5 (``platform.family``) as ``CCU2C`` cells with the XOR
    inside (module docstring)."""
    if getattr(platform, "family", None) == "ecp5":
        return _ecp5_signed_add(m, acc, mag, sign, width)
    term = Signal(width, name="term")
    m.d.comb += term.eq(mag.as_unsigned() ^ sign.replicate(width))
    if len(acc) != width:
        ext = Signal(signed(width), name="acc_ext")
        m.d.comb += ext.eq(acc)
        acc = ext
    return (Cat(Const(1, 1), acc) + Cat(sign, term))[1:width + 1]


def _ecp5_signed_add(m, acc, mag, sign, width):
    a = Signal(signed(width), name="addsub_a")
    b = Signal(width, name="addsub_b")
    m.d.comb += [a.eq(acc), b.eq(mag.as_unsigned())]
    # bit -1 makes the carry-in: A = B = s, C = 0 → propagate 0, generate (carry) s
    zero, one = Const(0, 1), Const(1, 1)
    ins = [(sign, sign, zero)] + [(a[i], b[i], sign) for i in range(width)]
    if len(ins) % 2:
        ins.append((zero, zero, zero))
    out = Signal(len(ins), name="addsub_s")
    carry: Value = zero
    for k in range(0, len(ins), 2):
        (a0, b0, c0), (a1, b1, c1) = ins[k], ins[k + 1]
        cout = Signal(name=f"addsub_c{k // 2}")
        m.submodules[f"addsub_{k // 2}"] = Instance(
            "CCU2C",
            p_INIT0=Const(CCU2C_ADDSUB_INIT, 16), p_INIT1=Const(CCU2C_ADDSUB_INIT, 16),
            p_INJECT1_0="NO", p_INJECT1_1="NO",
            i_CIN=carry, i_A0=a0, i_B0=b0, i_C0=c0, i_D0=one,
            i_A1=a1, i_B1=b1, i_C1=c1, i_D1=one,
            o_S0=out[k], o_S1=out[k + 1], o_COUT=cout)
        carry = cout
    return out[1:width + 1]

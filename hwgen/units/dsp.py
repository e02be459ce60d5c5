"""A pipelined product inside the ECP5's DSP block, its registers included.

An unsigned product whose operands come from registers and whose result goes to a register
(``q = a_q * b_q`` one cycle, read the next) is written in logic as three registers around
a ``*``. yosys maps the ``*`` to a ``MULT18X18D`` and leaves the registers in the fabric,
so the path from an operand register to the product register runs out to the DSP block and
back, and in a large array nextpnr places many DSP blocks far from their logic: about 10
ns of a 17 ns cycle was that routing in a 9×9 ``e4m3:exact`` array. The ``MULT18X18D`` has
its own input registers (A and B) and output register (P): with them the multiplication
happens between registers inside the block, and each route to or from it has a cycle.

:func:`registered_product` builds that block; a caller uses it when the design is
elaborated for an ECP5 (``platform.family == "ecp5"``) and the registers around a ``*``
otherwise (the exact PEs of :mod:`hwgen.arrays.pe`). Every
register of the block is clocked by ``sync`` (``CLK0``, the one clock nextpnr times DSP
registers by) and written only when ``enable`` is high (``CE0``); like the pipeline
registers of the generic form (:func:`~hwgen.units.floatraw.pipeline_register`) they have
no reset (``RST0`` tied low). Give every block of a design the same ``enable``: nextpnr
allows four distinct clock enables per block of two DSP slices and remaps the ports to fit,
but writes no output-register enable select into the bitstream (it stays ``CE0``).

yosys ships the ``MULT18X18D`` as a blackbox only (no simulation model of its registers),
so ``tests/test_dsp.py`` proves the two forms equal, cycle by cycle, on a model
of the block written from Lattice's sysDSP usage guide for the ECP5 (input, pipeline and
output registers on the CLK/CE/RST their parameters name; ``P = A × B``, unsigned when
``SIGNEDA`` and ``SIGNEDB`` are low).
"""

from amaranth.hdl import ClockSignal, Const, Instance, Module, Signal, Value

__all__ = ["registered_product", "DSP_WIDTH"]

#: Widest unsigned operand of one ``MULT18X18D``.
DSP_WIDTH = 18


def registered_product(m: Module, a: Value, b: Value, enable: Value, *,
                       inputs: bool, name: str = "dsp") -> Value:
    """``a * b`` (unsigned, each at most :data:`DSP_WIDTH` bits) on one ECP5
    ``MULT18X18D`` with its output register and, with ``inputs``, its input registers: the
    product of the operands of two cycles ago (one without ``inputs``), held while
    ``enable`` is low, in ``len(a) + len(b)`` bits. The generic form, for every other
    platform, is the caller's: the same registers in its (enable-gated) ``sync`` domain."""
    if len(a) > DSP_WIDTH or len(b) > DSP_WIDTH:
        raise ValueError(f"operands of {len(a)} and {len(b)} bits: one DSP block takes at "
                         f"most {DSP_WIDTH} bits each")
    zero = Const(0, 1)
    reg = "CLK0" if inputs else "NONE"
    p = Signal(2 * DSP_WIDTH, name=f"{name}_p")
    ports = {f"i_A{k}": a[k] if k < len(a) else zero for k in range(DSP_WIDTH)}
    ports.update({f"i_B{k}": b[k] if k < len(b) else zero for k in range(DSP_WIDTH)})
    ports.update({f"i_C{k}": zero for k in range(DSP_WIDTH)})
    ports.update({f"o_P{k}": p[k] for k in range(2 * DSP_WIDTH)})
    m.submodules[name] = Instance(
        "MULT18X18D",
        p_REG_INPUTA_CLK=reg, p_REG_INPUTA_CE="CE0", p_REG_INPUTA_RST="RST0",
        p_REG_INPUTB_CLK=reg, p_REG_INPUTB_CE="CE0", p_REG_INPUTB_RST="RST0",
        p_REG_INPUTC_CLK="NONE", p_REG_PIPELINE_CLK="NONE",
        p_REG_OUTPUT_CLK="CLK0", p_REG_OUTPUT_CE="CE0", p_REG_OUTPUT_RST="RST0",
        p_CLK0_DIV="ENABLED", p_CLK1_DIV="ENABLED", p_CLK2_DIV="ENABLED",
        p_CLK3_DIV="ENABLED", p_HIGHSPEED_CLK="NONE", p_GSR="DISABLED",
        p_CAS_MATCH_REG="FALSE", p_SOURCEB_MODE="B_SHIFT", p_MULT_BYPASS="DISABLED",
        p_RESETMODE="SYNC",
        i_SIGNEDA=zero, i_SIGNEDB=zero, i_SOURCEA=zero, i_SOURCEB=zero,
        i_CLK0=ClockSignal("sync"), i_CLK1=zero, i_CLK2=zero, i_CLK3=zero,
        i_CE0=enable, i_CE1=zero, i_CE2=zero, i_CE3=zero,
        i_RST0=zero, i_RST1=zero, i_RST2=zero, i_RST3=zero,
        **ports)
    return p[:len(a) + len(b)]

"""FPGA devices the flow knows: part, package, tool options and the resources on the chip.

``up5k`` (iCEBreaker) and ``ecp5-85f`` (ULX3S 85F) are the boards hwgen targets; ``hx8k`` and
``ecp5-25f`` are there so figures can be compared with numbers others measured on them.
"""

from dataclasses import dataclass, field

__all__ = ["Device", "DEVICES", "get_device", "RESOURCE_NAMES", "DSP_MULTIPLIER"]

#: The resource kinds every device reports, in table order.
RESOURCE_NAMES = ("lut", "ff", "carry", "dsp", "bram", "spram", "io")


#: How yosys's ``synth_<family>`` (``mul2dsp``) puts one ``$mul`` into DSP blocks: operands of
#: up to ``max_a`` × ``max_b`` bits take one block, wider ones are split into chunks of that
#: width (one block per pair of chunks); a product with an operand (or a chunk) narrower than
#: ``min_a``/``min_b``, or a result narrower than ``min_y``, stays in logic. These are the
#: ``DSP_*_WIDTH`` macros the two synthesis scripts pass to ``mul2dsp.v``.
DSP_MULTIPLIER = {
    "ice40": dict(max_a=16, max_b=16, min_a=2, min_b=2, min_y=11),   # SB_MAC16
    "ecp5": dict(max_a=18, max_b=18, min_a=2, min_b=2, min_y=0),     # MULT18X18D
}


@dataclass(frozen=True)
class Device:
    """One FPGA part in one package.

    Attributes
    ----------
    name : str
        The name used on the command line (``up5k``).
    family : str
        ``"ice40"`` or ``"ecp5"``: selects the yosys ``synth_*`` pass and the nextpnr binary.
    description : str
        Part and package as the vendor spells them.
    nextpnr_args : tuple of str
        Part/package options of ``nextpnr-<family>``.
    synth_command : str
        The yosys synthesis command (without ``-top``), DSP blocks allowed (see
        :meth:`synth_script`).
    resources : dict
        Available resources by kind (``lut`` = LUT4s, ``ff`` = flip-flops, ``carry`` = carry
        cells, ``dsp`` = multiplier blocks, ``bram`` = block RAMs, ``spram`` = single-port RAMs,
        ``io`` = user I/O pins in this package). ``carry`` counts cells that share a slot
        with a LUT, so it is not an extra budget.
    default_freq : float
        Target clock (MHz) given to nextpnr when none is asked for. It is set at or above
        what small designs reach on the device, so timing-driven placement and routing keep
        working on the critical path and the achieved Fmax is a measurement, not a target.
    clock_pin : str
        Package pin out-of-context runs put the harness's clock on (empty: nextpnr places it).
        On ECP5 a clock left to nextpnr may land on a pin with no route to the global clock
        network (router2: ``Failed to route arc 0.0 of net 'clk$TRELLIS_IO_IN'``); G2 is a
        primary-clock input of the CABGA381 package (the ULX3S's 25 MHz oscillator pin).
    """
    name: str
    family: str
    description: str
    nextpnr_args: tuple
    synth_command: str
    resources: dict = field(default_factory=dict)
    default_freq: float = 100.0
    clock_pin: str = ""

    def synth_script(self, *, dsp=True):
        """The yosys synthesis command; ``dsp=False`` keeps multipliers out of DSP blocks
        (everything in LUTs and carry chains), for LUT-only comparisons."""
        if dsp:
            return self.synth_command
        return {"ice40": "synth_ice40", "ecp5": "synth_ecp5 -nodsp"}[self.family]

    def dsp_blocks(self, a_width, b_width, y_width):
        """DSP blocks yosys uses for one ``a_width`` × ``b_width`` → ``y_width`` multiplier
        (:data:`DSP_MULTIPLIER`): an 8 × 8 takes one ``MULT18X18D`` / ``SB_MAC16``, a 24 × 24
        four on either family, a 1 × 8 none. Exact for the widths yosys maps; given widths
        before its ``wreduce``, it can only count more blocks than yosys uses, never fewer.
        0 on a device without DSP blocks."""
        if not self.resources.get("dsp"):
            return 0
        g = DSP_MULTIPLIER[self.family]
        a, b = max(a_width, b_width), min(a_width, b_width)   # mul2dsp puts the wider on A
        if a < g["min_a"] or b < g["min_b"] or y_width < g["min_y"]:
            return 0

        def chunks(width, full, least):
            # mul2dsp cuts an operand into `full`-bit chunks; a last chunk narrower than
            # `least` is multiplied in logic.
            return width // full + (1 if width % full >= least else 0)
        return chunks(a, g["max_a"], g["min_a"]) * chunks(b, g["max_b"], g["min_b"])

    @property
    def nextpnr(self):
        """The YoWASP nextpnr command for this family."""
        return f"yowasp-nextpnr-{self.family}"

    @property
    def packer(self):
        """The YoWASP bitstream packer command for this family."""
        return {"ice40": "yowasp-icepack", "ecp5": "yowasp-ecppack"}[self.family]


DEVICES = {d.name: d for d in (
    Device("up5k", "ice40", "iCE40 UP5K, SG48 package (iCEBreaker)",
           ("--up5k", "--package", "sg48"), "synth_ice40 -dsp",
           dict(lut=5280, ff=5280, carry=5280, dsp=8, bram=30, spram=4, io=39),
           default_freq=100.0),
    Device("hx8k", "ice40", "iCE40 HX8K, CT256 package",
           ("--hx8k", "--package", "ct256"), "synth_ice40",
           dict(lut=7680, ff=7680, carry=7680, dsp=0, bram=32, spram=0, io=206),
           default_freq=200.0),
    Device("ecp5-25f", "ecp5", "ECP5 LFE5U-25F, CABGA381 package",
           ("--25k", "--package", "CABGA381"), "synth_ecp5",
           dict(lut=24288, ff=24288, carry=24288, dsp=28, bram=56, spram=0, io=197),
           default_freq=250.0, clock_pin="G2"),
    Device("ecp5-85f", "ecp5", "ECP5 LFE5U-85F, CABGA381 package (ULX3S 85F)",
           ("--85k", "--package", "CABGA381"), "synth_ecp5",
           dict(lut=83640, ff=83640, carry=83640, dsp=156, bram=208, spram=0, io=205),
           default_freq=250.0, clock_pin="G2"),
)}


def get_device(name):
    """The :class:`Device` called ``name``.

    Raises
    ------
    ValueError
        ``name`` is not one of :data:`DEVICES`; the message lists the allowed names.
    """
    if isinstance(name, Device):
        return name
    try:
        return DEVICES[name]
    except (KeyError, TypeError):
        allowed = ", ".join(repr(n) for n in DEVICES)
        raise ValueError(f"Device must be one of {allowed}, not {name!r}") from None

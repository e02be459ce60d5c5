"""What the flow measured, and how it is shown: result records, tables, JSON.

:class:`SynthResult` (one out-of-context synthesis, :mod:`hwgen.flow.synth`) and
:class:`BuildResult` (one board build, :mod:`hwgen.flow.build`) are plain records of values:
they go to JSON and back unchanged (the synthesis cache stores them so) and print as a table.
"""

import json
from dataclasses import asdict, dataclass, field

from .devices import get_device
from .run import ROUTERS

__all__ = ["SynthResult", "BuildResult", "format_table", "format_build_table"]


@dataclass
class SynthResult:
    """What one out-of-context synthesis measured.

    Attributes
    ----------
    module : str
        The unit's module name.
    device : str
        Device name (``up5k``).
    seed, target_mhz :
        nextpnr's placement seed and target clock.
    fmax_mhz : float
        Fmax nextpnr achieved for the placed design (unit + harness), MHz.
    unit : dict
        The unit alone, from yosys ``stat`` after mapping: ``lut`` (LUT4), ``ff``, ``carry``
        (``SB_CARRY`` on iCE40, ``CCU2C`` on ECP5: each holds two LUT4s there), ``dsp``,
        ``bram``, ``spram``, ``lutram``.
    unit_cells : dict
        The unit's cell counts by cell type, as yosys named them.
    placed : dict
        The whole placed design, from nextpnr's report: for each resource kind
        ``{"used": n, "available": m}`` (``lut`` = logic cells on iCE40, LUT4 slots on ECP5;
        ``ff`` on iCE40 comes from yosys, which nextpnr does not count separately).
    placed_cells : dict
        nextpnr's utilization table as it wrote it.
    input_bits, output_bits : int
        Unit data inputs fed by the harness shift register, outputs it captures.
    harness_ff : int
        Flip-flops the harness adds (``placed`` includes them, ``unit`` does not).
    dsp_allowed : bool
        False when yosys was told to keep multipliers out of DSP blocks.
    mults_in_logic : int
        Multipliers built in logic because the device has too few DSP blocks for all of
        them (the DSP budget, see :func:`hwgen.flow.dsp.dsp_budget`); 0 when all fit.
    router : str
        The nextpnr router that routed it (``router1``, nextpnr's default, or ``router2``).
    critical_path : list of str
        Start and end of nextpnr's critical path (cell names).
    tools : dict
        Version of each tool used.
    key : str
        The cache key.
    seconds : float
        Time the tools took when this result was computed.
    cached : bool
        True when this result came from the cache.
    build_dir : str
        Where the Verilog, scripts, logs and reports are.
    worker : str
        The Dask worker that ran the tools in a sweep (:mod:`hwgen.flow.sweep`; ``"local"``
        without Dask), ``""`` outside a sweep.
    requested_mhz : float or None
        The pipelining request the unit was generated for (``target_mhz=`` /
        ``--target-mhz``), ``None`` if it was not; ``target_mhz`` stays nextpnr's clock
        constraint and ``fmax_mhz`` the achieved clock.
    latency : int or None
        The unit's pipeline latency in cycles (``None`` for a unit without one).
    """
    module: str
    device: str
    seed: int
    target_mhz: float
    fmax_mhz: float
    unit: dict
    unit_cells: dict
    placed: dict
    placed_cells: dict
    input_bits: int
    output_bits: int
    harness_ff: int
    dsp_allowed: bool = True
    mults_in_logic: int = 0
    router: str = ROUTERS[0]
    critical_path: list = field(default_factory=list)
    tools: dict = field(default_factory=dict)
    key: str = ""
    seconds: float = 0.0
    cached: bool = False
    build_dir: str = ""
    worker: str = ""
    requested_mhz: float | None = None
    latency: int | None = None

    def to_dict(self):
        return asdict(self)

    def to_json(self, **kwargs):
        """The result as JSON text (``indent=2`` unless told otherwise)."""
        kwargs.setdefault("indent", 2)
        kwargs.setdefault("sort_keys", True)
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data):
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class BuildResult:
    """What one board build produced and measured.

    Attributes
    ----------
    board, device : str
        Board and FPGA names.
    rows, cols, pe, dataflow :
        The array.
    mul_latency, add_latency : int
        The array's PE pipeline (0 and 0: unpipelined).
    network : bool
        The host link has the network extension (protocol version 2).
    flow : str
        The array's flow control, ``stall`` or ``credit``
        (:class:`~hwgen.arrays.systolic.SystolicArray`).
    seed : int
        nextpnr placement seed.
    clock_mhz : float
        Required clock (the board's).
    fmax_mhz : float
        Fmax nextpnr achieved (the slowest clock domain).
    timing_met : bool
        ``fmax_mhz >= clock_mhz``.
    resources : dict
        For each kind (``lut``, ``ff``, ``dsp``, ``bram``, ``spram``, ``io``):
        ``{"used": n, "available": m}`` (``lut`` = logic cells on iCE40, LUT4 slots on ECP5;
        ``ff`` on iCE40 from yosys).
    baud, divisor : int
        UART line rate and its clock divider.
    depths : dict
        Buffer depths (words).
    bitstream : str
        Path of the bitstream.
    sha256 : str
        Of the bitstream.
    seconds : dict
        Time of each step (``yosys``, ``nextpnr``, ``pack``, ``total``).
    tools : dict
        Tool versions.
    build_dir : str
        Where everything is (logs ``top.rpt`` (yosys) and ``top.tim`` (nextpnr)).
    dsp_blocks : bool
        False when the multipliers did not fit the DSP blocks and were built in logic (iCE40:
        ``synth_ice40 -dsp`` maps every multiplier to a DSP, so past 8 the build is redone
        without ``-dsp``).
    mults_in_logic : int
        Multipliers built in logic cells because the DSP blocks ran out (the first ones go
        to DSP blocks while there are enough, the rest are mapped to logic before
        ``synth_<family>``: see :func:`hwgen.flow.dsp.dsp_budget`).
    router : str
        The nextpnr router (``router1``, nextpnr's default, or ``router2``).
    oscillator_mhz : float or None
        The board oscillator's clock.
    requested_clock_mhz : float or str or None
        ``--clock-mhz``: a frequency, ``"auto"``, or ``None`` (the oscillator's clock).
    pll : dict or None
        The PLL that makes ``clock_mhz`` (:meth:`boards.pll.PLLConfig.to_dict`: family,
        input, requested and output frequencies, PFD, VCO, the primitive's parameters), or
        ``None`` when the accelerator runs at the oscillator's clock.
    requested_mhz : float or None
        ``--target-mhz``: the clock the PE pipeline was planned for (``None``: not planned).
    clock_search : list of dict
        ``--clock-mhz auto``: each build of the search, in order (``clock_mhz``,
        ``fmax_mhz``, ``timing_met``).
    """
    board: str
    device: str
    rows: int
    cols: int
    pe: str
    dataflow: str
    seed: int
    clock_mhz: float
    fmax_mhz: float
    timing_met: bool
    resources: dict
    baud: int
    divisor: int
    depths: dict
    bitstream: str
    sha256: str
    seconds: dict = field(default_factory=dict)
    tools: dict = field(default_factory=dict)
    build_dir: str = ""
    dsp_blocks: bool = True
    mults_in_logic: int = 0
    mul_latency: int = 0
    add_latency: int = 0
    network: bool = False
    flow: str = "stall"
    router: str = ROUTERS[0]
    oscillator_mhz: float | None = None
    requested_clock_mhz: float | str | None = None
    pll: dict | None = None
    requested_mhz: float | None = None
    clock_search: list = field(default_factory=list)

    def to_dict(self):
        return asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


# -- tables -------------------------------------------------------------------------------------

def format_table(result):
    """A printable table of ``result``: unit counts, placed counts, availability, Fmax."""
    dev = get_device(result.device)
    lut_label = "LUT4 / LC" if dev.family == "ice40" else "LUT4"
    rows = [("resource", "unit (yosys)", "placed (nextpnr)", "available", "used %")]
    kinds = [("lut", lut_label), ("ff", "FF"), ("carry", "carry"), ("dsp", "DSP"),
             ("bram", "BRAM")]
    if dev.resources.get("spram"):
        kinds.append(("spram", "SPRAM"))
    for kind, label in kinds:
        placed = result.placed.get(kind, {})
        used = placed.get("used")
        avail = placed.get("available", dev.resources.get(kind, 0))
        pct = f"{100.0 * used / avail:.1f}" if used is not None and avail else "-"
        if kind == "carry":
            pct = "-"  # carry cells share logic cells/slices with LUTs
        rows.append((label, str(result.unit.get(kind, 0)),
                     "-" if used is None else str(used), str(avail), pct))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [f"{result.module} on {dev.name} ({dev.description}), seed {result.seed}"
             + ("" if result.dsp_allowed else ", no DSP blocks")
             + (f", {result.mults_in_logic} multipliers in logic (more than DSP blocks)"
                if result.mults_in_logic else "")
             + (f", nextpnr {result.router}" if result.router != ROUTERS[0] else "")
             + ("  [cached]" if result.cached else "")]
    for i, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                               for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    lines.append(f"Fmax {result.fmax_mhz:.1f} MHz achieved (target {result.target_mhz:g} MHz)")
    if result.requested_mhz is not None:
        lines.append(f"pipelined for {result.requested_mhz:g} MHz: latency {result.latency}"
                     + (" (met)" if result.fmax_mhz >= result.requested_mhz else " (not met)"))
    lines.append(f"unit: the unit alone after mapping; placed: unit + harness "
                 f"({result.harness_ff} FF of I/O registers"
                 + (", LUT4 column counts logic cells" if dev.family == "ice40" else "")
                 + "); Fmax is for the placed design, reg to reg.")
    lines.append("tools: " + ", ".join(result.tools.values()))
    if result.build_dir:
        lines.append(f"logs and reports: {result.build_dir}")
    return "\n".join(lines)


def format_build_table(result):
    """A printable table of a :class:`BuildResult`."""
    dev = get_device(result.device)
    rows = [("resource", "used", "available", "used %")]
    labels = dict(lut="LUT4 / LC" if dev.family == "ice40" else "LUT4", ff="FF", dsp="DSP",
                  bram="BRAM", spram="SPRAM", io="I/O")
    for kind, label in labels.items():
        r = result.resources.get(kind)
        if r is None:
            continue
        used, avail = r.get("used"), r.get("available")
        pct = f"{100.0 * used / avail:.1f}" if used is not None and avail else "-"
        rows.append((label, str(used), str(avail if avail is not None else "-"), pct))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    pipe = (f", PE pipeline mul {result.mul_latency} / add {result.add_latency}"
            if result.mul_latency or result.add_latency else "")
    pipe += ", network extension" if result.network else ""
    lines = [f"{result.rows}x{result.cols} {result.pe} {result.dataflow} array{pipe} on "
             f"{result.board} ({dev.description}), seed {result.seed}"
             + (f", nextpnr {result.router}" if result.router != ROUTERS[0] else "")]
    for i, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                               for j, (c, w) in enumerate(zip(r, widths))))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    verdict = "met" if result.timing_met else "MISSED"
    lines.append(f"Fmax {result.fmax_mhz:.1f} MHz achieved, {result.clock_mhz:g} MHz required: "
                 f"timing {verdict}")
    if result.pll is not None:
        p = result.pll
        lines.append(f"clock: {p['family']} PLL {p['input_mhz']:g} MHz -> "
                     f"{p['output_mhz']:g} MHz (requested {p['requested_mhz']:g}; PFD "
                     f"{p['pfd_mhz']:g}, VCO {p['vco_mhz']:g} MHz)")
    elif result.oscillator_mhz is not None:
        lines.append(f"clock: the board oscillator, {result.oscillator_mhz:g} MHz")
    if result.clock_search:
        lines.append("clock search: " + ", ".join(
            f"{s['clock_mhz']:g} MHz {'met' if s['timing_met'] else 'missed'} "
            f"(Fmax {s['fmax_mhz']:.1f})" for s in result.clock_search))
    if not result.dsp_blocks:
        lines.append("multipliers built in logic cells (more of them than DSP blocks)")
    elif result.mults_in_logic:
        lines.append(f"{result.mults_in_logic} multipliers built in logic cells (more of them "
                     "than DSP blocks)")
    lines.append(f"UART {result.baud} baud (clock / {result.divisor}); buffers "
                 + ", ".join(f"{k} {v}" for k, v in result.depths.items()) + " words")
    lines.append(f"bitstream: {result.bitstream} (sha256 {result.sha256[:16]}...)")
    lines.append(f"time: yosys {result.seconds.get('yosys', 0):.1f} s, nextpnr "
                 f"{result.seconds.get('nextpnr', 0):.1f} s, pack "
                 f"{result.seconds.get('pack', 0):.1f} s")
    return "\n".join(lines)

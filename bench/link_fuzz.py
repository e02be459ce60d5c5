"""The host-link fuzzer's figures (issue 22) → ``docs/link_fuzz.md``.

Runs :func:`sim.link_fuzz.run_fuzz` (random and mutated frames into the simulated board, each
followed by an IDENTIFY that must be answered, a bit-exact GEMM at the end) for ``--frames``
cases (default 10^6) and writes the counts: frames by kind, the board's answers by status,
hangs, simulated clock cycles and wall time.

    .venv/bin/python bench/link_fuzz.py                   # 10^6 frames (~45 min, one core)
    .venv/bin/python bench/link_fuzz.py --frames 20000    # a quick look (the doc says how many)
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from units import table  # noqa: E402  (bench/units.py: the Markdown table writer)

from hwgen.elaboratables import not_built  # noqa: E402
from sim.link_fuzz import fuzz_core, run_fuzz  # noqa: E402

DOC = ROOT / "docs" / "link_fuzz.md"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.frames < 1:
        p.error(f"--frames must be positive, not {args.frames}")
    t0 = time.monotonic()
    r = run_fuzz(args.frames, seed=args.seed)
    seconds = time.monotonic() - t0
    core = fuzz_core()
    not_built(core, core.array)
    lines = [
        "# Host-link fuzzing",
        "",
        "Produced by `bench/link_fuzz.py` (`sim.link_fuzz`): random and mutated request frames",
        "sent to the board's gateware (`HostLinkCore`: UART, protocol engine, buffers, a 2x2 int8",
        "array) under Verilator (`hwgen.flow.simulated_board`), each case followed by an IDENTIFY that",
        "must be answered with the board's own description; a GEMM at the end must be",
        "bit-exact. A *hang* is an IDENTIFY not answered correctly. The board is built small so",
        f"that every error path is reachable: buffers {core.depths}, payload limit "
        f"{core.max_payload} bytes, UART divider {core.divisor}, inter-byte timeout "
        f"{core.timeout_cycles} clocks, run watchdog {core.watchdog_cycles} clocks.",
        "`make test` runs 10^4 cases (`tests/test_link_fuzz.py`).",
        "",
        f"Seed {args.seed}: **{r['frames']:,} cases, {r['hangs']} hangs, final GEMM "
        f"{'bit-exact' if r['gemm_mismatches'] == 0 else 'WRONG'}**; "
        f"{r['cycles']:,} simulated clock cycles in {seconds:.0f} s "
        f"({r['frames'] / seconds:,.0f} cases/s).",
        "",
        "## Cases by kind",
        "",
        table([dict(kind=k, n=f"{n:,}") for k, n in r["by_kind"].items()], ["kind", "n"],
              ["kind", "cases"]),
        "",
        "## The board's answers (response frames parsed from everything it sent)",
        "",
        table([dict(status=k, n=f"{n:,}") for k, n in r["replies"].items()], ["status", "n"],
              ["status", "responses"]),
        "",
    ]
    DOC.write_text("\n".join(lines))
    print(f"wrote {DOC}: {r['frames']:,} cases, {r['hangs']} hangs ({seconds:.0f} s)")
    return 0 if r["hangs"] == 0 and r["gemm_mismatches"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

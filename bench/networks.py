"""Whole networks on the (simulated) boards, layer by layer (issue 18) → ``docs/networks.md``.

For the built-in digits MLP and CNN, the explorer picks the integer precision (fixed point
4..8 bits, 1 % loss target, costs from the synthesis cache only: without them it ranks by
width), and :func:`hwgen.explore.netrun.run_network` runs ``--inputs`` test inputs through the
board design ``hwgen build`` makes for the iCEBreaker and the ULX3S (the array size the
explorer suggests for that board), simulated under Verilator: accuracy, every score against
the emulation, clock cycles, UART bytes and inferences/s per inference.

    .venv/bin/python bench/networks.py               # 64 inputs each (a few minutes)
    .venv/bin/python bench/networks.py --inputs 8    # a quick look (the doc says how many)
"""

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# Last on the path: bench/boards.py must not hide the boards package.
sys.path.append(str(Path(__file__).resolve().parent))

from units import table  # noqa: E402  (bench/units.py: the Markdown table writer)

DOC = ROOT / "docs" / "networks.md"
MODELS = ["mlp-digits-small", "cnn-digits"]
BOARDS = [("icebreaker", "up5k"), ("ulx3s-85f", "ecp5-85f")]


def chosen_fixed(model, device):
    """The explorer's integer candidate for ``model`` on ``device`` (cached costs only)."""
    from hwgen.explore.cost import CostModel
    from hwgen.explore.search import Explorer, parse_space
    ex = Explorer(model, parse_space("fx4-8"), 0.01,
                  cost_model=CostModel(device, synthesize=False))
    ex.measure_costs()
    return ex.exhaustive()["chosen"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--inputs", type=int, default=64)
    args = p.parse_args(argv)
    from hwgen.explore.models import builtin_model
    from hwgen.explore.netrun import run_network
    from hwgen.explore.report import suggested_size
    from hwgen.host import Accelerator
    rows = []
    t_all = time.monotonic()
    for name in MODELS:
        model = builtin_model(name)
        for board, device in BOARDS:
            cand = chosen_fixed(model, device)
            pe = f"int{cand[2:]}"
            n = suggested_size(board, pe)
            t0 = time.monotonic()
            with Accelerator.simulate(board, n, n, pe) as acc:
                r = run_network(model, pe, acc, args.inputs)
            x_bytes = int(model.x_test[0].size)            # one byte per int8 input
            rows.append(dict(
                model=name, board=board, cand=cand, array=f"{n}x{n} {pe}",
                inputs=r["inputs"], acc=f"{r['accuracy']:.4f}",
                exact=f"{r['scores_compared']} / {r['mismatches']}",
                cycles=f"{r['cycles_per_inference']:,.0f}",
                bytes=f"{r['bytes_per_inference']:,.0f}",
                target=f"{x_bytes + 4 * model.n_classes + 16}",
                ips=f"{r['inferences_per_s']:.1f}",
                clock=f"{r['clock_hz'] / 1e6:g} MHz, {r['baud'] / 1e6:g} Mbaud",
                seconds=f"{time.monotonic() - t0:.0f}"))
            print(rows[-1], flush=True)
    total = time.monotonic() - t_all
    lines = [
        "# Whole networks on the boards",
        "",
        "Produced by `bench/networks.py`: each built-in digits network at the integer precision",
        "the explorer chooses (fixed point 4..8 bits, 1 % target; cached costs), run with",
        "`hwgen run`'s machinery on the design `hwgen build` makes for the board (array of the",
        "size the explorer suggests for it), simulated under Verilator with the board's clock",
        "and UART. Today's path is *layer by layer*: every layer's GEMM goes to the board over",
        "the UART with its weights, the host applies bias, re-quantization and activations",
        "between layers. *bit-exact* is scores compared / mismatches against the explorer's",
        "emulation; cycles and bytes are per inference (one inference at a time, UART",
        "transfers included); *target bytes* is issue 18's goal for the chained path (input",
        "bytes + score bytes + 16), which is not built yet.",
        "",
        table(rows, ["model", "board", "cand", "array", "inputs", "acc", "exact", "cycles",
                     "bytes", "target", "ips", "clock", "seconds"],
              ["model", "board", "candidate", "array", "inputs", "accuracy", "bit-exact",
               "cycles/inference", "bytes/inference", "target bytes", "inferences/s",
               "clock, UART", "s"]),
        "",
        f"Whole run: {total:.0f} s.",
        "",
    ]
    DOC.write_text("\n".join(lines))
    print(f"wrote {DOC} ({total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Whole networks on the (simulated) boards, chained on chip and layer by layer (issue 18)
→ ``docs/networks.md``.

For the built-in digits MLPs and CNN, the explorer picks the integer precision (fixed point
4..8 bits, 1 % loss target, costs from the synthesis cache only: without them it ranks by
width), and :func:`hwgen.explore.netrun.run_network` runs ``--inputs`` test inputs through the
board design ``hwgen build --network`` makes for the iCEBreaker and the ULX3S, simulated under
Verilator with the board's clock and UART: accuracy, every score against the emulation, clock
cycles, UART bytes and inferences/s per inference. Where the layers chain on chip (dense
layers with ReLUs, convolutions with max pooling) a few of the same inputs also run layer by
layer on the same board, for the speedup. The array is the size the explorer suggests for the
board, or the largest square below it whose network design fits (``--build``: each design is
built with ``hwgen build --network``, its LUT4 and Fmax go in the table; without it the sizes
measured last are used).

    .venv/bin/python bench/networks.py               # 64 inputs each (a few minutes)
    .venv/bin/python bench/networks.py --build       # also build every design (~10 min)
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
MODELS = ["mlp-digits-small", "mlp-digits", "cnn-digits"]
BOARDS = [("icebreaker", "up5k"), ("ulx3s-85f", "ecp5-85f")]
#: The clock each board's designs run at (``hwgen build --clock-mhz``; None: the
#: oscillator's). The iCEBreaker's network designs close timing above its 12 MHz
#: oscillator (18.6 MHz for the 2x2 int6 one, seed 1), so they run from the PLL at its
#: lowest output, 16.125 MHz (the UART divider follows: 1 Mbaud is 16 clocks a bit); the
#: ULX3S's at its 25 MHz oscillator.
CLOCK_MHZ = {"icebreaker": 16.125, "ulx3s-85f": None}
#: Float arrays chained too: (model, board, PE, N, PE pipeline), beside the explorer's
#: integer rows; the pipeline is what ``hwgen build --target-mhz 40`` plans on the ECP5
#: (unpipelined, the 4×4 array reaches 21.7 MHz: below the ULX3S's 25 MHz).
FLOAT_ROWS = [("mlp-digits", "ulx3s-85f", "e4m3:e4m3:rounded", 4, 40)]
#: Layer-by-layer inputs per row (the comparison on the chained path).
COMPARE = 4
#: Arrays whose network design does not fit, measured with ``hwgen build --network``:
#: (board, pe, n) -> logic cells needed / available (so the bench takes the next size down).
NO_FIT = {("icebreaker", "int5", 3): "6,160 / 5,280 logic cells",
          ("icebreaker", "int6", 3): "6,309 / 5,280 logic cells"}


def chosen_fixed(model, device):
    """The explorer's integer candidate for ``model`` on ``device`` (cached costs only)."""
    from hwgen.explore.cost import CostModel
    from hwgen.explore.search import Explorer, parse_space
    ex = Explorer(model, parse_space("fx4-8"), 0.01,
                  cost_model=CostModel(device, synthesize=False))
    ex.measure_costs()
    return ex.exhaustive()["chosen"]


def network_size(board, pe):
    """The array side for ``pe`` on ``board``: the explorer's suggestion, less the sizes whose
    network design does not fit (:data:`NO_FIT`)."""
    from hwgen.explore.report import suggested_size
    n = suggested_size(board, pe)
    while n > 2 and (board, pe, n) in NO_FIT:
        n -= 1
    return n


def not_chained(model):
    """Why the model's layers do not chain on chip, or None
    (:func:`hwgen.explore.chain.chain_layers`)."""
    from hwgen.explore.chain import chain_layers
    try:
        chain_layers(model)
    except ValueError as e:
        return str(e)
    return None


def build_design(board, n, pe, network, pipe=(0, 0)):
    """``hwgen build [--network]`` of the design: (LUT4 used/available, Fmax) or why not."""
    from hwgen.flow.build import build
    from hwgen.flow.synth import DoesNotFit
    tag = f"_p{pipe[0]}{pipe[1]}" if any(pipe) else ""
    out = ROOT / "build" / "bench_networks" / (f"{board}_{n}x{n}_{pe}{tag}"
                                               f"{'_net' if network else ''}")
    try:
        r = build(board, n, n, pe, network=network, progress=False, allow_timing_fail=True,
                  out_dir=out, mul_latency=pipe[0], add_latency=pipe[1],
                  clock_mhz=CLOCK_MHZ[board])
    except DoesNotFit as e:
        return f"does not fit: {str(e).split(': ', 1)[-1].split(' (log')[0]}", ""
    lut = r.resources["lut"]
    return f"{lut['used']:,} / {lut['available']:,}", f"{r.fmax_mhz:.1f}"


#: Rows of earlier runs (``--models`` reruns some and keeps the others).
ROWS = ROOT / "build" / "bench_networks" / "rows.json"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--inputs", type=int, default=64)
    p.add_argument("--build", action="store_true",
                   help="build every network design (hwgen build --network)")
    p.add_argument("--models", nargs="*", default=MODELS + ["float"],
                   choices=MODELS + ["float"],
                   help="rerun these models (float: the FLOAT_ROWS) only, the other rows "
                        "from the last run; none: only write the doc")
    args = p.parse_args(argv)
    import json
    kept = json.loads(ROWS.read_text()) if ROWS.exists() else []
    from hwgen.explore.models import builtin_model
    from hwgen.explore.netrun import run_network
    from hwgen.explore.report import suggested_size
    from hwgen.host import Accelerator
    rows = []
    t_all = time.monotonic()
    def measure(name, model, board, pe, n, net, cand, kind, pipe=(0, 0)):
        t0 = time.monotonic()
        with Accelerator.simulate(board, n, n, pe, network=net, mul_latency=pipe[0],
                                  add_latency=pipe[1], clock_mhz=CLOCK_MHZ[board]) as acc:
            r = run_network(model, pe, acc, args.inputs, compare_inputs=COMPARE)
        lut, fmax = build_design(board, n, pe, net, pipe) if args.build else ("", "")
        x_bytes = int(model.x_test[0].size)            # one byte per int8 input
        lbl = r.get("layer_by_layer")
        rows.append(dict(
            kind=kind, model=name, board=board, cand=cand,
            array=f"{n}x{n} {pe}" + (f" (PE pipeline {pipe[0]}/{pipe[1]})" if any(pipe) else ""),
            path=r["path"], inputs=r["inputs"], acc=f"{r['accuracy']:.4f}",
            exact=f"{r['scores_compared']} / {r['mismatches']}",
            cycles=f"{r['cycles_per_inference']:,.0f}",
            bytes=f"{r['bytes_per_inference']:,.0f}",
            target=f"{x_bytes + 4 * model.n_classes + 16}",
            ips=f"{r['inferences_per_s']:.1f}",
            lbl=(f"{lbl['inferences_per_s']:.1f} ({lbl['inputs']}, "
                 f"{'exact' if lbl['bit_exact'] else 'NOT exact'})" if lbl else "-"),
            speedup=f"{r['speedup']:.1f}x" if lbl else "-",
            lut=lut, fmax=fmax,
            clock=f"{r['clock_hz'] / 1e6:g} MHz, {r['baud'] / 1e6:g} Mbaud",
            seconds=f"{time.monotonic() - t0:.0f}"))
        print(rows[-1], flush=True)

    for name in MODELS:
        if name not in args.models:
            rows += [r for r in kept if r["model"] == name and r.get("kind") != "float"]
            continue
        model = builtin_model(name)
        net = not_chained(model) is None   # else the board without the extension
        for board, device in BOARDS:
            cand = chosen_fixed(model, device)
            pe = f"int{cand[2:]}"
            n = network_size(board, pe) if net else suggested_size(board, pe)
            measure(name, model, board, pe, n, net, cand, "explorer")
    if "float" in args.models:
        from boards import get_board
        from hwgen.arrays.pipeline import plan_pe_pipeline
        for name, board, pe, n, mhz in FLOAT_ROWS:
            plan = plan_pe_pipeline(pe, mhz, get_board(board).device)
            measure(name, builtin_model(name), board, pe, n, True, pe.split(":")[0], "float",
                    (plan.mul_latency, plan.add_latency))
    else:
        rows += [r for r in kept if r.get("kind") == "float"]
    total = time.monotonic() - t_all
    ROWS.parent.mkdir(parents=True, exist_ok=True)
    ROWS.write_text(json.dumps(rows, indent=1))
    why = sorted({f"{r['model']}: {not_chained(builtin_model(r['model']))}" for r in rows
                  if r["path"] != "chained"})
    lines = [
        "# Whole networks on the boards",
        "",
        "Produced by `bench/networks.py`: each built-in digits network at the integer precision",
        "the explorer chooses (fixed point 4..8 bits, 1 % target; cached costs), run with",
        "`hwgen run`'s machinery on the design `hwgen build --network` makes for the board",
        "(`hwgen build` without the extension for a model that does not chain), simulated",
        "under Verilator with the board's clock and UART (1 Mbaud). *LUT4 / LC* and *Fmax*",
        "are those builds' (nextpnr, seed 1: logic cells on the iCE40, LUT4 on the ECP5).",
        "The clock: "
        + ", ".join(f"the {b}'s PLL at {c:g} MHz (`hwgen build --clock-mhz {c:g}`)"
                    if c else f"the {b}'s oscillator" for b, c in CLOCK_MHZ.items()),
        "(the iCEBreaker's designs close timing above its 12 MHz oscillator: the Fmax column;",
        "16.125 MHz is its PLL's lowest output). Both paths of a row run on the same design",
        "at the same clock.",
        "The last rows are a float array's (not the explorer's choice: float arrays chain",
        "too, the bias added with one rounded add in the format).",
        "",
        "*chained*: the weights, biases and the layer table are written once; each inference",
        "is one INFER frame (input words in, score words out) and the layers run on chip, the",
        "bias, re-quantization and ReLU between them in hardware, a convolution's im2col rows",
        "gathered on chip and its max pooling done as its outputs are written (protocol",
        "version 2, [protocol.md](protocol.md)). *layer-by-layer*: every layer's GEMM goes to",
        "the board",
        "over the UART with its weights and the host applies bias, re-quantization and",
        "activations between layers; on chained rows it is measured on the first "
        f"{COMPARE} inputs",
        "on the same board (inputs, and whether those scores were bit-exact, in brackets).",
        "*bit-exact* is scores compared / mismatches against the explorer's emulation; cycles",
        "and bytes are per inference (one inference at a time, UART transfers included);",
        "*target bytes* is issue 18's goal for the chained path: input bytes (one per int8",
        "input) + score bytes (four per class) + 16.",
        "",
        table(rows, ["model", "board", "cand", "array", "path", "inputs", "acc", "exact",
                     "cycles", "bytes", "target", "ips", "lbl", "speedup", "lut", "fmax",
                     "clock", "seconds"],
              ["model", "board", "candidate", "array", "path", "inputs", "accuracy",
               "bit-exact", "cycles/inference", "bytes/inference", "target bytes",
               "inferences/s", "layer-by-layer inferences/s", "speedup", "LUT4 / LC",
               "Fmax MHz", "clock, UART", "s"]),
        "",
    ]
    if not any(r.get("lut") for r in rows):
        lines += ["LUT4 / LC and Fmax: not built (`--build`).", ""]
    for (board, pe, n), need in sorted(NO_FIT.items()):
        lines.append(f"- On the {board}, a {n}x{n} {pe} array with the network extension does "
                     f"not fit ({need}, measured with `hwgen build --network`): the "
                     f"table's array is the next size down.")
    for w in why:
        lines.append(f"- Not chained: {w}.")
    for r in rows:
        clock = float(r["clock"].split(" MHz")[0])
        if r.get("fmax") and float(r["fmax"]) < clock:
            lines.append(f"- {r['model']} on the {r['board']} ({r['array']}): Fmax "
                         f"{r['fmax']} MHz is below the {clock:g} MHz board clock, so that "
                         f"build misses timing (the simulation runs at the board clock).")
    if args.models == MODELS + ["float"]:
        end = f"Whole run: {total:.0f} s."
    elif args.models:
        end = "Rows of more than one run (`--models`); *s* is each row's time."
    else:
        end = ("Rows of the last run(s), this doc rewritten from them without running "
               "(`--models` with no name); *s* is each row's time.")
    lines += ["", end, ""]
    DOC.write_text("\n".join(lines))
    print(f"wrote {DOC} ({total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

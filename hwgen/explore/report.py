"""The explorer's run and report, the library behind ``hwgen explore``: :func:`explore`
evaluates the candidates of a model, prints a table of them, writes ``explore_<model>.json``
and ``explore_<model>.png`` (accuracy against cost, Pareto front) and prints the ``hwgen
generate``/``hwgen build`` commands for the chosen format (:func:`pe_commands`).

Errors in the arguments raise ``ValueError`` with a one-line message (``hwgen`` turns it into
``hwgen: error: ...`` and exit status 2).
"""

import json
import sys
import time
from pathlib import Path

__all__ = ["explore", "pe_commands", "pareto_plot", "progress_bar", "BOARDS",
           "BOARD_MAX_SQUARE", "suggested_size",
           "MAX_RTL_CANDIDATES"]

#: Candidates ``--verify-rtl`` simulates at most (each may need a Verilator build).
MAX_RTL_CANDIDATES = 8


def progress_bar(stream=None):
    """A ``progress(label, done, total)`` callback drawing a text bar on ``stream`` (stderr)."""
    stream = stream or sys.stderr
    state = {"label": None}

    def show(label, done, total):
        width = 30
        frac = done / total if total else 1.0
        fill = int(width * frac)
        stream.write(f"\r{label:<26} [{'#' * fill}{'-' * (width - fill)}] {done}/{total}")
        if done >= total:
            stream.write("\n")
        stream.flush()
        state["label"] = label
    return show


#: The board ``hwgen build`` targets for each device of the cost (devices without a board get
#: no build line).
BOARDS = {"up5k": "icebreaker", "ecp5-85f": "ulx3s-85f"}

#: The largest square array of each PE kind measured to fit its board *and* meet the board
#: clock (docs/boards.md, ``bench/boards.py``: placed, routed, timing met). The suggested
#: build is at most this size; PE kinds not measured are mapped to the measured kind that is
#: at least as large (integer PEs up to 8 bits: ``int8``; float PEs with an 8-bit format:
#: ``e4m3:fp16:rounded``), and wider ones get the smallest array, 2×2.
BOARD_MAX_SQUARE = {
    ("icebreaker", "int8"): 3, ("icebreaker", "e4m3:fp16:rounded"): 2,
    ("icebreaker", "bs8x8"): 3,
    # ulx3s-85f e4m3:fp16:rounded: 10x10 missed the 25 MHz clock, 9x9 was not built; 8x8
    # is 36 % fewer PEs, so a margin the measured slack makes safe.
    ("ulx3s-85f", "int8"): 11, ("ulx3s-85f", "e4m3:fp16:rounded"): 8,
    ("ulx3s-85f", "bs8x8"): 14,
}


#: ``(board, element)`` → ``(rows, cols)`` of the MX array the explorer suggests (built with
#: ``--pe-pipeline auto``, seed 1, and met the board clock: iCEBreaker 12.4-15.2 MHz of 12;
#: absent: it does not fit). Tall, since an ``mx:`` array shares one FP32 accumulation unit
#: per column (docs/arrays.md).
MX_BOARD_SHAPE = {("icebreaker", "e2m1"): (2, 1), ("icebreaker", "e2m3"): (2, 1),
                  ("icebreaker", "e3m2"): (2, 1), ("icebreaker", "int8"): (2, 1),
                  ("icebreaker", "e4m3"): (1, 1),
                  **{("ulx3s-85f", e): (8, 2) for e in ("e2m1", "e2m3", "e3m2", "int8", "e4m3",
                                                         "e5m2")}}


def suggested_size(board, pe):
    """The side N of the ``N×N`` array :func:`pe_commands` suggests for ``pe`` on ``board``:
    at most 4, never above :data:`BOARD_MAX_SQUARE`."""
    from ..pespec import parse_pe
    spec = parse_pe(pe)
    if (board, pe) in BOARD_MAX_SQUARE:
        n = BOARD_MAX_SQUARE[board, pe]
    elif spec.kind == "int" and max(spec.a_fmt.width, spec.w_fmt.width) <= 8:
        n = BOARD_MAX_SQUARE[board, "int8"]
    elif spec.kind == "float" and max(spec.a_fmt.width, spec.w_fmt.width) <= 8:
        n = BOARD_MAX_SQUARE[board, "e4m3:fp16:rounded"]
    else:
        n = 2
    return min(4, n)


def pe_commands(name, accumulate="rounded", device="up5k"):
    """The ``hwgen generate`` and ``hwgen build`` commands for candidate ``name`` (the board
    is the one carrying ``device``, the array as large as :func:`suggested_size` says fits).
    A bit-serial candidate has no ``hwgen build`` (``None``): the boards do not carry
    bit-serial arrays (``--verify-rtl`` simulates one); nor has a device without a board. An
    MX candidate's unit is the MX dot product; its build is an output-stationary ``mx:E``
    array of :data:`MX_BOARD_SHAPE`, the accumulation pipelined for the board clock (none
    when no such array fits the board)."""
    from .cost import BITSERIAL_LANES, MX_LANES
    from .emulate import MX, BitSerial, FixedPoint, parse_candidate
    from .rtl import rtl_pe
    c = parse_candidate(name)
    if isinstance(c, MX):
        gen = (f"hwgen generate mxdot --elem {c.elem} --lanes {MX_LANES} "
               f"-o mxdot_{c.elem}_l{MX_LANES}_rne.v")
        board = BOARDS.get(device)
        if (board, c.elem) not in MX_BOARD_SHAPE:
            return gen, None
        rows, cols = MX_BOARD_SHAPE[board, c.elem]
        return gen, (f"hwgen build --board {board} --rows {rows} --cols {cols} --pe "
                     f"{rtl_pe(c)} --dataflow os --pe-pipeline auto")
    if isinstance(c, BitSerial):
        k, w, a = BITSERIAL_LANES, c.weight_bits, c.act_bits
        return (f"hwgen generate bsmac --lanes {k} --weight-bits {w} --act-bits {a} "
                f"-o bsmac_k{k}_w{w}_a{a}_s.v", None)
    if isinstance(c, FixedPoint):
        acc = min(64, 2 * c.bits + 11)
        gen = (f"hwgen generate imac --a-bits {c.bits} --b-bits {c.bits} --acc-bits {acc} "
               f"-o imac_s{c.bits}x{c.bits}_a{acc}.v")
    else:
        # The accumulator (and read-out) format is the candidate itself, as emulated; the
        # generator's default accumulator for 8-bit inputs is fp16, so it is always given.
        fmt = f"--format {c.name} --acc-format {c.name}"
        if accumulate == "exact":
            fmt += f" --out-format {c.name} --max-terms 1024"
        gen = f"hwgen generate fmac {fmt} --accumulate {accumulate} -o fmac_{c.name}.v"
    board = BOARDS.get(device)
    if board is None:
        return gen, None
    pe = rtl_pe(c, accumulate)
    n = suggested_size(board, pe)
    return gen, f"hwgen build --board {board} --rows {n} --cols {n} --pe {pe}"


def _fmt(v, spec):
    return "-" if v is None else format(v, spec)


def _table(rows, cost_measured):
    head = ["format", "bits", "accuracy", "norm", "R2", "meets"]
    if cost_measured:
        head += ["LUT", "FF", "DSP", "Fmax", "area%", "speedup"]
    lines = [head]
    for r in rows:
        line = [r["name"], str(r["bits"]), _fmt(r["accuracy"], ".4f"),
                _fmt(r["normalized"], ".4f"), _fmt(r["r2"], ".4f"),
                "-" if r["meets"] is None else ("yes" if r["meets"] else "no")]
        if cost_measured:
            c = r["cost"] or {}
            line += [_fmt(c.get("lut"), "d"), _fmt(c.get("ff"), "d"), _fmt(c.get("dsp"), "d"),
                     _fmt(c.get("fmax"), ".1f"),
                     _fmt(None if not c else 100 * c["area"], ".2f"),
                     _fmt(r["speedup"], ".2f")]
        lines.append(line)
    widths = [max(len(x[i]) for x in lines) for i in range(len(head))]
    out = []
    for i, line in enumerate(lines):
        out.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                             for j, (c, w) in enumerate(zip(line, widths))).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def pareto_plot(path, rows, chosen, title, cost_measured):
    """Accuracy against cost of every evaluated candidate, with the Pareto front; PNG."""
    from ..extras import require
    matplotlib = require("matplotlib", "explore")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    pts = [r for r in rows if r["accuracy"] is not None and
           (not cost_measured or r["cost"])]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    if pts:
        xs = [100 * r["cost"]["area"] if cost_measured else r["bits"] for r in pts]
        ys = [100 * r["accuracy"] for r in pts]
        kinds = [r["kind"] for r in pts]
        for kind, marker in (("float", "o"), ("fixed", "s"), ("bitserial", "^")):
            sel = [i for i, k in enumerate(kinds) if k == kind]
            if sel:
                ax.scatter([xs[i] for i in sel], [ys[i] for i in sel], marker=marker,
                           s=18, alpha=0.6, label=kind)
        order = sorted(range(len(pts)), key=lambda i: (xs[i], -ys[i]))
        front, best = [], -1.0
        for i in order:
            if ys[i] > best:
                front.append(i)
                best = ys[i]
        ax.step([xs[i] for i in front], [ys[i] for i in front], where="post", color="k",
                lw=1, label="Pareto front")
        for i in front:
            ax.annotate(pts[i]["name"], (xs[i], ys[i]), fontsize=6, xytext=(3, -8),
                        textcoords="offset points")
        for i, r in enumerate(pts):
            if r["name"] == chosen:
                ax.scatter([xs[i]], [ys[i]], s=90, facecolors="none", edgecolors="r",
                           lw=1.5, label=f"chosen: {chosen}")
    ax.set_xlabel("MAC area, % of the device" if cost_measured
                  else "bits per value (cost not measured)")
    ax.set_ylabel("test accuracy, %")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _fit_for(model, accumulate, progress):
    from .search import calibration_points, fit_r2_model
    pts = calibration_points(model.name, accumulate, progress=progress)
    return fit_r2_model(pts)


def explore(model, *, formats=None, target_loss="1%", search="exhaustive",
            accumulate="rounded", device="up5k", synthesize=True, output=".",
            verify_rtl=None, rtl_array="4x4", rtl_dataflow="ws", progress=True, out=None,
            data=None, scheduler=None, workers=None):
    """Find the cheapest candidate format that keeps ``model``'s accuracy; print the table,
    write ``explore_<model>.json`` and ``.png`` into ``output``; return the report (the JSON).

    Parameters (``hwgen explore --help`` says more of each)
    ----------
    model : str
        A built-in model name, a model ``.npz`` file or an ONNX file (docs/models.md).
    data : str or None
        A data file (``x_test``, ``y_test``, optional ``x_calib``: raw inputs) replacing the
        model's test data; an ONNX model needs one.
    formats : str, optional
        The candidates (``--formats`` SPEC; default the float grid and fixed point).
    target_loss : str or float
        Allowed relative accuracy loss (``"1%"``, ``0.003``).
    search : str
        ``"exhaustive"``, ``"fast"`` (the R² search) or ``"both"``.
    accumulate : str
        Float MAC accumulation: ``"rounded"``, ``"fused"`` or ``"exact"``.
    device : str
        Device of the cost (``"up5k"``, ``"ecp5-85f"``).
    synthesize : bool
        False: use only cached costs.
    output : str or Path
        Directory for the JSON report and the plot.
    verify_rtl : int, optional
        Also run the first N test inputs through the systolic array RTL for each candidate
        (``rtl_array`` ``"RxC"``, ``rtl_dataflow``); the report's ``verify_rtl`` says which
        passed.
    progress : bool
        Draw a progress bar on stderr.
    out : file, optional
        Where the table goes (default stdout).

    Raises
    ------
    ValueError
        A bad argument (unknown model, format SPEC, target, device); one line.
    """
    out = out or sys.stdout
    from ..flow.devices import get_device
    from .cost import CostModel
    from .models import get_model
    from .search import Explorer, parse_space, parse_target
    target = parse_target(target_loss)
    space = parse_space(formats)
    device = get_device(device)
    outdir = Path(output)
    if outdir.exists() and not outdir.is_dir():
        raise ValueError(f"Output {str(output)!r} is not a directory")
    rtl = _rtl_setup(verify_rtl, rtl_array, rtl_dataflow, accumulate, space)
    model = get_model(model, data)
    model.require_data()
    progress = progress_bar() if progress else None

    t_start = time.monotonic()
    print(f"model {model.name}: {model.summary()}, {model.n_macs} MACs per inference, "
          f"{len(model.y_test)} test inputs", file=out)
    cost_model = CostModel(device.name, accumulate=accumulate,
                           max_terms=1024, synthesize=synthesize, scheduler=scheduler,
                           workers=workers)
    ex = Explorer(model, space, target, cost_model=cost_model, accumulate=accumulate,
                  progress=progress, scheduler=scheduler, workers=workers)
    print(f"float64 accuracy {ex.exact_accuracy:.4f}; target: normalized accuracy >= "
          f"{1 - target:.4f} (loss <= {100 * target:g}%); {len(space)} candidates; "
          f"{accumulate} accumulation", file=out, flush=True)
    ex.measure_costs()
    if not ex.cost_measured:
        reason = cost_model.unavailable or next(iter(cost_model.errors.values()), "unknown")
        print(f"cost: not measured ({reason}); candidates ranked by width instead",
              file=out, flush=True)

    report = dict(model=dict(name=model.name, summary=model.summary(), macs=model.n_macs,
                             test_inputs=len(model.y_test), description=model.description),
                  exact_accuracy=ex.exact_accuracy, target_loss=target,
                  accumulate=accumulate, device=device.name,
                  cost_measured=ex.cost_measured,
                  cost_reference=ex.costs.get("fp32"), cost_errors=dict(cost_model.errors))
    exh = fast = None
    if search in ("exhaustive", "both"):
        exh = ex.exhaustive()
        report["exhaustive"] = exh
    if search in ("fast", "both"):
        fit = _fit_for(model, accumulate, progress)
        ex_fast = ex if search == "fast" else Explorer(
            model, space, target, cost_model=None, accumulate=accumulate,
            progress=progress)
        if ex_fast is not ex:
            ex_fast.costs, ex_fast._ref_cost = ex.costs, ex._ref_cost
        fast = ex_fast.fast(fit)
        ex.r2.update(ex_fast.r2)
        fast_report = {k: v for k, v in fast.items() if k != "predicted"}
        fast_report["fit"] = fit
        if exh is not None:
            fast_report["same_as_exhaustive"] = fast["chosen"] == exh["chosen"]
        report["fast"] = fast_report
        for name, res in ex_fast.results.items():
            ex.results.setdefault(name, res)
    rows = ex.rows()
    if fast is not None:
        for r in rows:
            r["predicted_normalized"] = fast["predicted"].get(r["name"])
    report["candidates"] = rows
    chosen = (exh or fast)["chosen"]
    report["chosen"] = chosen
    report["seconds"] = time.monotonic() - t_start

    shown = [r for r in rows if r["accuracy"] is not None] if exh is None else rows
    print(_table(shown, ex.cost_measured), file=out)
    if exh is not None:
        print(f"exhaustive: {exh['evaluations']} full evaluations in {exh['seconds']:.1f} s; "
              f"best within target: {exh['chosen'] or 'none'}", file=out)
    if fast is not None:
        fit = report["fast"]["fit"]
        line = (f"fast search: R² fit norm_acc = {fit['intercept']:.3f} + "
                f"{fit['slope']:.3f}*R² on {fit['n']} points (R² >= {fit['min_r2']:g}) of "
                f"{', '.join(fit['models'])}; "
                f"start {fast['start']}, path {' -> '.join(fast['path'])}; "
                f"{fast['evaluations']} full evaluations in {fast['seconds']:.1f} s; "
                f"chose {fast['chosen'] or 'none'}")
        if exh is not None:
            line += (" (same as exhaustive)" if fast["chosen"] == exh["chosen"]
                     else f" (exhaustive chose {exh['chosen'] or 'none'})")
        else:
            line += " (exhaustive not run; --search both compares)"
        print(line, file=out)
    if chosen:
        c = next(r for r in rows if r["name"] == chosen)
        extra = (f", iso-area speedup {c['speedup']:.2f}x vs fp32, area "
                 f"{100 * c['cost']['area']:.2f}% of {device.name}"
                 if c["speedup"] is not None else ", cost: not measured")
        print(f"chosen: {chosen} (accuracy {c['accuracy']:.4f}, normalized "
              f"{c['normalized']:.4f}{extra})", file=out)
        gen, build = pe_commands(chosen, accumulate, device.name)
        report["commands"] = dict(generate=gen, build=build)
        from .emulate import MX, parse_candidate
        cand = parse_candidate(chosen)
        build_line = build or (
            f"(no hwgen build line: no board carries {device.name})"
            if device.name not in BOARDS else
            f"(no hwgen build line: no mx:{cand.elem} array fits the {BOARDS[device.name]})"
            if isinstance(cand, MX) else
            "(no hwgen build line: the boards do not carry bit-serial arrays)")
        print(f"  {gen}\n  {build_line}", file=out)
    else:
        print(f"no candidate meets the target (loss <= {100 * target:g}%)", file=out)
    if rtl is not None:
        report["verify_rtl"] = _verify_rtl(model, space, verify_rtl, accumulate, rtl_dataflow,
                                           rtl, ex._scales, out)
    outdir.mkdir(parents=True, exist_ok=True)
    stem = f"explore_{model.name}"
    (outdir / f"{stem}.json").write_text(json.dumps(report, indent=1, default=_json_default))
    pareto_plot(outdir / f"{stem}.png", rows, chosen,
                f"{model.name} ({accumulate}, {device.name}); target loss "
                f"{100 * target:g}%", ex.cost_measured)
    print(f"wrote {outdir / (stem + '.json')} and {outdir / (stem + '.png')}", file=out)
    return report


def _rtl_setup(n, rtl_array, rtl_dataflow, accumulate, space):
    """Check the ``--verify-rtl`` arguments before anything runs: ``(rows, cols)`` or
    ``None`` when not asked."""
    if n is None:
        return None
    from .rtl import MAX_RTL_INPUTS, check_rtl, parse_array
    if not 1 <= n <= MAX_RTL_INPUTS:
        raise ValueError(f"--verify-rtl takes 1..{MAX_RTL_INPUTS} inputs, not {n}")
    if len(space) > MAX_RTL_CANDIDATES:
        raise ValueError(f"--verify-rtl simulates every candidate of --formats, at most "
                         f"{MAX_RTL_CANDIDATES}, not {len(space)}: name the formats to check")
    for c in space:
        check_rtl(c, accumulate, rtl_dataflow)
    return parse_array(rtl_array)


def _verify_rtl(model, space, n, accumulate, rtl_dataflow, shape, scales, out):
    from .rtl import verify_rtl
    results = []
    for c in space:
        print(f"RTL check: {c.name} on a {shape[0]}x{shape[1]} {rtl_dataflow} systolic "
              f"array, first {n} test inputs (Verilator) ...", file=out,
              flush=True)
        try:
            r = verify_rtl(model, c, n, accumulate=accumulate,
                           rows=shape[0], cols=shape[1], dataflow=rtl_dataflow,
                           scales=scales)
        except RuntimeError as e:
            raise ValueError(f"--verify-rtl: {e}") from None
        results.append(r)
        for x in r["layers"]:
            m, k, n = x["shape"]
            print(f"  layer {x['layer']}: {m}x{k}x{n} GEMM, {m * n} results: "
                  f"{x['mismatches']} differ from the emulation"
                  + (f" ({'; '.join(x['first'][:3])})" if x["first"] else ""), file=out)
        print(f"  {r['pe']} array {r['toplevel']}: "
              f"{'bit-exact' if r['passed'] else 'MISMATCH'} "
              f"({sum(x['shape'][0] * x['shape'][2] for x in r['layers'])} results, "
              f"{r['seconds']:.0f} s)", file=out, flush=True)
    return results


def _json_default(o):
    import numpy as np
    if isinstance(o, np.generic):
        return o.item()
    if o == float("inf"):
        return None
    raise TypeError(repr(o))

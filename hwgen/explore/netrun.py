"""A whole network on the accelerator, checked against the explorer's emulation (``hwgen run``).

Two paths, chosen by :meth:`hwgen.host.Accelerator.load_network`:

chained
    On a board with the network extension (``hwgen build --network``, protocol version 2)
    and a model of dense layers with ReLUs on an ``intN`` array
    (:mod:`hwgen.explore.chain`): the weights, biases and layer table are written once, and
    each inference is one INFER frame (the input in, the scores out); the layers run on
    chip one after the other, the epilogue between them in hardware.
layer by layer
    Otherwise: for each test input, every ``dense``/``conv2d`` layer's GEMM (the emulation's
    operands, :func:`hwgen.explore.emulate.forward` with ``gemm=``) runs on the board
    through the host driver, and the host applies the bias, re-quantization, activations and
    pooling between layers with the emulation's own code; the weights of each layer travel
    with it.

Either way the board's scores equal the emulation's bit for bit exactly when the hardware is
right, and the clock cycles and UART bytes are those of one inference at a time over the
link. On the chained path :func:`run_network` also runs a few inputs layer by layer on the
same board, for the comparison the report gives.

Candidate ← processing element (:func:`candidate_for`): ``intN`` → ``fxN``; ``F:F:rounded``,
``F:F:fused`` and ``F:exact:F`` → ``F`` with that accumulation (:mod:`hwgen.explore.rtl` shows
why each PE computes the candidate's dot products); ``mx:E`` (output-stationary) → the MX
candidate of element E (``mx:e4m3`` → ``mxfp8_e4m3``): the board quantizes each layer's
float operands per block exactly as the emulation does.
"""

import math
import time

import numpy as np

from ..pespec import parse_pe
from .emulate import accuracy, forward, parse_candidate, tensor_ranges

__all__ = ["candidate_for", "LoadedNetwork", "run_network", "format_report", "REPORT_LINES"]

#: The report's lines, in order, each starting with its key (``hwgen run``).
REPORT_LINES = ("accuracy", "bit-exact", "cycles/inference", "bytes/inference",
                "inferences/s")


def candidate_for(pe):
    """``(candidate, accumulate)`` of the explorer whose dot products PE ``pe`` computes.

    Raises
    ------
    ValueError
        A PE with no such candidate.
    """
    spec = parse_pe(pe)
    if spec.kind == "int" and spec.a_fmt == spec.w_fmt and spec.a_fmt.signed:
        return parse_candidate(f"fx{spec.a_fmt.width}"), "rounded"
    if spec.kind == "float" and spec.a_fmt == spec.w_fmt:
        f = spec.a_fmt
        if spec.accumulate in ("rounded", "fused") and spec.acc_fmt == f:
            return parse_candidate(f.name), spec.accumulate
        if spec.accumulate == "exact" and spec.out_fmt == f:
            return parse_candidate(f.name), "exact"
    if spec.kind == "mx" and spec.a_fmt == spec.w_fmt:
        from .emulate import MX_CANDIDATES
        name = next(n for n, e in MX_CANDIDATES.items() if e == spec.a_fmt.name)
        return parse_candidate(name), "mx"
    raise ValueError(f"hwgen run computes an explorer candidate: the PE must be intN, "
                     f"F:F:rounded, F:F:fused, F:exact:F or mx:E, not {spec.spec!r}")


class LoadedNetwork:
    """A model made ready to run on a board whose array has PE ``pe``
    (:meth:`hwgen.host.Accelerator.load_network`): the explorer candidate of the PE and the
    fixed-point scales from the model's calibration inputs.

    ``path`` is ``"layer-by-layer"`` (:class:`hwgen.explore.chain.ChainedNetwork`:
    ``"chained"``); ``not_chained`` is why :meth:`hwgen.host.Accelerator.load_network` did
    not take the chained path (None when made otherwise).

    Raises
    ------
    ValueError
        A PE with no explorer candidate, a model without calibration or test inputs (an
        ONNX file read without data).
    """

    path = "layer-by-layer"

    def __init__(self, model, pe):
        self.not_chained = None
        self.model = model
        self.pe = parse_pe(pe).spec
        self.candidate, self.accumulate = candidate_for(pe)
        if model.x_calib is None and model.x_test is None:
            raise ValueError(f"Model {model.name!r} has no calibration inputs for the "
                             f"fixed-point scales: give it data (x_calib or x_test)")
        self.scales = tensor_ranges(model)

    def emulate(self, x):
        """The explorer's scores of ``x`` (inputs after the model's ``pre`` steps)."""
        return forward(self.model, self.candidate, x, accumulate=self.accumulate,
                       scales=self.scales)

    def infer(self, acc, x, *, raw=True):
        """Scores (float64, one row per input) of ``x`` on accelerator ``acc``: every
        dense/conv2d layer's GEMM on the board, the rest on the host. ``raw``: ``x`` is what
        the model file takes (before its ``pre`` steps), with or without the batch axis."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape == self.model.input_shape:
            x = x[None]
        if raw:
            x = self.model.prepare(x)
        return forward(self.model, self.candidate, x, accumulate=self.accumulate,
                       scales=self.scales, gemm=lambda _layer, A, B: acc.matmul(A, B))


def _mismatches(got, exp):
    got, exp = np.asarray(got, dtype=np.float64), np.asarray(exp, dtype=np.float64)
    same = (got == exp) | (np.isnan(got) & np.isnan(exp))
    return int(np.count_nonzero(~same))


#: Inputs run layer by layer for the comparison on the chained path.
COMPARE_INPUTS = 2


def run_network(model, pe, acc, inputs, *, progress=None, chain=None,
                compare_inputs=COMPARE_INPUTS):
    """Run the first ``inputs`` test inputs of ``model`` one at a time on accelerator ``acc``
    (a :class:`hwgen.host.Accelerator` whose array has PE ``pe``) and compare every score with
    the emulation of the same candidate. ``chain``: as
    :meth:`~hwgen.host.Accelerator.load_network` (None: chained when the board and model
    allow).

    Returns a dict: ``model``, ``candidate``, ``accumulate``, ``pe``, ``inputs``,
    ``accuracy`` (the board's scores, arg-max against the labels), ``emulation_accuracy``,
    ``scores_compared``, ``mismatches``, ``bit_exact``, ``bytes_to_board``,
    ``bytes_from_board``, ``bytes_per_inference``, ``cycles_per_inference`` (clock cycles of
    the board per inference, UART transfers included: measured on a simulated board
    (``transport.stats()``), else wall time times the clock, ``cycles_source`` says which),
    ``clock_hz``, ``baud``, ``inferences_per_s``, ``path`` (``"chained"`` or
    ``"layer-by-layer"``), ``not_chained`` (why not, or None), ``setup_bytes`` (the
    weights, biases and table written before the first inference), and on the chained path
    the same measures of ``compare_inputs`` inputs run layer by layer on the same board:
    ``layer_by_layer`` (a dict: ``inputs``, ``bytes_per_inference``,
    ``cycles_per_inference``, ``inferences_per_s``, ``bit_exact``) and ``speedup``
    (inferences/s chained over layer by layer).

    Raises
    ------
    ValueError
        A PE with no explorer candidate, one the board's array does not have, a bit-serial
        array, or a bad ``inputs``.
    """
    arr = acc.array
    if arr.pe.spec != parse_pe(pe).spec:
        raise ValueError(f"The board's array has PE {arr.pe.spec!r}, not {parse_pe(pe).spec!r}")
    model.require_data()
    total = len(model.x_test)
    if isinstance(inputs, bool) or not isinstance(inputs, (int, np.integer)) or \
            not 1 <= inputs <= total:
        raise ValueError(f"Inputs must be 1..{total} (the model's test inputs), not {inputs!r}")
    x, y = model.x_test[:inputs], np.asarray(model.y_test[:inputs])
    info = acc.info()

    from ..host_link.transport import CountingTransport
    counting = CountingTransport(acc.transport)
    acc.transport = counting
    try:
        net = acc.load_network(model, chain=chain)
        setup_bytes = counting.sent + counting.received
        expected = net.emulate(x)
        got, m = _measure(acc, counting, lambda xi: net.infer(acc, xi, raw=False), x, info,
                          progress, "inferences on the board")
        lbl = None
        if net.path == "chained" and compare_inputs:
            n = min(compare_inputs, inputs)
            other = LoadedNetwork(model, pe)
            got_l, m_l = _measure(acc, counting, lambda xi: other.infer(acc, xi, raw=False),
                                  x[:n], info, progress, "the same inputs layer by layer")
            lbl = dict(m_l, inputs=n, bit_exact=_mismatches(got_l, expected[:n]) == 0)
    finally:
        acc.transport = counting.inner
    bad = _mismatches(got, expected)
    out = dict(model=model.name, candidate=net.candidate.name, accumulate=net.accumulate,
               pe=parse_pe(pe).spec, inputs=inputs,
               accuracy=accuracy(got, y), emulation_accuracy=accuracy(expected, y),
               scores_compared=int(got.size), mismatches=bad, bit_exact=bad == 0,
               clock_hz=info.clk_hz, baud=info.baud, path=net.path,
               not_chained=getattr(net, "not_chained", None), setup_bytes=setup_bytes, **m)
    if lbl is not None:
        out["layer_by_layer"] = lbl
        out["speedup"] = out["inferences_per_s"] / lbl["inferences_per_s"]
    return out


def _measure(acc, counting, infer, x, info, progress, what):
    """Scores of ``x`` on ``acc`` one input at a time (``infer(one_row_batch)``), and the
    per-inference measures: ``bytes_to_board``, ``bytes_from_board``,
    ``bytes_per_inference``, ``cycles_per_inference``, ``cycles_source``,
    ``inferences_per_s``."""
    stats = getattr(counting.inner, "stats", None)
    s0, r0 = counting.sent, counting.received
    c0 = stats()["cycles"] if stats else None
    t0 = time.monotonic()
    rows = []
    for i in range(len(x)):
        rows.append(infer(x[i:i + 1]))
        if progress:
            progress(what, i + 1, len(x))
    seconds = time.monotonic() - t0
    if stats:
        cycles, source = stats()["cycles"] - c0, "simulation"
    else:
        cycles, source = int(round(seconds * info.clk_hz)), "wall clock"
    sent, received = counting.sent - s0, counting.received - r0
    per = cycles / len(x)
    return np.concatenate(rows, axis=0), dict(
        bytes_to_board=sent, bytes_from_board=received,
        bytes_per_inference=(sent + received) / len(x), cycles_per_inference=per,
        cycles_source=source, inferences_per_s=info.clk_hz / per if per else math.inf)


def format_report(r):
    """The printed report: one line per :data:`REPORT_LINES` key."""
    right = round(r["accuracy"] * r["inputs"])
    if r["path"] == "chained":
        how = "chained: the layers run on chip, one INFER frame per inference"
        lbl = r.get("layer_by_layer")
        if lbl is not None:
            how += (f"; layer by layer on the same board: {lbl['inferences_per_s']:.1f}/s "
                    f"over {lbl['inputs']} inputs, {lbl['bytes_per_inference']:,.0f} bytes, "
                    f"so {r['speedup']:.1f}x")
    else:
        how = "layer-by-layer: the host applies bias, re-quantization and activations " \
              "between layers"
        if r.get("not_chained"):
            how += f"; not chained: {r['not_chained']}"
    return "\n".join([
        f"accuracy: {r['accuracy']:.4f} ({right} of {r['inputs']} inputs; the emulation: "
        f"{r['emulation_accuracy']:.4f})",
        f"bit-exact: {'yes' if r['bit_exact'] else 'NO'}, {r['scores_compared']} scores "
        f"compared with the emulation of {r['candidate']}, {r['mismatches']} mismatches",
        f"cycles/inference: {r['cycles_per_inference']:.0f} (UART transfers included; "
        f"{r['cycles_source']})",
        f"bytes/inference: {r['bytes_per_inference']:.1f} ({r['bytes_to_board']} to the "
        f"board, {r['bytes_from_board']} back, over {r['inputs']} inputs)",
        f"inferences/s: {r['inferences_per_s']:.1f} at {r['clock_hz'] / 1e6:g} MHz and "
        f"{r['baud']:.0f} baud ({how})",
    ])

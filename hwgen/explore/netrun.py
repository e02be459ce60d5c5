"""A whole network on the accelerator, checked against the explorer's emulation (``hwgen run``).

The path is layer by layer: for each test input, every ``dense``/``conv2d`` layer's GEMM
(the emulation's operands, :func:`hwgen.explore.emulate.forward` with ``gemm=``) runs on the
board through the host driver, and the host applies the bias, re-quantization, activations and
pooling between layers with the emulation's own code. So the board's scores equal the
emulation's bit for bit exactly when every GEMM the board computed is right, and the clock
cycles and UART bytes are those of running one inference at a time over the link (the
weights of each layer travel with it: nothing is resident between inferences).

Candidate ← processing element (:func:`candidate_for`): ``intN`` → ``fxN``; ``F:F:rounded``,
``F:F:fused`` and ``F:exact:F`` → ``F`` with that accumulation (:mod:`hwgen.explore.rtl` shows
why each PE computes the candidate's dot products).
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
    raise ValueError(f"hwgen run computes an explorer candidate: the PE must be intN, "
                     f"F:F:rounded, F:F:fused or F:exact:F, not {spec.spec!r}")


class LoadedNetwork:
    """A model made ready to run on a board whose array has PE ``pe``
    (:meth:`hwgen.host.Accelerator.load_network`): the explorer candidate of the PE and the
    fixed-point scales from the model's calibration inputs.

    Raises
    ------
    ValueError
        A PE with no explorer candidate, a model without calibration or test inputs (an
        ONNX file read without data).
    """

    def __init__(self, model, pe):
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


def run_network(model, pe, acc, inputs, *, progress=None):
    """Run the first ``inputs`` test inputs of ``model`` one at a time on accelerator ``acc``
    (a :class:`hwgen.host.Accelerator` whose array has PE ``pe``) and compare every score with
    the emulation of the same candidate.

    Returns a dict: ``model``, ``candidate``, ``accumulate``, ``pe``, ``inputs``,
    ``accuracy`` (the board's scores, arg-max against the labels), ``emulation_accuracy``,
    ``scores_compared``, ``mismatches``, ``bit_exact``, ``bytes_to_board``,
    ``bytes_from_board``, ``bytes_per_inference``, ``cycles_per_inference`` (clock cycles of
    the board per inference, UART transfers included: measured on a simulated board
    (``transport.stats()``), else wall time times the clock, ``cycles_source`` says which),
    ``clock_hz``, ``baud``, ``inferences_per_s`` and ``path`` (``"layer-by-layer"``).

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
    net = LoadedNetwork(model, pe)
    c = net.candidate
    x, y = model.x_test[:inputs], np.asarray(model.y_test[:inputs])
    expected = net.emulate(x)

    from ..host_link.transport import CountingTransport
    counting = CountingTransport(acc.transport)
    acc.transport = counting
    stats = getattr(counting.inner, "stats", None)
    info = acc.info()
    c0 = stats()["cycles"] if stats else None
    t0 = time.monotonic()

    try:
        rows = []
        for i in range(inputs):
            rows.append(net.infer(acc, x[i:i + 1], raw=False))
            if progress:
                progress("inferences on the board", i + 1, inputs)
    finally:
        acc.transport = counting.inner
    seconds = time.monotonic() - t0
    if stats:
        cycles, source = stats()["cycles"] - c0, "simulation"
    else:
        cycles, source = int(round(seconds * info.clk_hz)), "wall clock"
    got = np.concatenate(rows, axis=0)
    bad = _mismatches(got, expected)
    per = cycles / inputs
    return dict(model=model.name, candidate=c.name, accumulate=net.accumulate,
                pe=parse_pe(pe).spec, inputs=inputs,
                accuracy=accuracy(got, y), emulation_accuracy=accuracy(expected, y),
                scores_compared=int(got.size), mismatches=bad, bit_exact=bad == 0,
                bytes_to_board=counting.sent, bytes_from_board=counting.received,
                bytes_per_inference=(counting.sent + counting.received) / inputs,
                cycles_per_inference=per, cycles_source=source, clock_hz=info.clk_hz,
                baud=info.baud, inferences_per_s=info.clk_hz / per if per else math.inf,
                path="layer-by-layer")


def format_report(r):
    """The printed report: one line per :data:`REPORT_LINES` key."""
    right = round(r["accuracy"] * r["inputs"])
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
        f"{r['baud']:.0f} baud ({r['path']}: the host applies bias, re-quantization and "
        f"activations between layers)",
    ])

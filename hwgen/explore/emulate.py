"""Inference of a :class:`~hwgen.explore.models.Model` in float64 and in candidate formats.

Three kinds of arithmetic:

:func:`exact_forward`
    float64 (the reference network).
:func:`float_forward`
    Custom floats, with the golden model's semantics (:func:`hwgen.golden.fmac.mac`): the
    input and the weights are rounded into the format once (round to nearest even); each
    output of a ``dense``/``conv2d`` layer is one MAC dot product, in the order of the
    layer's reduction axis, starting from ``+0``:

    ``accumulate="rounded"`` (the default; Hill et al.'s emulation)
        every product and every partial sum is rounded into the format;
    ``accumulate="fused"``
        one rounding per step (an FMA);
    ``accumulate="exact"``
        products summed exactly (a Kulisch accumulator) and rounded once.

    The bias is then added with one rounded ``add`` (the MAC's result plus the bias, as a
    separate adder does). ``relu`` maps every encoding with the sign bit set to ``+0`` (NaN,
    which is positive, stays NaN); ``maxpool`` takes the largest value (NaN wins). Every layer
    is vectorized over the batch and the outputs: one golden ``mul`` + ``add`` per step of the
    reduction axis.
:func:`fixed_forward`
    Fixed point of ``bits`` bits (:class:`FixedPoint`), two's complement, with a
    power-of-two scale per tensor (Qm.n): the weights of a layer get the most fractional bits
    that keep ``max |W|`` in range; a layer's input gets the scale that keeps the largest
    magnitude seen at that point of the float64 network on the model's calibration inputs
    (training data, never the test set) in range. Values are rounded to nearest (ties to
    even) and saturated. Products are exact and are summed exactly in an accumulator wide
    enough never to wrap (``2*bits + ceil(log2 K) + 1`` bits, as
    :func:`hwgen.golden.imac.int_mac` computes with that ``acc_bits``); the bias is added at
    the accumulator's scale; requantizing to the next layer's input is a rounding arithmetic
    shift (ties to even) with saturation, so the whole network is integer-only. The last
    layer's accumulators, scaled, are the scores.

:func:`bitserial_forward`
    A bit-serial PE (:class:`BitSerial`, ``bsW[xA][@B]``): the fixed-point network with
    W-bit weights and A-bit activations, every weight truncated to its top B bit-planes
    (:func:`hwgen.golden.bsmac.truncate`, what :func:`~hwgen.golden.bsmac.bitserial_dot`
    sums plane by plane).

Every inference can record its MAC layers as GEMMs (``trace``), which
:mod:`hwgen.explore.rtl` runs on the systolic array RTL.

Scores of rows with a NaN (float formats with NaN) count as wrong predictions.
"""

import math
import re

import numpy as np

from ..formats import FloatFormat, parse_format
from ..golden import add, decode, encode
from ..golden.fmac import mac, ACCUMULATE_MODES

__all__ = ["FixedPoint", "BitSerial", "parse_candidate", "bitserial_forward", "exact_forward", "float_forward", "fixed_forward",
           "forward", "accuracy", "r_squared", "evaluate", "im2col", "layer_inputs",
           "ACCUMULATE_MODES", "MIN_FIXED_BITS", "MAX_FIXED_BITS"]

MIN_FIXED_BITS = 2
MAX_FIXED_BITS = 32


class _IntCandidate:
    """Equality, hash and text of the integer candidates: by class and name."""

    def __eq__(self, other):
        return type(other) is type(self) and other.name == self.name

    def __hash__(self):
        return hash((type(self).__name__, self.name))

    __str__ = lambda self: self.name


class FixedPoint(_IntCandidate):
    """A fixed-point candidate: ``bits``-bit two's-complement values with a per-tensor
    power-of-two scale (see :func:`fixed_forward`).

    Raises
    ------
    TypeError
        ``bits`` is not an integer.
    ValueError
        ``bits`` is outside ``MIN_FIXED_BITS .. MAX_FIXED_BITS``.
    """

    def __init__(self, bits):
        if not isinstance(bits, (int, np.integer)) or isinstance(bits, bool):
            raise TypeError(f"Fixed-point width must be an integer, not {bits!r}")
        if not MIN_FIXED_BITS <= bits <= MAX_FIXED_BITS:
            raise ValueError(f"Fixed-point width must be between {MIN_FIXED_BITS} and "
                             f"{MAX_FIXED_BITS}, not {bits!r}")
        self.bits = int(bits)

    width = property(lambda self: self.bits)
    name = property(lambda self: f"fx{self.bits}")

    def __repr__(self):
        return f"FixedPoint({self.bits})"


class BitSerial(_IntCandidate):
    """A bit-serial candidate (:class:`hwgen.units.bsmac.BitSerialMac`): ``weight_bits``-bit
    weights fed one bit-plane per cycle, MSB first, times ``act_bits``-bit activations,
    stopping after ``bits`` planes (run-time precision; default all of them), so ``bits``
    cycles per operation. Named ``bsW`` (8-bit activations, all planes), ``bsWxA`` and
    ``bsW@B`` / ``bsWxA@B`` (only the top ``B`` planes: each weight truncated to its top ``B``
    bits, toward minus infinity, scale kept).

    Raises
    ------
    ValueError
        A width outside 2..16 (weights, activations) or ``bits`` outside 1..``weight_bits``.
    """

    def __init__(self, weight_bits, act_bits=8, bits=None):
        for what, v, hi in (("weight", weight_bits, 16), ("activation", act_bits, 16)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not 2 <= v <= hi:
                raise ValueError(f"Bit-serial {what} width must be 2..{hi}, not {v!r}")
        bits = weight_bits if bits is None else bits
        if not isinstance(bits, (int, np.integer)) or not 1 <= bits <= weight_bits:
            raise ValueError(f"Bit-serial run-time bits must be 1..{weight_bits}, not {bits!r}")
        self.weight_bits, self.act_bits, self.bits = int(weight_bits), int(act_bits), int(bits)

    width = property(lambda self: self.weight_bits)
    name = property(lambda self: f"bs{self.weight_bits}"
                    + (f"x{self.act_bits}" if self.act_bits != 8 else "")
                    + (f"@{self.bits}" if self.bits != self.weight_bits else ""))

    def __repr__(self):
        return f"BitSerial({self.weight_bits}, {self.act_bits}, {self.bits})"


_BS = re.compile(r"bs(\d+)(?:x(\d+))?(?:@(\d+))?")


def parse_candidate(spec):
    """``fxN`` (or ``intN``) → :class:`FixedPoint`; ``bsW[xA][@B]`` → :class:`BitSerial`;
    anything else through :func:`hwgen.formats.parse_format` (which must give a float
    format)."""
    if isinstance(spec, (FixedPoint, FloatFormat, BitSerial)):
        return spec
    s = str(spec).strip().lower()
    m = _BS.fullmatch(s)
    if m:
        return BitSerial(int(m[1]), int(m[2] or 8), None if m[3] is None else int(m[3]))
    for prefix in ("fx", "int"):
        if s.startswith(prefix) and s[len(prefix):].isdigit():
            return FixedPoint(int(s[len(prefix):]))
    fmt = parse_format(s)
    if not isinstance(fmt, FloatFormat):
        raise ValueError(f"Unknown candidate format {spec!r}")
    return fmt


# -- shared pieces ----------------------------------------------------------------------------

def im2col(x, kh, kw):
    """Patches of channels-first ``x`` (N, C, H, W) for a valid, stride-1 ``kh`` x ``kw``
    convolution: shape (N, H'*W', C*kh*kw), taps in (C, kh, kw) order (the order of the
    flattened kernel)."""
    n, c, h, w = x.shape
    ho, wo = h - kh + 1, w - kw + 1
    cols = np.stack([x[:, :, i:i + ho, j:j + wo] for i in range(kh) for j in range(kw)],
                    axis=2)                                   # (N, C, kh*kw, Ho, Wo)
    return cols.reshape(n, c * kh * kw, ho * wo).transpose(0, 2, 1)


def _maxpool(x, size):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // size, size, w // size, size).max(axis=(3, 5))


def exact_forward(model, x=None, *, record=False):
    """float64 scores of ``x`` (default the model's test inputs).

    With ``record`` also returns the input of every ``dense``/``conv2d`` layer.
    """
    x = model.x_test if x is None else np.asarray(x, dtype=np.float64)
    inputs = []
    for layer in model.layers:
        kind = layer["kind"]
        if kind == "dense":
            inputs.append(x)
            x = x @ layer["W"].T + layer["b"]
        elif kind == "conv2d":
            inputs.append(x)
            o, _, kh, kw = layer["W"].shape
            n, _, h, w = x.shape
            y = im2col(x, kh, kw) @ layer["W"].reshape(o, -1).T + layer["b"]
            x = y.transpose(0, 2, 1).reshape(n, o, h - kh + 1, w - kw + 1)
        elif kind == "relu":
            x = np.maximum(x, 0.0)
        elif kind == "maxpool":
            x = _maxpool(x, layer["size"])
        elif kind == "flatten":
            x = x.reshape(x.shape[0], -1)
    return (x, inputs) if record else x


def layer_inputs(model):
    """Largest magnitude at the input of each ``dense``/``conv2d`` layer of the float64
    network on the calibration inputs."""
    _, inputs = exact_forward(model, model.calibration_inputs, record=True)
    return [float(np.max(np.abs(a))) for a in inputs]


# -- custom floats ----------------------------------------------------------------------------

def _relu_bits(fmt, bits):
    return np.where((bits & np.uint64(fmt.sign_mask)) != 0, np.uint64(0), bits)


def _float_dot(fmt, xs, w, b, accumulate, rounding, trace=None, layer=None):
    """``xs`` (..., K) encodings times ``w`` (O, K) encodings, plus bias ``b`` (O,)."""
    a = xs[..., None, :]
    kw = dict(mul_fmt=fmt, accumulate=accumulate, rounding=rounding)
    if accumulate == "exact":
        kw["max_terms"] = w.shape[-1]
    acc, _ = mac(a, w, **kw)
    _record(trace, layer, xs, w, acc)
    y, _ = add(fmt, acc, b, rounding)
    return y


def _record(trace, layer, xs, w, acc, stored=None):
    """Append one MAC layer's GEMM to ``trace``: ``A`` (M x K), ``B`` (K x O) and the
    emulation's dot products before the bias ``acc`` (M x O), M = every row of ``xs``;
    ``B_stored`` (K x O) are the weights as stored when the PE uses fewer of their bits
    (bit-serial), else ``B``."""
    if trace is not None:
        k, o = w.shape[-1], w.shape[0]
        trace.append(dict(layer=layer, A=xs.reshape(-1, k), B=w.T, acc=acc.reshape(-1, o),
                          B_stored=(w if stored is None else stored).T))


def float_forward(model, fmt, x=None, *, accumulate="rounded", rounding="rne", trace=None):
    """Scores (float64) of ``x`` (default the test inputs) computed in float format ``fmt``.

    ``trace`` (optional, a list) receives one dict per ``dense``/``conv2d`` layer: ``layer``
    (its index), the GEMM operands ``A`` (M x K input encodings; a convolution's im2col rows)
    and ``B`` (K x O weight encodings), and ``acc`` (M x O), the emulated MAC results before
    the bias (see :mod:`hwgen.explore.rtl`).

    Raises
    ------
    ValueError
        Unknown ``accumulate`` mode or format.
    """
    fmt = parse_format(fmt)
    if accumulate not in ACCUMULATE_MODES:
        raise ValueError(f"Accumulation must be one of {', '.join(ACCUMULATE_MODES)}, "
                         f"not {accumulate!r}")
    x = model.x_test if x is None else np.asarray(x, dtype=np.float64)
    h = encode(fmt, x, rounding)
    for i, layer in enumerate(model.layers):
        kind = layer["kind"]
        if kind == "dense":
            w = encode(fmt, layer["W"], rounding)
            b = encode(fmt, layer["b"], rounding)
            h = _float_dot(fmt, h, w, b, accumulate, rounding, trace, i)
        elif kind == "conv2d":
            o, _, kh, kw = layer["W"].shape
            n, _, hh, ww = h.shape
            w = encode(fmt, layer["W"].reshape(o, -1), rounding)
            b = encode(fmt, layer["b"], rounding)
            y = _float_dot(fmt, im2col(h, kh, kw), w, b, accumulate, rounding, trace, i)
            h = y.transpose(0, 2, 1).reshape(n, o, hh - kh + 1, ww - kw + 1)
        elif kind == "relu":
            h = _relu_bits(fmt, h)
        elif kind == "maxpool":
            # Max of values already in the format: exact, so re-encoding rounds nothing.
            h = encode(fmt, _maxpool(decode(fmt, h), layer["size"]))
        elif kind == "flatten":
            h = h.reshape(h.shape[0], -1)
    return decode(fmt, h)


# -- fixed point ------------------------------------------------------------------------------

def _frac_bits(maxabs, bits):
    """Fractional bits of the power-of-two scale that keeps ``maxabs`` below ``2**(bits-1)``
    units (the Qm.n choice)."""
    if not maxabs > 0:
        return bits - 1
    int_bits = math.floor(math.log2(maxabs)) + 1          # maxabs < 2**int_bits
    return (bits - 1) - int_bits


def _quantize(values, frac, bits):
    """Round ``values * 2**frac`` to nearest (ties even), saturate to ``bits`` bits: int64."""
    q = np.rint(np.ldexp(values, frac))
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(q, lo, hi).astype(np.int64)


def _int_dot(xq, wq, bits):
    """Exact ``xq @ wq.T`` for ``bits``-bit integers: int64 when it cannot overflow, else
    Python integers (object array) from two 16-bit halves of ``xq``."""
    k = wq.shape[-1]
    if 2 * bits + max(k - 1, 1).bit_length() + 1 <= 63:
        return xq @ wq.T
    hi, lo = xq >> 16, xq & 0xFFFF                       # xq = hi * 2**16 + lo, lo >= 0
    s_hi, s_lo = hi @ wq.T, lo @ wq.T                    # each below 2**(bits + 16 + log2 K)
    return s_hi.astype(object) * (1 << 16) + s_lo.astype(object)


def _rshift_round(acc, shift):
    """``acc / 2**shift`` rounded to nearest, ties to even (``shift`` may be <= 0): works on
    int64 and Python-integer (object) arrays alike."""
    if shift <= 0:
        return acc * (1 << -shift)
    q = acc >> shift                                     # floor
    rem = acc - (q << shift)
    half = 1 << (shift - 1)
    up = (rem > half) | ((rem == half) & ((q & 1) == 1))
    return q + up.astype(np.int64)


def _saturate(q, bits):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if q.dtype == object:
        q = np.minimum(np.maximum(q, lo), hi)
    return np.clip(q, lo, hi).astype(np.int64)


def fixed_forward(model, bits, x=None, *, scales=None, trace=None):
    """Scores (float64) of ``x`` (default the test inputs) in ``bits``-bit fixed point.

    ``scales`` (optional) are the per-layer input magnitudes of :func:`layer_inputs`, computed
    when not given. ``trace`` (optional, a list) receives each ``dense``/``conv2d`` layer's
    integer GEMM as :func:`float_forward` describes (``acc``: the exact integer dot products
    before the bias).
    """
    bits = FixedPoint(bits).bits if not isinstance(bits, FixedPoint) else bits.bits
    return _int_forward(model, bits, bits, x, scales, trace)


def bitserial_forward(model, candidate, x=None, *, scales=None, trace=None):
    """Scores (float64) of ``x`` (default the test inputs) on a bit-serial PE
    (:class:`BitSerial`): :func:`fixed_forward` with ``weight_bits``-bit weights and
    ``act_bits``-bit activations, each weight truncated to its top ``bits`` bit-planes
    (:func:`hwgen.golden.bsmac.truncate`, scale kept) — the dot product
    :func:`hwgen.golden.bsmac.bitserial_dot` computes plane by plane. ``trace``: see
    :func:`fixed_forward`."""
    c = parse_candidate(candidate)
    if not isinstance(c, BitSerial):
        raise ValueError(f"Not a bit-serial candidate: {candidate!r}")
    from ..golden.bsmac import truncate
    return _int_forward(model, c.weight_bits, c.act_bits, x, scales, trace,
                        lambda wq: truncate(wq, c.weight_bits, c.bits))


def _int_forward(model, w_bits, a_bits, x, scales, trace, weight_fn=None):
    """Integer-only inference: ``w_bits``-bit weights, ``a_bits``-bit activations (see
    :func:`fixed_forward`); ``weight_fn`` maps each layer's quantized weights to the ones the
    PE uses."""
    bits = a_bits
    x = model.x_test if x is None else np.asarray(x, dtype=np.float64)
    maxabs = layer_inputs(model) if scales is None else scales
    mac_layers = [i for i, layer in enumerate(model.layers)
                  if layer["kind"] in ("dense", "conv2d")]
    frac_in = [_frac_bits(m, bits) for m in maxabs]
    h = _quantize(x, frac_in[0], bits)
    frac = frac_in[0]                    # h holds integers in units of 2**-frac
    for i, layer in enumerate(model.layers):
        kind = layer["kind"]
        if kind in ("dense", "conv2d"):
            j = mac_layers.index(i)
            wmat = layer["W"].reshape(layer["W"].shape[0], -1)
            fw = _frac_bits(float(np.max(np.abs(wmat))), w_bits)
            stored = wq = _quantize(wmat, fw, w_bits)
            if weight_fn is not None:
                wq = weight_fn(wq)
            f_acc = frac + fw
            bq = np.rint(np.ldexp(layer["b"], f_acc))
            bq = np.array([int(v) for v in bq], dtype=object) if np.max(np.abs(bq)) >= 2**62 \
                else bq.astype(np.int64)
            if kind == "dense":
                dot = _int_dot(h, wq, max(bits, w_bits))
                _record(trace, i, h, wq, dot, stored)
                acc = dot + bq
            else:
                o, _, kh, kw = layer["W"].shape
                n, _, hh, ww = h.shape
                cols = im2col(h, kh, kw)
                dot = _int_dot(cols.reshape(-1, cols.shape[-1]), wq, max(bits, w_bits))
                _record(trace, i, cols, wq, dot, stored)
                acc = dot + bq
                acc = acc.reshape(n, -1, o).transpose(0, 2, 1).reshape(
                    n, o, hh - kh + 1, ww - kw + 1)
            if j + 1 < len(mac_layers):
                # Requantize to the next MAC layer's input scale.
                nxt = frac_in[j + 1]
                h = _saturate(_rshift_round(acc, f_acc - nxt), bits)
                frac = nxt
            else:
                h = acc
                frac = f_acc
        elif kind == "relu":
            h = np.maximum(h, 0)
        elif kind == "maxpool":
            h = _maxpool(h, layer["size"])
        elif kind == "flatten":
            h = h.reshape(h.shape[0], -1)
    if h.dtype == object:
        return np.array([math.ldexp(float(v), -frac) if abs(v) < 2**1000 else
                         math.ldexp(float(v >> 64), 64 - frac) for v in h.ravel()]
                        ).reshape(h.shape)
    return np.ldexp(h.astype(np.float64), -frac)


# -- one entry point --------------------------------------------------------------------------

def forward(model, candidate, x=None, *, accumulate="rounded", rounding="rne", scales=None,
            trace=None):
    """Scores of ``x`` in ``candidate`` (a float format, :class:`FixedPoint`, or a name such as
    ``e4m3``/``fx8``); ``None`` means the float64 network. ``trace``: see
    :func:`float_forward`."""
    if candidate is None:
        return exact_forward(model, x)
    c = parse_candidate(candidate)
    if isinstance(c, FixedPoint):
        return fixed_forward(model, c, x, scales=scales, trace=trace)
    if isinstance(c, BitSerial):
        return bitserial_forward(model, c, x, scales=scales, trace=trace)
    return float_forward(model, c, x, accumulate=accumulate, rounding=rounding, trace=trace)


def accuracy(scores, labels):
    """Fraction of rows whose arg-max is the label; a row with a NaN is wrong."""
    scores = np.asarray(scores, dtype=np.float64)
    ok = ~np.isnan(scores).any(axis=1)
    pred = np.argmax(np.where(np.isnan(scores), -np.inf, scores), axis=1)
    return float(np.mean(ok & (pred == labels)))


def r_squared(reference, scores):
    """Coefficient of determination of ``scores`` against ``reference`` (all entries pooled):
    ``1 - SS_res / SS_tot``, clipped to ``[0, 1]``; 0 when ``scores`` has a NaN or Inf."""
    ref = np.asarray(reference, dtype=np.float64).ravel()
    out = np.asarray(scores, dtype=np.float64).ravel()
    if not np.all(np.isfinite(out)):
        return 0.0
    ss_tot = float(np.sum((ref - ref.mean()) ** 2))
    ss_res = float(np.sum((ref - out) ** 2))
    if ss_tot == 0:
        return 1.0 if ss_res == 0 else 0.0
    return float(min(1.0, max(0.0, 1.0 - ss_res / ss_tot)))


def evaluate(model, candidate, *, accumulate="rounded", rounding="rne", scales=None):
    """Test accuracy of ``model`` in ``candidate``: ``(accuracy, scores)``."""
    scores = forward(model, candidate, accumulate=accumulate, rounding=rounding, scales=scales)
    return accuracy(scores, model.y_test), scores

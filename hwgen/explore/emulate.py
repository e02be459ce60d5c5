"""Inference of a :class:`~hwgen.explore.models.Model` in float64 and in candidate formats.

Three kinds of arithmetic:

:func:`exact_forward`
    float64 (the reference network).
:func:`float_forward`
    Custom floats, with the golden model's semantics (:func:`hwgen.golden.fmac.mac`): the
    input and the weights are rounded into the format once (round to nearest even); each
    output of a ``dense``/``conv2d`` layer is one MAC dot product, in the order of the
    layer's reduction axis, starting from ``+0`` (a convolution's padded taps are ``+0``
    terms, as the array computes them):

    ``accumulate="rounded"`` (the default; Hill et al.'s emulation)
        every product and every partial sum is rounded into the format;
    ``accumulate="fused"``
        one rounding per step (an FMA);
    ``accumulate="exact"``
        products summed exactly (a Kulisch accumulator) and rounded once.

    The bias is then added with one rounded ``add`` (the MAC's result plus the bias, as a
    separate adder does). ``relu`` maps every encoding with the sign bit set to ``+0`` (NaN,
    which is positive, stays NaN); ``maxpool`` takes the largest value (NaN wins; padded
    cells never win): exact. An average pool (``avgpool``, ``globalavgpool``) is a dot
    product on the same MAC: the window's values (padded cells ``+0``, window order row by
    row) times ``1/n`` rounded once into the format (``n`` the window's divisor), summed
    by the ``accumulate`` rule above, from ``+0``; so a power-of-two ``n`` multiplies
    exactly and ``1/9`` in ``e4m3`` is ``0.109375``. A residual ``add`` is one rounded
    ``add`` of the two encodings (the bias adder). Every layer is vectorized over the batch
    and the outputs: one golden ``mul`` + ``add`` per step of the reduction axis.
:func:`fixed_forward`
    Fixed point of ``bits`` bits (:class:`FixedPoint`), two's complement, with a
    power-of-two scale per tensor (Qm.n): the weights of a layer get the most fractional bits
    that keep ``max |W|`` in range. Every tensor the network stores (the input, and the
    output of each ``dense``/``conv2d``/``add`` that some MAC or ``add`` reads) gets the
    scale that keeps the largest magnitude seen at its readers' inputs (after any
    ``relu``/pooling/``flatten`` between) in the float64 network on the model's
    calibration inputs (training data, never the test set) in range (see
    :func:`_fixed_plan`; for a chain this is the next MAC layer's input). Values are
    rounded to nearest (ties to even) and saturated. Products are exact and are summed
    exactly in an accumulator wide enough never to wrap (``2*bits + ceil(log2 K) + 1`` bits,
    as :func:`hwgen.golden.imac.int_mac` computes with that ``acc_bits``); the bias is added
    at the accumulator's scale; requantizing to the stored tensor's scale is a rounding
    arithmetic shift (ties to even) with saturation, so the whole network is integer-only.
    ``relu`` and ``maxpool`` are exact and keep the scale. An average pool sums its window
    exactly (padded cells 0) and divides by ``n`` rounded to nearest, ties to even, at the
    same scale (the mean of in-range values stays in range). A residual ``add`` aligns its
    two stored operands to the finer of their scales (exact shifts), adds exactly, and
    rounds once (ties to even) with saturation to its own stored scale. Tensors that only
    flow to the model's output are not requantized: the last layer's accumulators (or an
    exact final ``add``), scaled, are the scores.

:func:`bitserial_forward`
    A bit-serial PE (:class:`BitSerial`, ``bsW[xA][@B]``): the fixed-point network with
    W-bit weights and A-bit activations, every weight truncated to its top B bit-planes
    (:func:`hwgen.golden.bsmac.truncate`, what :func:`~hwgen.golden.bsmac.bitserial_dot`
    sums plane by plane). Pools and residual adds are those of fixed point, on A-bit
    activations.

Every inference can record its ``dense``/``conv2d`` layers as GEMMs (``trace``), which
:mod:`hwgen.explore.rtl` runs on the systolic array RTL; pools and residual adds are not
GEMMs and are not traced.

Scores of rows with a NaN (float formats with NaN) count as wrong predictions.
"""

import math
import re

import numpy as np

from ..formats import FloatFormat, parse_format
from ..golden import add, decode, encode
from ..golden.epilogue import requantize_pow2 as _requantize
from ..golden.fmac import mac, ACCUMULATE_MODES
from .graph import MAC_KINDS

__all__ = ["FixedPoint", "BitSerial", "MX", "MX_CANDIDATES", "mx_forward",
           "parse_candidate", "bitserial_forward", "exact_forward",
           "float_forward", "fixed_forward", "forward", "accuracy", "r_squared", "evaluate",
           "im2col", "layer_inputs", "tensor_ranges", "ACCUMULATE_MODES", "MIN_FIXED_BITS",
           "MAX_FIXED_BITS"]

MIN_FIXED_BITS = 2
MAX_FIXED_BITS = 32


class _IntCandidate:
    """Equality, hash and text of the integer candidates: by class and name."""

    def __eq__(self, other):
        return type(other) is type(self) and other.name == self.name

    def __hash__(self):
        return hash((type(self).__name__, self.name))

    def __str__(self):
        return self.name


#: The OCP MX candidates: name -> element format (blocks of 32 along K, E8M0 scales).
MX_CANDIDATES = {"mxfp8_e4m3": "e4m3", "mxfp8_e5m2": "e5m2", "mxfp6_e3m2": "e3m2",
                 "mxfp6_e2m3": "e2m3", "mxfp4_e2m1": "e2m1", "mxint8": "int8"}


class MX:
    """An OCP MX candidate (:data:`MX_CANDIDATES`): every ``dense``/``conv2d`` layer's
    activations and weights quantized per block of 32 along K (:func:`hwgen.golden.mx
    .mx_quantize`, scale rule ``floor``, round to nearest even), the dot products as
    :func:`hwgen.golden.mx.mx_dot` computes them (exact block sums, one FP32 rounding per
    block), the rest of the network in FP32 (see :func:`mx_forward`)."""

    def __init__(self, name):
        if name not in MX_CANDIDATES:
            raise ValueError(f"MX candidate must be one of {', '.join(MX_CANDIDATES)}, "
                             f"not {name!r}")
        self.name = name
        self.elem = MX_CANDIDATES[name]

    @property
    def width(self):
        """Bits per element."""
        return 8 if self.elem == "int8" else parse_format(self.elem).width

    def __eq__(self, other):
        return isinstance(other, MX) and other.name == self.name

    def __hash__(self):
        return hash(("mx", self.name))

    def __repr__(self):
        return f"MX({self.name!r})"

    def __str__(self):
        return self.name


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
    an :data:`MX_CANDIDATES` name → :class:`MX`; anything else through
    :func:`hwgen.formats.parse_format` (which must give a float format)."""
    if isinstance(spec, (FixedPoint, FloatFormat, BitSerial, MX)):
        return spec
    s = str(spec).strip().lower()
    if s in MX_CANDIDATES:
        return MX(s)
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

def _inputs(model, x):
    if x is None:
        model.require_data()
        return model.x_test
    return np.asarray(x, dtype=np.float64)


def _walk(model, h, op):
    """Evaluate the layers in list order: ``op(i, layer, args)`` maps the tensors layer ``i``
    reads (``args``, in its ``inputs`` order; ``h`` is the model input) to its output.
    Returns the last layer's output. Tensors are dropped after their last reader."""
    last_use = {}
    for i, layer in enumerate(model.layers):
        for j in layer["inputs"]:
            last_use[j] = i
    vals = {-1: h}
    for i, layer in enumerate(model.layers):
        args = [vals[j] for j in layer["inputs"]]
        for j in set(layer["inputs"]):
            if last_use[j] == i:
                del vals[j]
        vals[i] = op(i, layer, args)
    return vals[len(model.layers) - 1]


def _windows(x, kernel, stride, pads, fill):
    """The windows of channels-first ``x`` (N, C, H, W), padded with ``fill`` (``pads``:
    top, left, bottom, right): a view of shape (N, C, Ho, Wo, kh, kw)."""
    t, l, b, r = pads
    if t or l or b or r:
        x = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)), constant_values=fill)
    v = np.lib.stride_tricks.sliding_window_view(x, tuple(kernel), axis=(2, 3))
    return v[:, :, ::stride[0], ::stride[1]]


def im2col(x, kh, kw, stride=(1, 1), pads=(0, 0, 0, 0)):
    """Patches of channels-first ``x`` (N, C, H, W) for a ``kh`` x ``kw`` convolution with
    ``stride`` and zero padding ``pads`` (top, left, bottom, right): shape (N, Ho*Wo,
    C*kh*kw), taps in (C, kh, kw) order (the order of the flattened kernel), padded taps
    zero."""
    n, c = x.shape[:2]
    v = _windows(x, (kh, kw), stride, pads, 0)
    ho, wo = v.shape[2:4]
    # The same memory layout as a stack of shifted slices (a transposed C-ordered array), so
    # float64 matrix products round exactly as they always did.
    return v.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, ho * wo).transpose(0, 2, 1)


def _maxpool(x, layer, fill):
    """Max over each window; padded cells are ``fill`` (below every value)."""
    k, s, p = layer["kernel"], layer["stride"], layer["pads"]
    n, c, h, w = x.shape
    if k == s and not any(p) and h % k[0] == 0 and w % k[1] == 0:
        return x.reshape(n, c, h // k[0], k[0], w // k[1], k[1]).max(axis=(3, 5))
    return _windows(x, k, s, p, fill).max(axis=(4, 5))


def _pool(layer, shape):
    """``(kernel, stride, pads, divisors)`` of an ``avgpool``/``globalavgpool`` layer on a
    (C, H, W) input: ``divisors`` (Ho, Wo) int64, the cells each window's mean divides by."""
    _, h, w = shape
    if layer["kind"] == "globalavgpool":
        return (h, w), (1, 1), (0, 0, 0, 0), np.full((1, 1), h * w, dtype=np.int64)
    k, s, p = layer["kernel"], layer["stride"], layer["pads"]
    ho = (h + p[0] + p[2] - k[0]) // s[0] + 1
    wo = (w + p[1] + p[3] - k[1]) // s[1] + 1
    if layer["count_include_pad"] or not any(p):
        div = np.full((ho, wo), k[0] * k[1], dtype=np.int64)
    else:
        div = _windows(np.ones((1, 1, h, w), dtype=np.int64), k, s, p, 0).sum(axis=(4, 5))[0, 0]
    return k, s, p, div


def _pool_windows(x, layer, zero):
    """``(windows, divisors)``: (N, C, Ho, Wo, kh*kw) zero-padded windows of an average
    pool and the divisor of each (Ho, Wo) window."""
    k, s, p, div = _pool(layer, x.shape[1:])
    win = _windows(x, k, s, p, zero)
    return win.reshape(win.shape[:4] + (k[0] * k[1],)), div


def _exact_walk(model, x, observe=None):
    """float64 inference; ``observe(i, value)`` sees the input (``i = -1``) and every
    layer's output."""
    if observe:
        observe(-1, x)

    def op(i, layer, args):
        h = args[0]
        kind = layer["kind"]
        shape = (h.shape[0],) + model.output_shapes[i]
        if kind == "dense":
            y = h @ layer["W"].T + layer["b"]
        elif kind == "conv2d":
            o = layer["W"].shape[0]
            cols = im2col(h, *layer["kernel"], layer["stride"], layer["pads"])
            y = (cols @ layer["W"].reshape(o, -1).T + layer["b"]).transpose(0, 2, 1)
            y = y.reshape(shape)
        elif kind == "relu":
            y = np.maximum(h, 0.0)
        elif kind == "maxpool":
            y = _maxpool(h, layer, -np.inf)
        elif kind in ("avgpool", "globalavgpool"):
            win, div = _pool_windows(h, layer, 0.0)
            y = win.sum(axis=-1) / div
        elif kind == "add":
            y = args[0] + args[1]
        else:   # flatten, reshape
            y = h.reshape(shape)
        if observe:
            observe(i, y)
        return y
    return _walk(model, x, op)


def exact_forward(model, x=None, *, record=False):
    """float64 scores of ``x`` (default the model's test inputs).

    With ``record`` also returns the input of every ``dense``/``conv2d`` layer.
    """
    x = _inputs(model, x)
    if not record:
        return _exact_walk(model, x)
    seen = {}
    scores = _exact_walk(model, x, lambda i, v: seen.__setitem__(i, v))
    return scores, [seen[model.layers[i]["inputs"][0]] for i in model.mac_layers]


def tensor_ranges(model):
    """Largest magnitude of every tensor of the float64 network on the calibration inputs:
    an array of ``len(model.layers) + 1`` values, the model input first, then each layer's
    output. The fixed-point scales come from it (the ``scales`` of :func:`fixed_forward`).
    """
    out = np.zeros(len(model.layers) + 1)

    def observe(i, v):
        out[i + 1] = float(np.max(np.abs(v)))
    _exact_walk(model, model.calibration_inputs, observe)
    return out


def layer_inputs(model):
    """Largest magnitude at the input of each ``dense``/``conv2d`` layer of the float64
    network on the calibration inputs (from :func:`tensor_ranges`)."""
    r = tensor_ranges(model)
    return [float(r[model.layers[i]["inputs"][0] + 1]) for i in model.mac_layers]


# -- custom floats ----------------------------------------------------------------------------

def _relu_bits(fmt, bits):
    return np.where((bits & np.uint64(fmt.sign_mask)) != 0, np.uint64(0), bits)


def _float_dot(fmt, xs, w, b, accumulate, rounding, trace=None, layer=None, gemm=None):
    """``xs`` (..., K) encodings times ``w`` (O, K) encodings, plus bias ``b`` (O,); the dot
    products from ``gemm`` when given (see :func:`float_forward`)."""
    if gemm is not None:
        k, o = w.shape[-1], w.shape[0]
        acc = np.asarray(gemm(layer, xs.reshape(-1, k), w.T)).astype(np.uint64)
        acc = acc.reshape(xs.shape[:-1] + (o,))
    else:
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


def _float_avgpool(fmt, h, layer, accumulate, rounding):
    """Average pool in ``fmt``: each window's dot product with ``1/n`` rounded into the
    format (``n`` its divisor), on the MAC (``accumulate``), padded cells as ``+0``."""
    win, div = _pool_windows(h, layer, np.uint64(0))
    k = win.shape[-1]
    inv = np.broadcast_to(encode(fmt, 1.0 / div, rounding)[..., None], div.shape + (k,))
    kw = dict(mul_fmt=fmt, accumulate=accumulate, rounding=rounding)
    if accumulate == "exact":
        kw["max_terms"] = k
    acc, _ = mac(win, inv, **kw)
    return acc


def float_forward(model, fmt, x=None, *, accumulate="rounded", rounding="rne", trace=None,
                  gemm=None):
    """Scores (float64) of ``x`` (default the test inputs) computed in float format ``fmt``.

    ``trace`` (optional, a list) receives one dict per ``dense``/``conv2d`` layer: ``layer``
    (its index), the GEMM operands ``A`` (M x K input encodings; a convolution's im2col rows)
    and ``B`` (K x O weight encodings), and ``acc`` (M x O), the emulated MAC results before
    the bias (see :mod:`hwgen.explore.rtl`).

    ``gemm`` (optional) computes those MAC results instead of the emulation:
    ``gemm(layer, A, B)`` returns ``acc`` (M x O encodings), e.g. a systolic array on a board
    (``hwgen run``); everything else (bias, activations, pooling) stays here.

    Raises
    ------
    ValueError
        Unknown ``accumulate`` mode or format; no ``x`` and no test data.
    """
    fmt = parse_format(fmt)
    if accumulate not in ACCUMULATE_MODES:
        raise ValueError(f"Accumulation must be one of {', '.join(ACCUMULATE_MODES)}, "
                         f"not {accumulate!r}")
    x = _inputs(model, x)

    def op(i, layer, args):
        h = args[0]
        kind = layer["kind"]
        shape = (h.shape[0],) + model.output_shapes[i]
        if kind in MAC_KINDS:
            o = layer["W"].shape[0]
            w = encode(fmt, layer["W"].reshape(o, -1), rounding)
            b = encode(fmt, layer["b"], rounding)
            if kind == "dense":
                return _float_dot(fmt, h, w, b, accumulate, rounding, trace, i, gemm)
            cols = im2col(h, *layer["kernel"], layer["stride"], layer["pads"])
            y = _float_dot(fmt, cols, w, b, accumulate, rounding, trace, i, gemm)
            return y.transpose(0, 2, 1).reshape(shape)
        if kind == "relu":
            return _relu_bits(fmt, h)
        if kind == "maxpool":
            # Max of values already in the format: exact, so re-encoding rounds nothing.
            return encode(fmt, _maxpool(decode(fmt, h), layer, -np.inf))
        if kind in ("avgpool", "globalavgpool"):
            return _float_avgpool(fmt, h, layer, accumulate, rounding)
        if kind == "add":
            return add(fmt, args[0], args[1], rounding)[0]
        return h.reshape(shape)   # flatten, reshape
    return decode(fmt, _walk(model, encode(fmt, x, rounding), op))


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


def _lshift(h, shift, bits):
    """``h * 2**shift`` (``shift >= 0``) exactly: Python integers when int64 could wrap."""
    if shift == 0:
        return h
    if h.dtype != object and bits + shift + 1 > 62:
        h = h.astype(object)
    return h * (1 << shift)


def _div_round(s, d):
    """``s / d`` rounded to nearest, ties to even, for integer arrays ``s`` (int64 or
    Python integers) and positive ``d``."""
    q = s // d
    r = s - q * d                                        # 0 <= r < d
    up = np.asarray((2 * r > d) | ((2 * r == d) & (q % 2 == 1)), dtype=bool)
    return q + up.astype(np.int64)


def _fixed_plan(model, maxabs, bits):
    """The fractional bits of every tensor the integer network stores: ``{producer: frac}``
    for the model input (``-1``) and each ``dense``/``conv2d``/``add`` layer; ``None`` for a
    producer whose value flows only to the model's output (kept exact, not requantized).

    A stored tensor passes unchanged in scale through ``relu``, pooling, ``flatten`` and
    ``reshape`` to the layers that read it (a MAC or an ``add``); its scale is the one that
    keeps the largest magnitude seen at those readers' inputs in range (:func:`_frac_bits`
    of the maximum over them)."""
    consumers = {j: [] for j in range(-1, len(model.layers))}
    for i, layer in enumerate(model.layers):
        for j in layer["inputs"]:
            consumers[j].append(i)
    stores = MAC_KINDS + ("add",)
    plan = {}
    for p in [-1] + [i for i, layer in enumerate(model.layers) if layer["kind"] in stores]:
        sinks, stack = set(), [p]
        while stack:
            t = stack.pop()
            for c in consumers[t]:
                if model.layers[c]["kind"] in stores:
                    sinks.add(t)
                else:
                    stack.append(c)
        plan[p] = _frac_bits(max(maxabs[t + 1] for t in sinks), bits) if sinks else None
    if plan[-1] is None:
        plan[-1] = _frac_bits(maxabs[0], bits)
    return plan


def _check_scales(model, scales):
    s = np.asarray(scales, dtype=np.float64)
    if s.shape != (len(model.layers) + 1,):
        raise ValueError(f"scales must be tensor_ranges(model): {len(model.layers) + 1} "
                         f"values (the input and every layer's output), not shape {s.shape}")
    return s


def fixed_forward(model, bits, x=None, *, scales=None, trace=None, gemm=None):
    """Scores (float64) of ``x`` (default the test inputs) in ``bits``-bit fixed point.

    ``scales`` (optional) are the tensor magnitudes of :func:`tensor_ranges`, computed
    when not given. ``trace`` (optional, a list) receives each ``dense``/``conv2d`` layer's
    integer GEMM as :func:`float_forward` describes (``acc``: the exact integer dot products
    before the bias); ``gemm`` computes them instead, as there.
    """
    bits = FixedPoint(bits).bits if not isinstance(bits, FixedPoint) else bits.bits
    return _int_forward(model, bits, bits, x, scales, trace, gemm=gemm)


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


def _int_mac_operands(layer, frac, w_bits):
    """A ``dense``/``conv2d`` layer's integer operands in the fixed-point network, for an
    input with ``frac`` fractional bits: ``(wq, f_acc, bq)``, the weights (O x K, int64)
    quantized to ``w_bits`` bits at the scale that keeps ``max |W|`` in range, the
    accumulators' fractional bits ``f_acc`` (input + weights) and the bias rounded at
    ``f_acc`` (int64, or Python integers when it reaches ``2**62``).
    (:mod:`hwgen.explore.chain` compiles a network for the board from the same values.)"""
    wmat = layer["W"].reshape(layer["W"].shape[0], -1)
    fw = _frac_bits(float(np.max(np.abs(wmat))), w_bits)
    wq = _quantize(wmat, fw, w_bits)
    f_acc = frac + fw
    bq = np.rint(np.ldexp(layer["b"], f_acc))
    bq = np.array([int(v) for v in bq], dtype=object) if np.max(np.abs(bq)) >= 2**62 \
        else bq.astype(np.int64)
    return wq, f_acc, bq


def _int_forward(model, w_bits, a_bits, x, scales, trace, weight_fn=None, gemm=None):
    """Integer-only inference: ``w_bits``-bit weights, ``a_bits``-bit activations (see
    :func:`fixed_forward`); ``weight_fn`` maps each layer's quantized weights to the ones the
    PE uses; ``gemm`` replaces the dot products (see :func:`float_forward`). Every tensor is
    a pair (integers, fractional bits)."""
    bits = a_bits

    def dot_of(i, xq, wq):
        if gemm is None:
            return _int_dot(xq, wq, max(bits, w_bits))
        got = np.array(gemm(i, xq, wq.T), dtype=object)
        k = wq.shape[-1]
        wide = 2 * max(bits, w_bits) + max(k - 1, 1).bit_length() + 1 > 63
        return got if wide else got.astype(np.int64)     # as _int_dot types it
    x = _inputs(model, x)
    maxabs = tensor_ranges(model) if scales is None else _check_scales(model, scales)
    plan = _fixed_plan(model, maxabs, bits)

    def store(p, acc, f_acc):
        if plan[p] is None:
            return acc, f_acc
        return _requantize(acc, f_acc - plan[p], bits), plan[p]

    def op(i, layer, args):
        h, frac = args[0]
        kind = layer["kind"]
        shape = (h.shape[0],) + model.output_shapes[i]
        if kind in MAC_KINDS:
            stored, f_acc, bq = _int_mac_operands(layer, frac, w_bits)
            wq = stored if weight_fn is None else weight_fn(stored)
            if kind == "dense":
                dot = dot_of(i, h, wq)
                _record(trace, i, h, wq, dot, stored)
                acc = dot + bq
            else:
                cols = im2col(h, *layer["kernel"], layer["stride"], layer["pads"])
                dot = dot_of(i, cols.reshape(-1, cols.shape[-1]), wq)
                _record(trace, i, cols, wq, dot, stored)
                acc = (dot + bq).reshape(h.shape[0], -1, wq.shape[0]).transpose(0, 2, 1)
                acc = acc.reshape(shape)
            return store(i, acc, f_acc)
        if kind == "add":
            (a, fa), (b, fb) = args
            f = max(fa, fb)
            return store(i, _lshift(a, f - fa, bits) + _lshift(b, f - fb, bits), f)
        if kind == "relu":
            return np.maximum(h, 0), frac
        if kind == "maxpool":
            fill = np.iinfo(np.int64).min if h.dtype != object else -math.inf
            return _maxpool(h, layer, fill), frac
        if kind in ("avgpool", "globalavgpool"):
            win, div = _pool_windows(h, layer, 0)
            return _div_round(win.sum(axis=-1), div), frac
        return h.reshape(shape), frac   # flatten, reshape
    h, frac = _walk(model, (_quantize(x, plan[-1], bits), plan[-1]), op)
    if h.dtype == object:
        return np.array([math.ldexp(float(v), -frac) if abs(v) < 2**1000 else
                         math.ldexp(float(v >> 64), 64 - frac) for v in h.ravel()]
                        ).reshape(h.shape)
    return np.ldexp(h.astype(np.float64), -frac)


# -- one entry point --------------------------------------------------------------------------

# -- OCP MX ---------------------------------------------------------------------------------

def _fp32(v):
    return np.asarray(v, dtype=np.float64).astype(np.float32).astype(np.float64)


def _mx_dot(elem, xs, w, gemm=None, layer=None, trace=None):
    """``xs`` (..., K) values times ``w`` (O, K) values, both MX-quantized per block of 32
    along K (zero-padded to a whole block), as FP32 values (float64 array (..., O)).
    ``gemm(layer, A, B)``, when given, computes them instead from the float matrices
    ``A`` (M x K) and ``B`` (K x O), returning FP32 encodings: an ``mx:`` array on a board,
    which quantizes them the same way (:meth:`hwgen.host.Accelerator.matmul`). ``trace``
    records the GEMM as an ``mx:E`` array takes it: operand words
    (:func:`hwgen.golden.matmul.mx_operands`) and the FP32 encodings."""
    from ..golden.rounding import decode
    k = w.shape[-1]
    if gemm is not None:
        bits = np.asarray(gemm(layer, xs.reshape(-1, k), w.T)).astype(np.uint64)
    else:
        from ..golden.matmul import matmul, mx_operands
        wa, wb = mx_operands(xs.reshape(-1, k), np.ascontiguousarray(w.T), f"mx:{elem}")
        bits = matmul(wa, wb, f"mx:{elem}", "os")
        if trace is not None:
            trace.append(dict(layer=layer, A=wa, B=wb, B_stored=wb, acc=bits))
    return decode("fp32", bits).reshape(xs.shape[:-1] + (w.shape[0],))


def mx_forward(model, candidate, x=None, *, gemm=None, trace=None):
    """Scores (float64) of ``x`` (default the test inputs) for an :class:`MX` candidate:
    each ``dense``/``conv2d`` layer's dot products from :func:`hwgen.golden.mx.mx_dot` on
    its activations and weights quantized per block of 32 along K, then the bias added in
    FP32; ReLU, pooling (sums and means in float64, rounded to FP32), residual adds (FP32)
    and reshapes on FP32 values. The model's input enters as FP32. ``gemm(layer, A, B)``
    computes the dot products instead, from the float operands; ``trace`` records each
    layer's GEMM in operand words (see :func:`_mx_dot`)."""
    c = parse_candidate(candidate)
    if not isinstance(c, MX):
        raise ValueError(f"Not an MX candidate: {candidate!r}")

    def op(i, layer, args):
        h = args[0]
        kind = layer["kind"]
        shape = (h.shape[0],) + model.output_shapes[i]
        if kind in MAC_KINDS:
            o = layer["W"].shape[0]
            w = layer["W"].reshape(o, -1)
            if kind == "dense":
                return _fp32(_mx_dot(c.elem, h, w, gemm, i, trace) + _fp32(layer["b"]))
            cols = im2col(h, *layer["kernel"], layer["stride"], layer["pads"])
            y = _fp32(_mx_dot(c.elem, cols, w, gemm, i, trace) + _fp32(layer["b"]))
            return y.transpose(0, 2, 1).reshape(shape)
        if kind == "relu":
            return np.maximum(h, 0.0)
        if kind == "maxpool":
            return _maxpool(h, layer, -np.inf)
        if kind in ("avgpool", "globalavgpool"):
            win, div = _pool_windows(h, layer, 0.0)
            return _fp32(win.sum(axis=-1) / div)
        if kind == "add":
            return _fp32(args[0] + args[1])
        return h.reshape(shape)
    return _walk(model, _fp32(_inputs(model, x)), op)


def forward(model, candidate, x=None, *, accumulate="rounded", rounding="rne", scales=None,
            trace=None, gemm=None):
    """Scores of ``x`` in ``candidate`` (a float format, :class:`FixedPoint`, or a name such as
    ``e4m3``/``fx8``); ``None`` means the float64 network. ``trace`` and ``gemm`` (not for
    bit-serial candidates): see :func:`float_forward`."""
    if candidate is None:
        return exact_forward(model, x)
    c = parse_candidate(candidate)
    if isinstance(c, FixedPoint):
        return fixed_forward(model, c, x, scales=scales, trace=trace, gemm=gemm)
    if isinstance(c, BitSerial):
        if gemm is not None:
            raise ValueError(f"{c.name}: a bit-serial candidate takes no gemm")
        return bitserial_forward(model, c, x, scales=scales, trace=trace)
    if isinstance(c, MX):
        return mx_forward(model, c, x, gemm=gemm, trace=trace)
    return float_forward(model, c, x, accumulate=accumulate, rounding=rounding, trace=trace,
                         gemm=gemm)


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
    model.require_data()
    scores = forward(model, candidate, accumulate=accumulate, rounding=rounding, scales=scales)
    return accuracy(scores, model.y_test), scores

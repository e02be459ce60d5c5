"""A network compiled for a board that chains its layers on chip (protocol version 2,
``docs/protocol.md``, "Version 2: networks chained on chip"; issue 18 §2).

:func:`compile_network` turns a model into what such a board holds: every layer's integer
weights resident in the weight buffer, its biases (at the accumulators' scale) in the bias
buffer, and a layer table (:class:`~hwgen.host_link.protocol.LayerRecord`, one per layer) that
the board walks for each input: one weight-stationary run per output tile, then, between
layers, :func:`hwgen.golden.epilogue.layer_epilogue` (bias, power-of-two re-quantization with
rounding half to even and saturation, ReLU) writing the next layer's input into the
activation buffer; the last layer's accumulators plus bias are the scores.

The arithmetic is the explorer's fixed-point emulation (:func:`hwgen.explore.emulate
.fixed_forward`, candidate ``fxN`` of an ``intN`` PE) with the model's calibration scales
(:func:`~hwgen.explore.emulate.tensor_ranges`): the same quantized weights, biases and
shifts, taken from the emulation's own helpers, so the board's scores equal the emulation's
bit for bit whenever no accumulator wraps (compile checks the worst case).

What chains: ``dense`` and ``conv2d`` layers (a convolution of any stride and zero padding,
groups 1), each hidden one optionally followed by one ``relu``, a convolution also by one
``maxpool`` (any window, stride and padding; before or after the ReLU), ``flatten`` anywhere,
and a ``dense`` layer last (its accumulators are the scores). Anything else (average pools,
reshapes, residual adds, a maxpool after a dense layer) runs layer by layer
(:class:`hwgen.explore.netrun.LoadedNetwork`).

A convolution is a *gather layer* (``docs/protocol.md``, "Gather layers"): the board builds
its im2col rows itself from its input rows, element by element, as the layer's *gather
entries* (bias-buffer rows after its biases) say, runs the output tiles over them and
max-pools ``pool`` consecutive result rows into one output pixel. The compiler chooses:

- the result rows' order: ``q = p·g + w``, pooled output pixel ``p`` in raster order, window
  element ``w`` row by row (g = the pool window; a window cell outside the convolution's
  output repeats the window's first cell inside it, which leaves the maximum alone); without
  a maxpool g = 1 and the pixels are the convolution's outputs;
- the im2col K order ``kidx = (c_in·kh + dy)·kw + dx`` (``W.reshape(C_out, -1)``, the
  emulation's :func:`~hwgen.explore.emulate.im2col`), zero-padded to ``g_tiles·R``;
- entry of im2col row ``s = t·L + q``, lane j: element ``kidx = t·R + j`` of output
  position q, as ``(row << gather_lane_bits(R)) | lane`` of the input tensor relative to
  ``a_in``, or -1 for a zero (conv padding, K padding);
- output layout *pixel-major*: channel c of output pixel p at row ``p·n_tiles + c // C``,
  lane ``c % C``; a dense layer after it (through ``flatten``) gets its weight rows permuted
  to match (flatten index ``c·P + p`` becomes row ``p·n_tiles·C + c``; padded channels have
  zero weights), a convolution after it gathers from it.

On the board the bias, the re-quantization and the ReLU come before the pooling, whatever
the model's order of ``relu`` and ``maxpool``: the re-quantization and the ReLU are
monotone, so the maximum of requantized codes is the requantized maximum, which is what the
emulation stores (it requantizes a convolution's output to the scale of its reader's input,
:func:`~hwgen.explore.emulate._fixed_plan`, then pools).

Layout in the board's buffers (rows of the array's words; R = C):

- weights: the layers one after another from row 0; layer rows
  ``w_base + (n·T + t)·R + r`` hold ``W[t·R + r, n·C : n·C + C]`` (W is K x N in the input
  rows' order, zero-padded; T = ``k_tiles``, or ``g_tiles`` for a gather layer), the rows
  :meth:`hwgen.golden.tiling.Tiling.weight_rows` gives for tile ``(n, t)`` in the order
  :meth:`hwgen.host.Accelerator._matmul_ws` streams them;
- biases: ``n_tiles`` rows per layer, then a gather layer's entries (``g_tiles·pixels·pool``
  rows), one layer after another from row 0;
- activations: ping-pong between row 0 and row ``region``, the most rows any layer's input
  or output (a gather layer's: its outputs and im2col rows) takes: a layer reads one region
  and writes the other, so input and output never overlap.

:func:`board_infer` is a numpy model of what the board does with a table (per the spec,
from the buffer words): :meth:`ChainedNetwork.golden_infer` runs it, and tests compare it
with the emulation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np

from ..arrayspec import ArraySpec
from ..golden import add, decode, encode, mac
from ..golden.epilogue import layer_epilogue
from ..host_link import protocol as P
from ..pespec import parse_pe
from .emulate import (FixedPoint, _check_scales, _fixed_plan, _int_mac_operands, _quantize,
                      forward, tensor_ranges)
from .graph import MAC_KINDS

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

    from ..formats import FloatFormat, IntFormat
    from ..pespec import PESpec
    from .graph import Model

__all__ = ["ChainedNetwork", "FloatChainedNetwork", "ChainLayer", "compile_network",
           "chain_layers", "board_infer", "board_infer_float", "CHAINS"]

#: What chains on chip (the error of :func:`compile_network` says this).
CHAINS = ("dense and conv2d layers, each hidden one optionally followed by relu (a conv2d "
          "also by maxpool), flatten anywhere, and a dense layer last")


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _wrap(a: np.ndarray, bits: int) -> np.ndarray:
    """Integer array ``a`` wrapped to ``bits``-bit two's complement (same dtype)."""
    half = 1 << (bits - 1)
    return (a + half) % (1 << bits) - half


def board_infer(array: ArraySpec, records: Sequence[P.LayerRecord],
                weight_words: Sequence[int], bias_words: Sequence[int],
                inputs: Sequence[Sequence[int]]) -> list[list[int]]:
    """What a version-2 board computes for INFER (``docs/protocol.md``), in numpy.

    Dense layers: per output tile n one weight-stationary run of ``k_tiles`` weight tiles
    over the input rows, then the epilogue (:func:`~hwgen.golden.epilogue.layer_epilogue`)
    into activation row ``a_out + n`` (the last layer: accumulators + bias, wrapped, are
    the scores). Gather layers (``docs/protocol.md``, "Gather layers"): first the
    ``S = g_tiles·pixels·pool`` im2col rows gathered from the input rows as the entries in
    bias rows ``b_base + n_tiles + s`` say into activation rows ``a_out + n_tiles·pixels +
    s``; then per output tile n a run of ``g_tiles`` weight tiles over the
    ``L = pixels·pool`` im2col rows of each tile (row ``s = t·L + q``), the epilogue on each
    of the L result rows, and the lane-wise maximum of result rows ``p·pool ..
    p·pool + pool - 1`` into activation row ``a_out + p·n_tiles + n``. Sums wrap to
    ``acc_bits`` as the accumulators do.

    Parameters
    ----------
    array :
        The board's array (``intN``, weight-stationary, R == C).
    records :
        The loaded layer table (assumed valid: :func:`~hwgen.host_link.protocol
        .check_layer_table`).
    weight_words, bias_words :
        The weight and bias buffers from row 0 (words as WRITE takes them; rows past the
        end read as 0).
    inputs :
        One INFER payload per inference: ``k_tiles`` of layer 0 activation words each.

    Returns
    -------
    list of list of int
        Per inference, the response: ``n_tiles`` of the last layer result words.
    """
    R, C = array.rows, array.cols
    abits, acc_bits = array.a_elem.width, array.acc_bits
    dtype: Any = np.int64 if acc_bits + 2 <= 62 else object
    w_rows = max([r.w_base + r.n_tiles * r.tiles * R for r in records] + [0])
    wmem = np.zeros((w_rows, C), dtype=dtype)
    for i, w in enumerate(weight_words[:w_rows]):
        wmem[i] = array.unpack_weights(w)
    b_rows = max([r.b_base + r.bias_rows for r in records] + [0])
    bmem = np.zeros((b_rows, C), dtype=dtype)
    for i, w in enumerate(bias_words[:b_rows]):
        bmem[i] = array.unpack_results(w)[0]
    batch = len(inputs)
    a_rows = max([max(r.a_in + r.k_tiles, r.a_out + r.out_rows) for r in records] + [0])
    amem = np.zeros((batch, a_rows, R), dtype=dtype)
    first = records[0]
    for b, words in enumerate(inputs):
        if len(words) != first.k_tiles:
            raise ValueError(f"INFER takes {first.k_tiles} activation words, not {len(words)}")
        for t, w in enumerate(words):
            amem[b, first.a_in + t] = array.unpack_acts(w)
    lane_bits = P.gather_lane_bits(R)
    entry_top = 1 << P.gather_entry_bits(acc_bits)
    out = np.zeros((batch, 0, C), dtype=dtype)
    for li, rec in enumerate(records):
        last = li == len(records) - 1
        k = rec.k_tiles
        if rec.gather:
            T, Pn, g = rec.g_tiles, rec.pixels, rec.pool
            L, S = rec.result_rows, rec.im2col_rows
            # the gather pass: im2col row s, lane j <- the element entry (s, j) names
            e = bmem[rec.b_base + rec.n_tiles:rec.b_base + rec.n_tiles + S]   # (S, R)
            ok = (e >= 0) & (e < entry_top)
            e = np.where(ok, e, 0).astype(np.int64)
            row, lane = e >> lane_bits, e & ((1 << lane_bits) - 1)
            ok &= (row < k) & (lane < R)
            x = amem[:, rec.a_in:rec.a_in + k]                              # (batch, k, R)
            gathered = x[:, np.where(ok, row, 0), np.where(ok, lane, 0)]    # (batch, S, R)
            im2col = rec.a_out + rec.outputs
            amem[:, im2col:im2col + S] = np.where(ok, gathered, 0)
            cols = amem[:, im2col:im2col + S].reshape(batch, T, L, R).copy()
            for n in range(rec.n_tiles):
                acc = np.zeros((batch, L, C), dtype=dtype)
                for t in range(T):
                    base = rec.w_base + (n * T + t) * R
                    acc = _wrap(acc + cols[:, t] @ wmem[base:base + R], acc_bits)
                y = layer_epilogue(acc, bmem[rec.b_base + n], rec.shift, abits,
                                   relu=rec.relu)                            # (batch, L, C)
                pooled = y.reshape(batch, Pn, g, C).max(axis=2)              # (batch, P, C)
                amem[:, rec.a_out + n:rec.a_out + rec.n_tiles * Pn:rec.n_tiles] = pooled
            continue
        x = amem[:, rec.a_in:rec.a_in + k].copy()               # (batch, k, R)
        rows = []
        for n in range(rec.n_tiles):
            acc = np.zeros((batch, C), dtype=dtype)
            for t in range(k):
                base = rec.w_base + (n * k + t) * R
                acc = _wrap(acc + x[:, t] @ wmem[base:base + R], acc_bits)
            bias = bmem[rec.b_base + n]
            if last:
                rows.append(_wrap(acc + bias, acc_bits))
            else:
                amem[:, rec.a_out + n] = layer_epilogue(acc, bias, rec.shift, abits,
                                                        relu=rec.relu)
        if last:
            out = np.stack(rows, axis=1)
    return [[array.pack_results([int(v) for v in row]) for row in res] for res in out]


class ChainedNetwork:
    """A model compiled for a board that chains layers on chip (:func:`compile_network`).

    Attributes
    ----------
    model : Model
    pe : str
        The board's PE (``intN``).
    candidate : FixedPoint
        The explorer candidate the board computes (``fxN``); ``accumulate`` is
        ``"rounded"`` (as :func:`hwgen.explore.netrun.candidate_for`).
    scales : ndarray
        The fixed-point scales (:func:`~hwgen.explore.emulate.tensor_ranges`).
    array : ArraySpec
        The board's array.
    records : list of LayerRecord
        The layer table (LOAD_NET).
    weight_words, bias_words : list of int
        The weight buffer from row 0 and the bias buffer from row 0 (WRITE words).
    input_frac : int
        Fractional bits of the quantized input.
    score_frac : int
        Fractional bits of the scores (the last layer's accumulators).
    n_outputs : int
        Scores per input.
    path : str
        ``"chained"`` (:class:`~hwgen.explore.netrun.LoadedNetwork`: ``"layer-by-layer"``).
    """

    path = "chained"
    accumulate = "rounded"

    def __init__(self, model: Model, pe: str, array: ArraySpec, scales: np.ndarray,
                 records: list[P.LayerRecord], weight_words: list[int],
                 bias_words: list[int], input_frac: int, score_frac: int,
                 n_outputs: int) -> None:
        self.model, self.pe, self.array, self.scales = model, pe, array, scales
        self.candidate = FixedPoint(array.a_elem.width)
        self.records, self.weight_words, self.bias_words = records, weight_words, bias_words
        self.input_frac, self.score_frac, self.n_outputs = input_frac, score_frac, n_outputs

    def __repr__(self) -> str:
        return (f"ChainedNetwork({self.model.name!r} on {self.array.rows}x{self.array.cols} "
                f"{self.pe}: {len(self.records)} layers, {len(self.weight_words)} weight rows, "
                f"{len(self.bias_words)} bias rows)")

    @property
    def load_net_payload(self) -> bytes:
        """The LOAD_NET request payload of :attr:`records`."""
        return P.load_net_payload(self.records)

    def _one(self, x: ArrayLike) -> np.ndarray:
        a = np.asarray(x, dtype=np.float64)
        if a.shape == (1,) + self.model.input_shape:
            a = a[0]
        if a.shape != self.model.input_shape:
            raise ValueError(f"Input must have shape {self.model.input_shape} (one input), "
                             f"not {a.shape}")
        return a

    def input_codes(self, x: ArrayLike) -> np.ndarray:
        """The quantized input (int64, K values) of one input ``x`` (after the model's
        ``pre`` steps), as the emulation quantizes it."""
        x = self._one(x).reshape(-1)
        return _quantize(x, self.input_frac, self.array.a_elem.width)

    def input_words(self, x: ArrayLike) -> list[int]:
        """The INFER payload of one input ``x`` (after the model's ``pre`` steps) as
        activation words: ``k_tiles`` rows of R codes, zero-padded."""
        R = self.array.rows
        codes = self.input_codes(x)
        padded = np.zeros(self.records[0].k_tiles * R, dtype=np.int64)
        padded[:codes.size] = codes
        mask = (1 << self.array.act_fields["a"][1]) - 1
        return [self.array.pack_acts([int(v) for v in padded[t * R:(t + 1) * R]]) & mask
                for t in range(self.records[0].k_tiles)]

    def scores(self, result_words: Sequence[int]) -> np.ndarray:
        """The scores (float64, :attr:`n_outputs` values) in the INFER response's result
        words, as the emulation converts the last layer's accumulators."""
        if len(result_words) != self.records[-1].n_tiles:
            raise ValueError(f"INFER returns {self.records[-1].n_tiles} result words, not "
                             f"{len(result_words)}")
        vals = [v for w in result_words for v in self.array.unpack_results(w)[0]]
        return np.array([math.ldexp(float(v), -self.score_frac)
                         for v in vals[:self.n_outputs]], dtype=np.float64)

    def _batch(self, x: ArrayLike) -> np.ndarray:
        a = np.asarray(x, dtype=np.float64)
        return a[None] if a.shape == self.model.input_shape else a

    def golden_infer_words(self, x: ArrayLike) -> list[list[int]]:
        """The INFER responses (result words) :func:`board_infer` computes for ``x`` (one
        input or a batch, after the ``pre`` steps) with this network loaded."""
        inputs = [self.input_words(row) for row in self._batch(x)]
        return board_infer(self.array, self.records, self.weight_words, self.bias_words,
                           inputs)

    def golden_infer(self, x: ArrayLike) -> np.ndarray:
        """The board's scores of ``x`` (one input or a batch, after the ``pre`` steps) by
        :func:`board_infer`: float64, one row per input."""
        return np.array([self.scores(w) for w in self.golden_infer_words(x)],
                        dtype=np.float64).reshape(-1, self.n_outputs)

    def emulate(self, x: ArrayLike) -> np.ndarray:
        """The explorer's scores of ``x`` (after the ``pre`` steps): what the board must
        give."""
        return forward(self.model, self.candidate, self._batch(x),
                       accumulate=self.accumulate, scales=self.scales)

    def infer(self, acc: Any, x: ArrayLike, *, raw: bool = True) -> np.ndarray:
        """Scores (float64, one row per input) of ``x`` on accelerator ``acc`` (a
        :class:`hwgen.host.Accelerator` with this network loaded): one INFER per input.
        ``raw``: ``x`` is what the model file takes (before its ``pre`` steps), with or
        without the batch axis."""
        a = self._batch(x)
        if raw:
            a = self.model.prepare(a)
        return np.array([self.scores(acc.infer_words(self.input_words(row))) for row in a],
                        dtype=np.float64).reshape(-1, self.n_outputs)


class ChainLayer(NamedTuple):
    """One layer of the chained table (:func:`chain_layers`)."""
    #: The model's ``dense`` or ``conv2d`` layer (its index).
    layer: int
    #: A ``relu`` follows it.
    relu: bool = False
    #: The ``maxpool`` layer after a ``conv2d``, or None.
    pool: int | None = None


def chain_layers(model: Model) -> list[ChainLayer]:
    """The table's layers of a model that chains (:data:`CHAINS`), else ValueError naming
    the first layer that does not."""
    def refuse(i: int, why: str = "") -> ValueError:
        kind = model.layers[i]["kind"]
        return ValueError(f"Layer {i} ({kind}{why}) does not chain on chip: the chained path "
                          f"takes {CHAINS}")
    out: list[ChainLayer] = []
    relus: dict[int, int] = {}                  # MAC layer -> its relu
    for i, layer in enumerate(model.layers):
        kind = layer["kind"]
        if layer["inputs"] != [i - 1]:
            raise refuse(i, ", not reading the previous layer")
        if kind in MAC_KINDS:
            out.append(ChainLayer(i))
        elif kind == "flatten":
            continue
        elif kind == "relu" and out and not out[-1].relu:
            out[-1] = out[-1]._replace(relu=True)
            relus[out[-1].layer] = i
        elif kind == "maxpool" and out and out[-1].pool is None and \
                model.layers[out[-1].layer]["kind"] == "conv2d":
            out[-1] = out[-1]._replace(pool=i)
        else:
            raise refuse(i)
    if not out:
        raise ValueError(f"Model {model.name!r} has no dense or conv2d layer: the chained "
                         f"path takes {CHAINS}")
    if model.layers[out[-1].layer]["kind"] != "dense":
        raise refuse(out[-1].layer, ", the last MAC layer: the scores are a dense layer's "
                     "accumulators")
    if out[-1].relu:
        raise refuse(relus[out[-1].layer], " after the last dense layer: the scores are the "
                     "last layer's accumulators")
    return out


@dataclass
class _Layer:
    """One compiled layer, before :func:`_layout` places it: ``W`` (T·R x n_tiles·C codes,
    zero-padded; row ``t·R + r`` goes with input/im2col row tile t, lane r), the biases
    (n_tiles·C), the shift, ReLU, its input rows ``k_tiles``, and for a gather layer
    ``(pixels, pool, entries)`` (entries: S x R)."""
    W: np.ndarray
    bias: list[int]
    shift: int
    relu: bool
    k_tiles: int
    gather: tuple[int, int, np.ndarray] | None = None

    def out_rows(self, R: int) -> int:
        """Activation rows it writes: outputs, then a gather layer's im2col rows."""
        nt = self.W.shape[1] // R
        if self.gather is None:
            return nt
        return nt * self.gather[0] + self.gather[2].shape[0]


def _padded(wq: np.ndarray, bq: Sequence[int], at: Any, T: int, R: int
            ) -> tuple[np.ndarray, list[int]]:
    """``W`` (T·R x n_tiles·R, zero-padded) holding ``wq.T`` (``wq``: N x K codes) in rows
    ``at``, and the biases zero-padded to n_tiles·R."""
    n_out = wq.shape[0]
    nt = _ceil(n_out, R)
    W = np.zeros((T * R, nt * R), dtype=np.int64)
    W[at, :n_out] = np.asarray(wq, dtype=np.int64).T
    return W, [int(v) for v in bq] + [0] * (nt * R - n_out)


def _dense_layer(wq: np.ndarray, bq: Sequence[int], shift: int, relu: bool, loc: np.ndarray,
                 k_tiles: int, R: int) -> _Layer:
    """A dense layer (``wq``: N x K codes) reading a tensor whose flat element i is at input
    row/lane ``loc[i]`` (``row·R + lane``)."""
    W, bias = _padded(wq, bq, loc, k_tiles, R)
    return _Layer(W, bias, int(shift), bool(relu), k_tiles)


def _positions(conv_shape: tuple[int, ...], pool: Mapping[str, Any] | None,
               pool_shape: tuple[int, ...] | None) -> tuple[list[tuple[int, int]], int, int]:
    """The convolution's output positions in result-row order ``q = p·g + w`` and
    ``(positions, pixels, g)``: each pooled pixel's window row by row (a cell outside the
    convolution's output repeats the window's first cell inside it), or without a pool each
    output position once."""
    _, Ho, Wo = conv_shape
    if pool is None:
        return [(y, x) for y in range(Ho) for x in range(Wo)], Ho * Wo, 1
    assert pool_shape is not None
    (ph, pw), (sy, sx), (pt, pl) = pool["kernel"], pool["stride"], pool["pads"][:2]
    _, Hp, Wp = pool_shape
    pos: list[tuple[int, int]] = []
    for py in range(Hp):
        for px in range(Wp):
            win = [(py * sy - pt + wy, px * sx - pl + wx) for wy in range(ph)
                   for wx in range(pw)]
            inside = [(y, x) for y, x in win if 0 <= y < Ho and 0 <= x < Wo]
            if not inside:
                raise ValueError(f"Max pool window ({py}, {px}) holds no cell of the "
                                 f"convolution's {Ho}x{Wo} output")
            pos += [(y, x) if 0 <= y < Ho and 0 <= x < Wo else inside[0] for y, x in win]
    return pos, Hp * Wp, ph * pw


def _gather_layer(layer: Mapping[str, Any], in_shape: tuple[int, ...],
                  positions: Sequence[tuple[int, int]], pixels: int, g: int,
                  wq: np.ndarray, bq: Sequence[int], shift: int, relu: bool,
                  loc: np.ndarray, k_tiles: int, R: int) -> _Layer:
    """A convolution as a gather layer reading a tensor (``in_shape``, C-H-W flat element i
    at input row/lane ``loc[i]``): im2col weights (K order ``(c_in·kh + dy)·kw + dx``),
    biases, and the entries of the im2col rows of ``positions``."""
    cin, H, Wd = in_shape
    kh, kw = layer["W"].shape[2:]
    (sy, sx), (pt, pl) = layer["stride"], layer["pads"][:2]
    K = cin * kh * kw
    T, L = _ceil(K, R), len(positions)
    W, bias = _padded(wq, bq, slice(0, K), T, R)
    ci, dy, dx = (a.reshape(-1, 1) for a in np.meshgrid(np.arange(cin), np.arange(kh),
                                                         np.arange(kw), indexing="ij"))
    oy = np.array([p[0] for p in positions]).reshape(1, -1)
    ox = np.array([p[1] for p in positions]).reshape(1, -1)
    y, x = oy * sy - pt + dy, ox * sx - pl + dx                     # (K, L)
    ok = (y >= 0) & (y < H) & (x >= 0) & (x < Wd)
    at = loc[(ci * H + np.clip(y, 0, H - 1)) * Wd + np.clip(x, 0, Wd - 1)]
    lane_bits = P.gather_lane_bits(R)
    ent = np.full((T * R, L), -1, dtype=np.int64)                   # [kidx, q]
    ent[:K] = np.where(ok, ((at // R) << lane_bits) | (at % R), -1)
    # im2col row s = t·L + q, lane j: element kidx = t·R + j of position q
    entries = ent.reshape(T, R, L).transpose(0, 2, 1).reshape(T * L, R)
    return _Layer(W, bias, int(shift), bool(relu), k_tiles, (pixels, g, entries))


def compile_network(model: Model, pe: str, rows: int, cols: int, *,
                    depths: Mapping[str, int], bias_depth: int, max_layers: int,
                    max_payload: int, scales: ArrayLike | None = None) -> ChainedNetwork:
    """Compile ``model`` for a board that chains layers on chip.

    Parameters
    ----------
    model :
        A model with calibration inputs (the fixed-point scales).
    pe :
        The board's PE: ``intN`` (signed), or ``F:F:rounded``/``F:F:fused`` (dense layers
        only).
    rows, cols :
        The array (R == C).
    depths :
        Words in the ``weights``, ``acts`` and ``results`` buffers.
    bias_depth, max_layers, max_payload :
        The board's bias buffer, layer table and frame payload limits (IDENTIFY).
    scales :
        The emulation's tensor scales (default :func:`~hwgen.explore.emulate.tensor_ranges`
        of the model).

    Raises
    ------
    ValueError
        A PE or array the chained path does not take; a layer that does not chain (one
        line naming its kind and what chains); a model without calibration data; anything
        that does not fit the board (weight, bias, activation or result rows, layers, the
        input or score bytes of a frame, gather entries), the numbers named; an accumulator
        that could wrap, or a shift beyond the board's range.
    """
    spec = parse_pe(pe)
    if rows != cols:
        raise ValueError(f"The chained path takes square arrays (rows == cols), not "
                         f"{rows}x{cols}")
    if P.float_chain_pe(spec):
        return _compile_float(model, spec, rows, depths=depths, bias_depth=bias_depth,
                              max_layers=max_layers, max_payload=max_payload)
    if spec.kind != "int" or spec.a_fmt != spec.w_fmt or \
            not cast("IntFormat", spec.a_fmt).signed:
        raise ValueError(f"The chained path takes intN (signed) or F:F:rounded/fused PEs, "
                         f"not {spec.spec!r}")
    array = ArraySpec(rows, cols, spec, "ws")
    R = rows
    bits, acc_bits = array.a_elem.width, array.acc_bits
    layers = chain_layers(model)
    if model.x_calib is None and model.x_test is None:
        raise ValueError(f"Model {model.name!r} has no calibration inputs for the fixed-point "
                         f"scales: give it data (x_calib or x_test)")
    maxabs = tensor_ranges(model) if scales is None else _check_scales(model, scales)
    plan = _fixed_plan(model, maxabs, bits)
    if len(layers) > max_layers:
        raise ValueError(f"The network has {len(layers)} layers; the board's table holds "
                         f"{max_layers}")

    frac = plan[-1]
    input_frac = frac
    # where each element of the current tensor (C-H-W flat index) is: row·R + lane
    loc = np.arange(math.prod(model.input_shape), dtype=np.int64)
    k_tiles = _ceil(loc.size, R)
    compiled: list[_Layer] = []
    f_acc = 0
    for li, (i, relu, pool) in enumerate(layers):
        layer = model.layers[i]
        kind = layer["kind"]
        wq, f_acc, bq = _int_mac_operands(layer, frac, bits)
        last = li == len(layers) - 1
        shift = 0 if last else f_acc - plan[i]
        if not last and not P.NET_SHIFT_MIN <= shift <= acc_bits:
            raise ValueError(f"Layer {i} ({kind}) needs a shift of {shift}; the board shifts "
                             f"by {P.NET_SHIFT_MIN}..{acc_bits}")
        # worst case |acc| (+ |bias|) over every input the board can be given
        lim = (1 << (acc_bits - 1)) - 1
        worst = int(np.max(np.abs(wq).sum(axis=1))) << (bits - 1)
        top = max([abs(int(b)) for b in bq] + [0])
        if worst > lim or top > lim or (last and worst + top > lim):
            raise ValueError(f"Layer {i} ({kind}): its accumulators could reach "
                             f"{worst + top} in magnitude, beyond the {acc_bits}-bit "
                             f"accumulator")
        in_shape = model.input_shapes[i][0]
        assert loc.size == math.prod(in_shape)
        n_out = int(wq.shape[0])
        nt = _ceil(n_out, R)
        if kind == "dense":
            compiled.append(_dense_layer(wq, bq, shift, relu, loc, k_tiles, R))
            loc, k_tiles = np.arange(n_out, dtype=np.int64), nt
        else:
            entry_bits = P.gather_entry_bits(acc_bits)
            top_entry = ((k_tiles - 1) << P.gather_lane_bits(R)) | (R - 1)
            if top_entry >> entry_bits:
                raise ValueError(f"Layer {i} (conv2d) reads {k_tiles} rows: its gather "
                                 f"entries reach {top_entry}, beyond the board's "
                                 f"{entry_bits}-bit entries")
            conv_shape = model.output_shapes[i]
            pool_layer = None if pool is None else model.layers[pool]
            pool_shape = None if pool is None else model.output_shapes[pool]
            positions, pixels, g = _positions(conv_shape, pool_layer, pool_shape)
            compiled.append(_gather_layer(layer, in_shape, positions, pixels, g, wq, bq,
                                          shift, relu, loc, k_tiles, R))
            # pixel-major: channel c of pixel p at row p·nt + c // C, lane c % C
            c, p = np.arange(n_out).reshape(-1, 1), np.arange(pixels).reshape(1, -1)
            loc = ((p * nt + c // R) * R + c % R).reshape(-1)
            k_tiles = nt * pixels
        frac = plan[i] if not last else f_acc

    records, weight_words, bias_words = _layout(array, compiled)
    _check_fit(model, array, records, weight_words, bias_words, depths=depths,
               bias_depth=bias_depth, max_payload=max_payload)
    n_outputs = int(model.output_shapes[layers[-1].layer][0])
    return ChainedNetwork(model, spec.spec, array, np.asarray(maxabs, dtype=np.float64),
                          records, weight_words, bias_words, int(input_frac),
                          int(f_acc), n_outputs)


def _layout(array: ArraySpec, layers: Sequence[_Layer]
            ) -> tuple[list[P.LayerRecord], list[int], list[int]]:
    """The layer table and the weight and bias words of ``layers`` (the module's layout)."""
    R = C = array.rows
    records: list[P.LayerRecord] = []
    weight_words: list[int] = []
    bias_words: list[int] = []
    # ping-pong offset: the most rows a layer's input or output takes
    region = max([layers[0].k_tiles] + [q.out_rows(R) for q in layers[:-1]])
    a_in = 0
    for li, q in enumerate(layers):
        last = li == len(layers) - 1
        T, nt = q.W.shape[0] // R, q.W.shape[1] // C
        a_out = 0 if last else (region if a_in == 0 else 0)
        g_tiles, pixels, pool = (0, 0, 0) if q.gather is None else \
            (T, q.gather[0], q.gather[1])
        records.append(P.LayerRecord(len(weight_words), q.k_tiles, nt, a_in, a_out,
                                     len(bias_words), int(q.shift), bool(q.relu),
                                     g_tiles=g_tiles, pixels=pixels, pool=pool))
        for n in range(nt):
            for t in range(T):
                weight_words += [array.pack_weights([int(v) for v in row])
                                 for row in q.W[t * R:(t + 1) * R, n * C:(n + 1) * C]]
        bias_words += [array.pack_results(q.bias[n * C:(n + 1) * C]) for n in range(nt)]
        if q.gather is not None:
            bias_words += [array.pack_results([int(v) for v in row]) for row in q.gather[2]]
        a_in = a_out
    return records, weight_words, bias_words


def _check_fit(model: Model, array: ArraySpec, records: list[P.LayerRecord],
               weight_words: list[int], bias_words: list[int], *,
               depths: Mapping[str, int], bias_depth: int, max_payload: int) -> None:
    """ValueError naming what of the compiled network does not fit the board."""
    rows = cols = array.rows
    spec = cast("PESpec", array.pe)
    wb = P.word_bytes(P.buffer_word_bits(array))
    a_rows = max(max(r.a_in + r.k_tiles, r.out_rows + r.a_out if r is not records[-1]
                     else 0) for r in records)
    last_rec = records[-1]
    need = [("weight", len(weight_words), "rows", depths["weights"], "the weight buffer"),
            ("bias", len(bias_words), "rows", bias_depth, "the bias buffer"),
            ("activation", a_rows, "rows", depths["acts"], "the activation buffer")]
    for r in records:
        if r.gather:
            need.append(("convolution result", r.result_rows, "rows", depths["results"],
                         "the result buffer"))
    need += [("score", last_rec.n_tiles, "rows", depths["results"], "the result buffer"),
             ("score", last_rec.n_tiles * wb["results"], "bytes", max_payload,
              "a frame's payload (max_payload)"),
             ("input", records[0].k_tiles * wb["acts"], "bytes", max_payload,
              "a frame's payload (max_payload)"),
             ("layer table", 1 + P.LAYER_RECORD_BYTES * len(records), "bytes", max_payload,
              "a frame's payload (max_payload)")]
    for what, n, unit, limit, where in need:
        if n > limit:
            raise ValueError(f"Model {model.name!r} does not fit the board on chip: {what} "
                             f"{unit} {n} > {limit} in {where} ({rows}x{cols} {spec.spec})")
    for r in records:
        for name in ("w_base", "a_out", "b_base", "k_tiles", "pixels"):
            if getattr(r, name) > 0xFFFF:
                raise ValueError(f"Model {model.name!r} does not fit the board on chip: "
                                 f"layer record {name} {getattr(r, name)} > 65535")


def _compile_float(model: Model, spec: PESpec, rows: int, *, depths: Mapping[str, int],
                   bias_depth: int, max_layers: int, max_payload: int) -> FloatChainedNetwork:
    """:func:`compile_network` of an ``F:F:rounded``/``F:F:fused`` array: the weights and
    biases encoded in ``F`` as the float emulation encodes them (round to nearest even),
    shifts 0; dense layers only (a float board has no gather layers)."""
    array = ArraySpec(rows, rows, spec, "ws")
    fmt = cast("FloatFormat", spec.a_fmt)
    layers = chain_layers(model)
    for cl in layers:
        if model.layers[cl.layer]["kind"] != "dense":
            raise ValueError(f"Layer {cl.layer} ({model.layers[cl.layer]['kind']}) does not "
                             f"chain on chip on a float array ({spec.spec}): convolutions "
                             f"chain on intN arrays only")
    if len(layers) > max_layers:
        raise ValueError(f"The network has {len(layers)} layers; the board's table holds "
                         f"{max_layers}")
    compiled = []
    for i, relu, _ in layers:
        layer = model.layers[i]
        o = layer["W"].shape[0]
        wq = encode(fmt, layer["W"].reshape(o, -1), "rne").astype(np.int64)
        bq = [int(v) for v in encode(fmt, layer["b"], "rne")]
        k = wq.shape[1]
        compiled.append(_dense_layer(wq, bq, 0, relu, np.arange(k), _ceil(k, rows), rows))
    records, weight_words, bias_words = _layout(array, compiled)
    _check_fit(model, array, records, weight_words, bias_words, depths=depths,
               bias_depth=bias_depth, max_payload=max_payload)
    return FloatChainedNetwork(model, spec.spec, array, records, weight_words, bias_words,
                               int(model.output_shapes[layers[-1].layer][0]))


def board_infer_float(array: ArraySpec, records: Sequence[P.LayerRecord],
                      weight_words: Sequence[int], bias_words: Sequence[int],
                      inputs: Sequence[Sequence[int]]) -> list[list[int]]:
    """:func:`board_infer` of a float board (``F:F:rounded``/``F:F:fused``): each output
    tile's dot products in the array's order (k ascending from ``+0``, one golden MAC step
    each), then the bias added with one rounded add in ``F`` and, with ReLU, negative
    encodings made ``+0``. Words are encodings."""
    spec = cast("PESpec", array.pe)
    fmt = cast("FloatFormat", spec.a_fmt)
    R = C = array.rows
    W = fmt.width
    out = []
    for words in inputs:
        amem: dict[int, list[int]] = {records[0].a_in + t: array.unpack_acts(w)
                                      for t, w in enumerate(words)}
        scores: list[int] = []
        for li, rec in enumerate(records):
            last = li == len(records) - 1
            x = [v for t in range(rec.k_tiles) for v in amem[rec.a_in + t]]
            for n in range(rec.n_tiles):
                cols = []
                for t in range(rec.k_tiles):
                    base = rec.w_base + (n * rec.k_tiles + t) * R
                    cols += [array.unpack_weights(weight_words[base + r]) for r in range(R)]
                B = np.array(cols, dtype=np.uint64).T                 # (C, K)
                acc, _ = mac(np.array([x] * C, dtype=np.uint64), B, mul_fmt=fmt,
                             acc_fmt=fmt, accumulate=spec.accumulate)
                bias = array.unpack_results(bias_words[rec.b_base + n])[0]
                total, _ = add(fmt, acc, np.array(bias, dtype=np.uint64), "rne")
                y = [int(v) for v in total]
                if rec.relu:
                    y = [0 if v >> (W - 1) else v for v in y]
                if last:
                    scores.append(array.pack_results(y))
                else:
                    amem[rec.a_out + n] = y
        out.append(scores)
    return out


class FloatChainedNetwork(ChainedNetwork):
    """A model compiled for a float board (``F:F:rounded``/``F:F:fused``): encodings in
    ``F`` throughout, the explorer's float candidate ``F`` with the PE's accumulation."""

    def __init__(self, model: Model, pe: str, array: ArraySpec,
                 records: list[P.LayerRecord], weight_words: list[int],
                 bias_words: list[int], n_outputs: int) -> None:
        spec = cast("PESpec", array.pe)
        self.model, self.pe, self.array = model, pe, array
        self.fmt = cast("FloatFormat", spec.a_fmt)
        self.candidate, self.accumulate = self.fmt, spec.accumulate   # type: ignore[assignment]
        self.scales = np.zeros(0)
        self.records, self.weight_words, self.bias_words = records, weight_words, bias_words
        self.n_outputs = n_outputs
        self.input_frac = self.score_frac = 0

    def input_codes(self, x: ArrayLike) -> np.ndarray:
        """The input's encodings in ``F`` (int64, K values), as the emulation encodes it."""
        return encode(self.fmt, self._one(x).reshape(-1), "rne").astype(np.int64)

    def scores(self, result_words: Sequence[int]) -> np.ndarray:
        """The scores (float64): the last layer's encodings decoded."""
        if len(result_words) != self.records[-1].n_tiles:
            raise ValueError(f"INFER returns {self.records[-1].n_tiles} result words, not "
                             f"{len(result_words)}")
        codes = [v for w in result_words for v in self.array.unpack_results(w)[0]]
        return np.asarray(decode(self.fmt, np.array(codes[:self.n_outputs], dtype=np.uint64)),
                          dtype=np.float64)

    def golden_infer_words(self, x: ArrayLike) -> list[list[int]]:
        inputs = [self.input_words(row) for row in self._batch(x)]
        return board_infer_float(self.array, self.records, self.weight_words,
                                 self.bias_words, inputs)

    def emulate(self, x: ArrayLike) -> np.ndarray:
        return forward(self.model, self.fmt, self._batch(x), accumulate=self.accumulate)

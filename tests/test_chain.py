"""Networks compiled for a board that chains layers on chip (hwgen.explore.chain, protocol
version 2): the numpy model of the board running the compiled table against the explorer's
emulation (independent code), bit for bit, on the built-in MLPs at the boards' default
buffer depths; the tables against the golden table checker; the layout against the tiler;
the errors. No gateware."""

import dataclasses
import functools
import re

import numpy as np
import pytest

from boards import get_board
from hwgen.arrayspec import ArraySpec
from hwgen.explore.chain import board_infer, compile_network
from hwgen.explore.emulate import fixed_forward, forward
from hwgen.explore.graph import Model
from hwgen.explore.models import builtin_model
from hwgen.golden.tiling import Tiling
from hwgen.host_link import DEFAULT_MAX_PAYLOAD
from hwgen.host_link import protocol as P

MLPS = ["mlp-digits-small", "mlp-digits", "mlp-iris", "mlp-wine", "mlp-cancer"]
ARRAYS = [("int8", 4), ("int8", 8), ("int6", 4)]
BOARDS = ["ulx3s-85f", "icebreaker"]
BIAS_DEPTH = 64
MAX_LAYERS = 8
INPUTS = 64


@functools.cache
def _model(name):
    return builtin_model(name)


def _board(board, pe, r):
    """The board's default depths for an r x r ``pe`` array, and its DeviceInfo as a
    version-2 board would report it."""
    spec = ArraySpec(r, r, pe)
    bits = P.buffer_word_bits(spec)
    depths = get_board(board).buffer_depths(bits)
    info = P.DeviceInfo(version=2, rows=r, cols=r, dataflow="ws", pe=pe,
                        word_bytes=P.word_bytes(bits), depths=depths,
                        max_payload=DEFAULT_MAX_PAYLOAD, clk_hz=12_000_000, divisor=12,
                        timeout_cycles=600_000, bias_depth=BIAS_DEPTH, max_layers=MAX_LAYERS)
    return spec, depths, info


def _compile(model, pe, r, depths, **kw):
    args = dict(depths=depths, bias_depth=BIAS_DEPTH, max_layers=MAX_LAYERS,
                max_payload=DEFAULT_MAX_PAYLOAD)
    args.update(kw)
    return compile_network(model, pe, r, r, **args)


def _dense_shapes(model):
    return [layer["W"].shape for layer in model.layers if layer["kind"] == "dense"]


def _weight_rows_needed(model, r):
    """Weight rows of the model on an r x r array, from the layer shapes."""
    return sum(-(-k // r) * -(-n // r) * r for n, k in _dense_shapes(model))


@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("pe,r", ARRAYS)
@pytest.mark.parametrize("name", MLPS)
def test_board_model_equals_emulation(name, pe, r, board):
    model = _model(name)
    spec, depths, info = _board(board, pe, r)
    need = _weight_rows_needed(model, r)
    if need > depths["weights"]:
        # (mlp-digits, 8 x 8 int8 on the iCEBreaker: 512 rows of block RAM)
        with pytest.raises(ValueError, match=rf"weight rows {need} > {depths['weights']} "):
            _compile(model, pe, r, depths)
        return
    net = _compile(model, pe, r, depths)
    assert net.path == "chained"
    assert P.check_layer_table(net.load_net_payload, info, spec.acc_bits) == P.ST_OK
    assert len(net.records) == len(_dense_shapes(model))
    x = model.x_test[:INPUTS]
    expected = forward(model, f"fx{spec.a_elem.width}", x, scales=net.scales)
    got = net.golden_infer(x)
    assert got.dtype == np.float64 and got.shape == expected.shape
    assert np.array_equal(got, expected)
    # the scores round trip through result words on their own too
    words = net.golden_infer_words(x[:1])[0]
    assert len(words) == net.records[-1].n_tiles
    assert np.array_equal(net.scores(words), expected[0])


def test_layout_matches_the_tiler():
    """Weight rows as Tiling.weight_rows gives them in _matmul_ws's order (n outer, t
    inner), biases per output tile, input rows x[t·R : t·R + R]: from the emulation's own
    integer operands (its trace)."""
    model = _model("mlp-digits")
    r = 4
    spec, depths, _ = _board("ulx3s-85f", "int8", r)
    net = _compile(model, "int8", r, depths)
    x = model.x_test[:1]
    trace = []
    fixed_forward(model, 8, x, scales=net.scales, trace=trace)
    assert len(trace) == len(net.records)
    for rec, gemm in zip(net.records, trace):
        B = np.asarray(gemm["B"], dtype=np.int64)            # K x N integer weights
        K, N = B.shape
        t = Tiling(1, K, N, r, r, "ws")
        _, Bp = t.pad(np.zeros((1, K), dtype=np.int64), B)
        KT, NT = t.k_tiles, t.n_padded // r
        assert (rec.k_tiles, rec.n_tiles) == (KT, NT)
        rows = [row for nt in range(NT) for kt in range(KT)
                for row in t.weight_rows(Bp, t.tiles[nt * KT + kt])]
        mine = net.weight_words[rec.w_base:rec.w_base + NT * KT * r]
        assert mine == [spec.pack_weights([int(v) for v in row]) for row in rows]
    # layers packed from row 0, one after the other; biases likewise
    ends = [rec.w_base + rec.n_tiles * rec.k_tiles * r for rec in net.records]
    assert [rec.w_base for rec in net.records] == [0] + ends[:-1]
    assert ends[-1] == len(net.weight_words)
    b_ends = [rec.b_base + rec.n_tiles for rec in net.records]
    assert [rec.b_base for rec in net.records] == [0] + b_ends[:-1]
    # the input words are the emulation's quantized input, R codes per word, zero-padded
    A = np.asarray(trace[0]["A"], dtype=np.int64)[0]
    words = net.input_words(x[0])
    assert len(words) == net.records[0].k_tiles
    got = [(w >> (8 * j) & 0xFF) - ((w >> (8 * j) & 0x80) << 1) for w in words
           for j in range(r)]
    assert got == list(A) + [0] * (len(got) - A.size)
    # hidden layers chain into each other's rows; the last layer writes no activations
    for a, b in zip(net.records, net.records[1:]):
        assert b.a_in == a.a_out and b.k_tiles == a.n_tiles
    last = net.records[-1]
    assert (last.a_out, last.shift, last.relu) == (0, 0, False)


@pytest.mark.parametrize("change", ["relu", "shift+1", "shift-1"])
def test_a_wrong_table_disagrees_with_the_emulation(change):
    """The comparison can fail: one field of one record changed, and the board model's
    scores leave the emulation's."""
    model = _model("mlp-digits-small")
    spec, depths, _ = _board("ulx3s-85f", "int8", 4)
    net = _compile(model, "int8", 4, depths)
    x = model.x_test[:INPUTS]
    expected = forward(model, "fx8", x, scales=net.scales)
    rec = net.records[0]
    bad = dataclasses.replace(rec, relu=not rec.relu) if change == "relu" else \
        dataclasses.replace(rec, shift=rec.shift + (1 if change == "shift+1" else -1))
    inputs = [net.input_words(row) for row in x]
    words = board_infer(spec, [bad] + net.records[1:], net.weight_words, net.bias_words,
                        inputs)
    got = np.array([net.scores(w) for w in words])
    assert not np.array_equal(got, expected)
    words = board_infer(spec, net.records, net.weight_words, net.bias_words, inputs)
    assert np.array_equal(np.array([net.scores(w) for w in words]), expected)


def _one_line(e):
    assert "\n" not in str(e.value)
    return str(e.value)


def test_layers_that_do_not_chain():
    _, depths, _ = _board("ulx3s-85f", "int8", 4)
    with pytest.raises(ValueError) as e:
        _compile(_model("cnn-digits"), "int8", 4, depths)
    assert re.fullmatch(r"Layer 0 \(conv2d\) does not chain on chip: the chained path takes "
                        r"dense layers, each hidden one optionally followed by relu, and "
                        r"flatten before the first", _one_line(e))
    rng = np.random.default_rng(0)
    d = dict(kind="dense", W=rng.normal(size=(4, 4)), b=np.zeros(4))
    x = rng.normal(size=(8, 4))
    y = np.zeros(8, dtype=int)
    residual = Model("res", [d, dict(kind="relu"), dict(d, inputs=[1]),
                             dict(kind="add", inputs=[0, 2])], (4,), x, y)
    with pytest.raises(ValueError, match=r"^Layer 3 \(add, not reading the previous layer\) "
                                         r"does not chain on chip"):
        _compile(residual, "int8", 4, depths)
    relu_last = Model("relu-last", [d, dict(kind="relu")], (4,), x, y)
    with pytest.raises(ValueError, match=r"^Layer 1 \(relu after the last dense layer"):
        _compile(relu_last, "int8", 4, depths)
    two_relus = Model("two-relus", [d, dict(kind="relu"), dict(kind="relu"), d], (4,), x, y)
    with pytest.raises(ValueError, match=r"^Layer 2 \(relu\) does not chain"):
        _compile(two_relus, "int8", 4, depths)
    # flatten at the input is a no-op
    flat = Model("flat", [dict(kind="flatten"), d, dict(kind="relu"), d], (1, 2, 2),
                 x.reshape(8, 1, 2, 2), y)
    net = _compile(flat, "int8", 4, depths)
    xs = flat.x_test
    assert np.array_equal(net.golden_infer(xs), forward(flat, "fx8", xs, scales=net.scales))


def test_pe_and_array_the_chained_path_takes():
    model = _model("mlp-iris")
    _, depths, _ = _board("ulx3s-85f", "int8", 4)
    for pe in ("e4m3:fp16:rounded", "uint8", "bs8x8", "ternary"):
        with pytest.raises(ValueError, match=r"^The chained path takes intN \(signed\) or "
                                             r"F:F:rounded/fused PEs"):
            _compile(model, pe, 4, depths)
    with pytest.raises(ValueError, match=r"^The chained path takes square arrays"):
        compile_network(model, "int8", 4, 2, depths=depths, bias_depth=BIAS_DEPTH,
                        max_layers=MAX_LAYERS, max_payload=DEFAULT_MAX_PAYLOAD)


def test_too_big():
    model = _model("mlp-digits")        # 64-64-32-10
    r = 4
    _, depths, _ = _board("ulx3s-85f", "int8", r)
    # weights: 16·16·4 + 8·16·4 + 3·8·4 = 1024 + 512 + 96 rows
    with pytest.raises(ValueError) as e:
        _compile(model, "int8", r, dict(depths, weights=1631))
    assert _one_line(e) == ("Model 'mlp-digits' does not fit the board on chip: weight rows "
                            "1632 > 1631 in the weight buffer (4x4 int8)")
    _compile(model, "int8", r, dict(depths, weights=1632))
    # biases: 16 + 8 + 3 rows
    with pytest.raises(ValueError, match=r"bias rows 27 > 26 in the bias buffer"):
        _compile(model, "int8", r, depths, bias_depth=26)
    _compile(model, "int8", r, depths, bias_depth=27)
    # activations: ping-pong at row 16, layer 0 writes 16 rows there
    with pytest.raises(ValueError, match=r"activation rows 32 > 31 in the activation buffer"):
        _compile(model, "int8", r, dict(depths, acts=31))
    _compile(model, "int8", r, dict(depths, acts=32))
    with pytest.raises(ValueError, match=r"^The network has 3 layers; the board's table "
                                         r"holds 2$"):
        _compile(model, "int8", r, depths, max_layers=2)
    # scores: 3 result words of 4 x 32 bits; input: 16 words of 4 bytes
    with pytest.raises(ValueError, match=r"score rows 3 > 2 in the result buffer"):
        _compile(model, "int8", r, dict(depths, results=2))
    with pytest.raises(ValueError, match=r"score bytes 48 > 47 in a frame's payload"):
        _compile(model, "int8", r, depths, max_payload=47)
    with pytest.raises(ValueError, match=r"input bytes 64 > 63 in a frame's payload"):
        _compile(model, "int8", r, depths, max_payload=63)


@pytest.mark.parametrize("name, pe", [("mlp-iris", "e4m3:e4m3:rounded"),
                                      ("mlp-iris", "e5m2:e5m2:fused"),
                                      ("mlp-iris", "bf16:bf16:rounded"),
                                      ("mlp-digits", "e4m3:e4m3:rounded")])
def test_float_chain_equals_the_float_emulation(name, pe):
    """A float array's chain (golden MAC steps in the array's order, one rounded bias add,
    ReLU on encodings) against the explorer's float emulation, which is separate code."""
    from hwgen.explore.chain import FloatChainedNetwork, compile_network
    model = builtin_model(name)
    net = compile_network(model, pe, 4, 4, depths=dict(weights=2048, acts=2048, results=1024),
                          bias_depth=64, max_layers=16, max_payload=512)
    assert isinstance(net, FloatChainedNetwork)
    assert all(r.shift == 0 for r in net.records)
    x = model.x_test[:16]          # the golden chain is one golden MAC step at a time
    assert np.array_equal(net.golden_infer(x), net.emulate(x), equal_nan=True)

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
from hwgen.host_link.network import DEFAULT_BIAS_DEPTH

MLPS = ["mlp-digits-small", "mlp-digits", "mlp-iris", "mlp-wine", "mlp-cancer"]
ARRAYS = [("int8", 4), ("int8", 8), ("int6", 4)]
BOARDS = ["ulx3s-85f", "icebreaker"]
BIAS_DEPTH = DEFAULT_BIAS_DEPTH
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
    rng = np.random.default_rng(0)
    conv = dict(kind="conv2d", W=rng.normal(size=(2, 1, 3, 3)), b=np.zeros(2))
    dense = dict(kind="dense", W=rng.normal(size=(3, 8)), b=np.zeros(3))
    xc = rng.normal(size=(8, 1, 4, 4))
    yc = np.zeros(8, dtype=int)
    avg = Model("avg", [conv, dict(kind="avgpool", kernel=(1, 1)), dict(kind="flatten"),
                        dense], (1, 4, 4), xc, yc)
    with pytest.raises(ValueError) as e:
        _compile(avg, "int8", 4, depths)
    assert re.fullmatch(r"Layer 1 \(avgpool\) does not chain on chip: the chained path takes "
                        r"dense and conv2d layers, each hidden one optionally followed by relu "
                        r"\(a conv2d also by maxpool\), flatten anywhere, and a dense layer "
                        r"last", _one_line(e))
    conv_last = Model("conv-last", [conv, dict(kind="flatten")], (1, 4, 4), xc, yc)
    with pytest.raises(ValueError, match=r"^Layer 0 \(conv2d, the last MAC layer: the scores "
                                         r"are a dense layer's accumulators\) does not chain"):
        _compile(conv_last, "int8", 4, depths)
    pool = dict(kind="maxpool", kernel=(1, 1))
    two_pools = Model("two-pools", [conv, pool, pool, dict(kind="flatten"), dense],
                      (1, 4, 4), xc, yc)
    with pytest.raises(ValueError, match=r"^Layer 2 \(maxpool\) does not chain"):
        _compile(two_pools, "int8", 4, depths)
    pool_first = Model("pool-first", [pool, conv, dict(kind="flatten"), dense], (1, 4, 4),
                       xc, yc)
    with pytest.raises(ValueError, match=r"^Layer 0 \(maxpool\) does not chain"):
        _compile(pool_first, "int8", 4, depths)
    with pytest.raises(ValueError, match=r"^Layer 0 \(conv2d\) does not chain on chip on a "
                                         r"float array \(e4m3:e4m3:rounded\): convolutions "
                                         r"chain on intN arrays only$"):
        _compile(_model("cnn-digits"), "e4m3:e4m3:rounded", 4, depths)
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


# -- convolutions: gather layers ------------------------------------------------------------------

CNN_BIAS_DEPTH = 1024
CNN_DEPTHS = dict(weights=2048, acts=2048, results=1024)


def _cnn_info(spec, r, depths=CNN_DEPTHS):
    bits = P.buffer_word_bits(spec)
    return P.DeviceInfo(version=2, rows=r, cols=r, dataflow="ws", pe=spec.pe.spec,
                        word_bytes=P.word_bytes(bits), depths=depths,
                        max_payload=DEFAULT_MAX_PAYLOAD, clk_hz=12_000_000, divisor=12,
                        timeout_cycles=600_000, bias_depth=CNN_BIAS_DEPTH,
                        max_layers=MAX_LAYERS)


def _compile_cnn(model, pe, r, depths=CNN_DEPTHS):
    return _compile(model, pe, r, depths, bias_depth=CNN_BIAS_DEPTH)


def _random_model(name, in_shape, layers, n=96, seed=5):
    """A model in the explorer's format with random weights (He-like scale) and random
    inputs (calibration = test inputs)."""
    rng = np.random.default_rng(seed)
    for layer in layers:
        if layer["kind"] in ("dense", "conv2d"):
            shape = layer.pop("shape")
            fan_in = int(np.prod(shape[1:]))
            layer["W"] = rng.normal(size=shape) / np.sqrt(fan_in)
            layer["b"] = rng.normal(size=shape[0]) * 0.1
    x = rng.normal(size=(n,) + in_shape)
    return Model(name, layers, in_shape, x, rng.integers(0, 3, n))


def _two_convs():
    """Zero-padded stride-2 convolution, ReLU, a second padded convolution reading the first
    one's pixel-major output (channels not a multiple of C), a padded overlapping max pool
    whose windows reach past the convolution's output, ReLU after the pool, dense."""
    return _random_model("two-convs", (2, 7, 7), [
        dict(kind="conv2d", shape=(3, 2, 3, 3), stride=(2, 2), pads=(1, 1, 1, 1)),  # 3x4x4
        dict(kind="relu"),
        dict(kind="conv2d", shape=(6, 3, 3, 3), pads=(1, 1, 1, 1)),                # 6x4x4
        dict(kind="maxpool", kernel=(3, 3), stride=(2, 2), pads=(1, 1, 1, 1)),    # 6x2x2
        dict(kind="relu"),
        dict(kind="flatten"),
        dict(kind="dense", shape=(7, 24))])


def _conv_dense_dense():
    """An asymmetric convolution (stride (2, 1), pads on two sides only, no ReLU, no pool)
    flattened into two dense layers."""
    return _random_model("conv-dense-dense", (2, 6, 5), [
        dict(kind="conv2d", shape=(3, 2, 2, 3), stride=(2, 1), pads=(0, 1, 1, 0)),  # 3x3x4
        dict(kind="flatten"),
        dict(kind="dense", shape=(9, 36)),
        dict(kind="relu"),
        dict(kind="dense", shape=(3, 9))], seed=6)


CNNS = {"cnn-digits": lambda: _model("cnn-digits"), "two-convs": _two_convs,
        "conv-dense-dense": _conv_dense_dense}


@pytest.mark.parametrize("r", [2, 3, 4])
@pytest.mark.parametrize("name", sorted(CNNS))
def test_cnn_board_model_equals_emulation(name, r):
    model = CNNS[name]()
    pe = "int6"
    spec = ArraySpec(r, r, pe)
    net = _compile_cnn(model, pe, r)
    convs = [i for i, layer in enumerate(model.layers) if layer["kind"] == "conv2d"]
    assert [rec.gather for rec in net.records] == \
        [layer["kind"] == "conv2d" for layer in model.layers if layer["kind"] in
         ("conv2d", "dense")]
    assert len(convs) == sum(rec.gather for rec in net.records)
    assert P.check_layer_table(net.load_net_payload, _cnn_info(spec, r), spec.acc_bits) == \
        P.ST_OK
    x = model.x_test[:INPUTS]
    expected = fixed_forward(model, 6, x, scales=net.scales)
    got = net.golden_infer(x)
    assert got.shape == expected.shape == (INPUTS, model.n_classes)
    assert np.array_equal(got, expected)
    assert np.array_equal(net.emulate(x), expected)


def test_cnn_digits_records():
    """cnn-digits on 3x3: conv 1->8 3x3 (K = 9: 3 tiles; 8 channels: 3 output tiles), 6x6
    outputs pooled 2x2 into 3x3 pixels (L = 9·4 = 36 result rows, 108 im2col rows), then
    the dense layer over 3·9 = 27 pixel-major rows."""
    net = _compile_cnn(_model("cnn-digits"), "int6", 3)
    g, d = net.records
    assert (g.k_tiles, g.n_tiles, g.g_tiles, g.pixels, g.pool, g.relu) == (22, 3, 3, 9, 4, True)
    assert (g.w_base, g.a_in, g.b_base) == (0, 0, 0)
    assert g.a_out == 3 * 9 + 108                   # the ping-pong region: outputs + im2col
    assert (d.w_base, d.k_tiles, d.n_tiles, d.a_in, d.a_out, d.b_base, d.gather) == \
        (3 * 3 * 3, 27, 4, g.a_out, 0, 3 + 108, False)
    assert len(net.weight_words) == 27 + 4 * 27 * 3
    assert len(net.bias_words) == 3 + 108 + 4


def _signed(v, bits):
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _unwords(words, n, bits):
    return np.array([[_signed(w >> (bits * j), bits) for j in range(n)] for w in words],
                    dtype=np.int64)


@pytest.mark.parametrize("name", ["cnn-digits", "two-convs"])
def test_cnn_layout_against_the_emulation_trace(name):
    """Decoded from the buffer words (not through board_infer): the conv layer's weight
    rows are the emulation's im2col GEMM's B; gathering the input codes as its entries say
    gives the emulation's im2col rows A, visited pooled pixel by pooled pixel; the dense
    layer's rows are the emulation's B permuted to the pixel-major layout."""
    model = CNNS[name]()
    r = 4
    spec = ArraySpec(r, r, "int6")
    net = _compile_cnn(model, "int6", r)
    x = model.x_test[:1]
    trace = []
    fixed_forward(model, 6, x, scales=net.scales, trace=trace)
    rec = net.records[0]
    A, B = np.asarray(trace[0]["A"], dtype=np.int64), np.asarray(trace[0]["B"], dtype=np.int64)
    K, N = B.shape
    T, nt, L = rec.g_tiles, rec.n_tiles, rec.pixels * rec.pool
    assert (T, nt) == (-(-K // r), -(-N // r))
    w = _unwords(net.weight_words[:nt * T * r], r, 6)
    Wk = np.concatenate([np.concatenate([w[(n * T + t) * r:(n * T + t + 1) * r]
                                         for t in range(T)]) for n in range(nt)], axis=1)
    assert np.array_equal(Wk[:K, :N], B) and not Wk[K:].any() and not Wk[:, N:].any()
    ents = _unwords(net.bias_words[rec.b_base + nt:rec.b_base + nt + T * L], r,
                    spec.acc_bits)                                     # (T·L, R)
    codes = np.zeros(rec.k_tiles * r, dtype=np.int64)
    codes[:x[0].size] = net.input_codes(x[0])
    lb = P.gather_lane_bits(r)
    flat = np.where(ents >= 0, (ents >> lb) * r + (ents & ((1 << lb) - 1)), -1)
    cols = np.where(flat >= 0, codes[np.maximum(flat, 0)], 0)          # (T·L, R)
    im2col = cols.reshape(T, L, r).transpose(1, 0, 2).reshape(L, T * r)   # [q, kidx]
    assert not im2col[:, K:].any()
    # result row q of pixel p, window element w: a row of A (the conv's outputs, raster)
    conv_shape = model.output_shapes[0]
    rows = {tuple(row) for row in A}
    for q in range(L):
        assert tuple(im2col[q, :K]) in rows
    if rec.pool == 1:
        assert np.array_equal(im2col[:, :K], A)
    elif name == "cnn-digits":                   # 6x6 pooled 2x2: pixel (py, px), cell (wy, wx)
        Ho, Wo = conv_shape[1:]
        for q in range(L):
            p, wi = divmod(q, rec.pool)
            y, xx = 2 * (p // 3) + wi // 2, 2 * (p % 3) + wi % 2
            assert np.array_equal(im2col[q, :K], A[y * Wo + xx])
    # the dense layer: flatten index c·P + p at pixel-major row p·nt·C + c
    last, dense = net.records[-1], trace[-1]
    Bd = np.asarray(dense["B"], dtype=np.int64)
    mid = net.records[-2]
    assert mid.gather
    P_, ntp = mid.pixels, mid.n_tiles
    Kd, Nd = Bd.shape
    C_out = Kd // P_
    w = _unwords(net.weight_words[last.w_base:last.w_base + last.n_tiles * last.k_tiles * r],
                 r, 6)
    Td = last.k_tiles
    Wd = np.concatenate([np.concatenate([w[(n * Td + t) * r:(n * Td + t + 1) * r]
                                         for t in range(Td)]) for n in range(last.n_tiles)],
                        axis=1)
    expect = np.zeros_like(Wd)
    for c in range(C_out):
        for p in range(P_):
            expect[p * ntp * r + c, :Nd] = Bd[c * P_ + p]
    assert np.array_equal(Wd, expect)


def _mutated_scores(net, x, weight_words=None, bias_words=None):
    inputs = [net.input_words(row) for row in x]
    words = board_infer(net.array, net.records, weight_words or net.weight_words,
                        bias_words or net.bias_words, inputs)
    return np.array([net.scores(w) for w in words])


@pytest.mark.parametrize("mutation", ["one entry", "lanes swapped", "unpermuted dense",
                                      "pool window"])
def test_a_wrong_gather_layout_disagrees_with_the_emulation(mutation):
    """The comparison can fail: one gather entry naming another element, the im2col K
    order off (two lanes of every entry row swapped), the dense layer's rows left in C-H-W
    flatten order (not permuted to pixel-major), or the pooling window wrong: the board
    model's scores leave the emulation's."""
    model = CNNS["two-convs"]() if mutation == "one entry" else _model("cnn-digits")
    r = 3
    spec = ArraySpec(r, r, "int6")
    net = _compile_cnn(model, "int6", r)
    x = model.x_test[:INPUTS]
    expected = fixed_forward(model, 6, x, scales=net.scales)
    assert np.array_equal(_mutated_scores(net, x), expected)
    rec = net.records[0]
    nt, S = rec.n_tiles, rec.g_tiles * rec.pixels * rec.pool
    bias = list(net.bias_words)
    entry_rows = range(rec.b_base + nt, rec.b_base + nt + S)
    if mutation == "one entry":
        # im2col row of output position 5 (inside the image), tile 0: lane 0 (kidx 0) names
        # kidx 1's element
        e = spec.unpack_results(bias[entry_rows[5]])[0]
        assert e[0] >= 0 and e[1] >= 0 and e[0] != e[1]
        e[0] = e[1]
        bias[entry_rows[5]] = spec.pack_results(e)
        got = _mutated_scores(net, x, bias_words=bias)
    elif mutation == "lanes swapped":
        for i in entry_rows:
            e = spec.unpack_results(bias[i])[0]
            e[0], e[1] = e[1], e[0]
            bias[i] = spec.pack_results(e)
        got = _mutated_scores(net, x, bias_words=bias)
    elif mutation == "unpermuted dense":
        last = net.records[-1]
        T = last.k_tiles
        rows = _unwords(net.weight_words[last.w_base:], r, 6)
        W = np.concatenate([np.concatenate([rows[(n * T + t) * r:(n * T + t + 1) * r]
                                            for t in range(T)]) for n in range(last.n_tiles)],
                           axis=1)                                    # (T·R, nt·C)
        P_, C_out = rec.pixels, model.layers[0]["W"].shape[0]
        naive = np.zeros_like(W)
        for c in range(C_out):
            for p in range(P_):
                naive[c * P_ + p] = W[p * nt * r + c]              # flatten order c·P + p
        words = list(net.weight_words[:last.w_base])
        for n in range(last.n_tiles):
            for t in range(T):
                words += [spec.pack_weights([int(v) for v in row])
                          for row in naive[t * r:(t + 1) * r, n * r:(n + 1) * r]]
        got = _mutated_scores(net, x, weight_words=words)
    else:
        # the same rows pooled 2 by 2 instead of 4 by 4 (twice the pixels)
        bad = dataclasses.replace(rec, pixels=rec.pixels * 2, pool=rec.pool // 2)
        recs = [bad, dataclasses.replace(net.records[1], k_tiles=bad.n_tiles * bad.pixels)]
        words = board_infer(net.array, recs, net.weight_words, net.bias_words,
                            [net.input_words(row) for row in x])
        got = np.array([net.scores(w) for w in words])
    assert not np.array_equal(got, expected)


def test_cnn_too_big():
    model = _model("cnn-digits")
    r = 3
    base = dict(CNN_DEPTHS)
    # activations: region 135 (27 outputs + 108 im2col rows), the gather layer writes there
    with pytest.raises(ValueError, match=r"activation rows 270 > 269 in the activation "
                                         r"buffer"):
        _compile_cnn(model, "int6", r, dict(base, acts=269))
    _compile_cnn(model, "int6", r, dict(base, acts=270))
    # biases: 3 + 108 entry rows + 4
    with pytest.raises(ValueError, match=r"bias rows 115 > 114 in the bias buffer"):
        _compile(model, "int6", r, CNN_DEPTHS, bias_depth=114)
    # the 36 result rows of one output tile (9 pixels x 4 window cells)
    with pytest.raises(ValueError, match=r"convolution result rows 36 > 35 in the result "
                                         r"buffer"):
        _compile_cnn(model, "int6", r, dict(base, results=35))
    _compile_cnn(model, "int6", r, dict(base, results=36))

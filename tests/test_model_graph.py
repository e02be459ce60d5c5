"""Model format version 2 (graphs: strided/padded conv, pools, residual add, pre steps) and
what each number format does on the new layers, against independent references (explicit
loops, golden ops one element at a time, fractions.Fraction)."""

import math
from fractions import Fraction

import numpy as np
import pytest

from hwgen.explore.emulate import (exact_forward, fixed_forward, float_forward, forward,
                                   tensor_ranges)
from hwgen.explore.models import Model, load_model, save_model
from hwgen.explore.rtl import golden_check, layer_trace, rtl_pe
from hwgen.explore.search import Explorer, parse_space
from hwgen.formats import parse_format
from hwgen.golden import add, decode, encode, mul


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HWGEN_BUILD_DIR", str(tmp_path / "cache"))


def _graph_model(seed=2, n=12):
    rng = np.random.default_rng(seed)
    r = rng.standard_normal
    layers = [dict(kind="conv2d", W=r((3, 2, 3, 3)), b=r(3), stride=(2, 2), pads=(1, 1, 1, 1)),
              dict(kind="relu"),
              dict(kind="conv2d", W=r((3, 3, 3, 3)) * .5, b=r(3), pads=(1, 1, 1, 1)),
              dict(kind="add", inputs=[2, 1]),
              dict(kind="maxpool", kernel=(2, 2), stride=(1, 1), pads=(0, 0, 1, 1)),
              dict(kind="avgpool", kernel=(2, 2), stride=(2, 2), pads=(0, 0, 1, 1)),
              dict(kind="globalavgpool"),
              dict(kind="reshape", shape=(3,)),
              dict(kind="dense", W=r((4, 3)), b=r(4))]
    x = r((n, 2, 7, 7))
    m = Model("graph", layers, (2, 7, 7), x, np.zeros(n, dtype=np.int64), x[:6],
              pre=[("sub", np.array([0.5, -0.5]).reshape(2, 1, 1)), ("div", np.array(2.0))])
    m.y_test = np.argmax(exact_forward(m), axis=1)
    return m


# -- files ------------------------------------------------------------------------------------

def test_chain_models_are_written_as_version_1(tmp_path):
    rng = np.random.default_rng(0)
    m = Model("c", [dict(kind="conv2d", W=rng.standard_normal((2, 1, 2, 2)), b=np.zeros(2)),
                    dict(kind="maxpool", kernel=(2, 2), stride=(2, 2)), dict(kind="flatten"),
                    dict(kind="dense", W=rng.standard_normal((3, 8)), b=np.zeros(3))],
              (1, 5, 5), rng.standard_normal((4, 1, 5, 5)), np.arange(4) % 3)
    save_model(m, tmp_path / "c.npz")
    with np.load(tmp_path / "c.npz") as z:
        assert int(z["format_version"]) == 1 and int(z["layer1_size"]) == 2
        assert "layer1_kernel" not in z.files
    assert load_model(tmp_path / "c.npz").summary() == "1x5x5-conv2x2:2-pool2-3"


def test_graph_model_round_trip(tmp_path):
    m = _graph_model()
    save_model(m, tmp_path / "g.npz")
    with np.load(tmp_path / "g.npz") as z:
        assert int(z["format_version"]) == 2
        assert list(z["layer3_inputs"]) == [2, 1] and "layer2_inputs" not in z.files
        assert list(z["layer0_stride"]) == [2, 2] and int(z["n_pre"]) == 2
    back = load_model(tmp_path / "g.npz")
    for a, b in zip(m.layers, back.layers):
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    assert [op for op, _ in back.pre] == ["sub", "div"]
    np.testing.assert_array_equal(back.prepare(np.ones((1, 2, 7, 7)))[0, :, 0, 0], [0.25, 0.75])
    for c in (None, "fx8", "e4m3"):
        np.testing.assert_array_equal(forward(back, c), forward(m, c))
    assert back.summary() == "2x7x7-conv3x3s2p:3-conv3x3p:3-add-maxpool2s1-avgpool2s2-gap-4"


def _v1_arrays():
    rng = np.random.default_rng(1)
    return dict(format_version=np.array(1), name=np.array("t"), input_shape=np.array([3]),
                n_layers=np.array(2), layer0_kind=np.array("dense"),
                layer0_W=rng.standard_normal((4, 3)), layer0_b=np.zeros(4),
                layer1_kind=np.array("relu"), x_test=rng.standard_normal((5, 3)),
                y_test=np.arange(5) % 4)


@pytest.mark.parametrize("change, message", [
    (dict(layer0_stride=np.array([2, 2])), "'layer0_stride' needs format_version 2"),
    (dict(n_pre=np.array(0)), "'n_pre' needs format_version 2"),
    (dict(layer1_kind=np.array("add")), r"'layer1_kind' must be one of dense, conv2d, relu, "
                                        r"maxpool, flatten \(format_version 1\), not 'add'"),
    (dict(format_version=np.array(2), layer1_kind=np.array("add")),
     r"'layer1_inputs' is missing \(add layer 1"),
    (dict(format_version=np.array(2), layer1_kind=np.array("add"),
          layer1_inputs=np.array([0, 1])), "'layer1_inputs' must be 2 indexes of earlier"),
    (dict(format_version=np.array(2), layer1_kind=np.array("add"),
          layer1_inputs=np.array([0, -1])), r"must name two tensors of the same shape, not "
                                            r"\(4,\) and \(3,\)"),
    (dict(format_version=np.array(2), layer1_inputs=np.array([-1])),
     "layer 0's output is read by no later layer"),
    (dict(format_version=np.array(2), n_pre=np.array(1), pre0_op=np.array("pow"),
          pre0_value=np.array(2.0)), "'pre0_op' must be one of add, sub, mul, div"),
    (dict(format_version=np.array(2), n_pre=np.array(1), pre0_op=np.array("div"),
          pre0_value=np.zeros(3)), "'pre0_value' holds a NaN, an infinity or"),
    (dict(format_version=np.array(2), n_pre=np.array(1), pre0_op=np.array("sub"),
          pre0_value=np.zeros(4)), r"'pre0_value' must broadcast to the input shape \(3,\)"),
])
def test_malformed_version_2_files(tmp_path, change, message):
    arrays = _v1_arrays()
    arrays.update(change)
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        load_model(tmp_path / "bad.npz")


@pytest.mark.parametrize("layer, message", [
    (dict(kind="avgpool", kernel=(2, 2), pads=(2, 0, 0, 0)), "'layer0_pads' must be below"),
    (dict(kind="maxpool", size=2, stride=(1, 1)), "'layer0_size' is given with a different"),
    (dict(kind="conv2d", W=np.ones((1, 2, 9, 3)), b=np.zeros(1), pads=(1, 0, 1, 0)),
     "'layer0_W' 9x3 does not fit the padded conv2d input"),
    (dict(kind="reshape", shape=(5, 5)), "'layer0_shape' must be"),
    (dict(kind="conv2d", W=np.ones((1, 2, 3, 3)), b=np.zeros(1), stride=(0, 1)),
     "'layer0_stride' must be positive"),
])
def test_layer_errors(layer, message):
    with pytest.raises(ValueError, match=message):
        Model("e", [layer, dict(kind="flatten")], (2, 6, 6))


# -- float64 reference ------------------------------------------------------------------------

def test_exact_strided_padded_conv_against_loops():
    rng = np.random.default_rng(3)
    w, b = rng.standard_normal((2, 3, 3, 2)), rng.standard_normal(2)
    x = rng.standard_normal((2, 3, 6, 5))
    stride, pads = (2, 1), (1, 0, 2, 1)       # top, left, bottom, right
    m = Model("c", [dict(kind="conv2d", W=w, b=b, stride=stride, pads=pads),
                    dict(kind="flatten")], (3, 6, 5), x, np.zeros(2, dtype=np.int64))
    xp = np.zeros((2, 3, 6 + 3, 5 + 1))
    xp[:, :, 1:7, 0:5] = x
    ho, wo = (6 + 3 - 3) // 2 + 1, (5 + 1 - 2) // 1 + 1
    ref = np.zeros((2, 2, ho, wo))
    for o in range(2):
        for i in range(ho):
            for j in range(wo):
                patch = xp[:, :, 2 * i:2 * i + 3, j:j + 2]
                ref[:, o, i, j] = (patch * w[o]).sum(axis=(1, 2, 3)) + b[o]
    np.testing.assert_allclose(exact_forward(m), ref.reshape(2, -1), rtol=1e-12, atol=1e-12)


# -- custom floats ----------------------------------------------------------------------------

def test_float_padded_conv_is_golden_mac_per_element():
    """The traced dot products of a strided, padded conv in e4m3: one golden mul + add per
    tap, padded taps multiplying +0, in (C, kh, kw) order from +0."""
    m = _graph_model()
    f = parse_format("e4m3")
    trace = []
    float_forward(m, f, m.x_test[:2], trace=trace)
    xe = encode(f, m.x_test[:2])
    we = encode(f, m.layers[0]["W"])
    zero = np.uint64(0)
    ref = np.zeros((2, 4, 4, 3), dtype=np.uint64)
    for i in range(4):
        for j in range(4):
            for o in range(3):
                acc = np.zeros(2, dtype=np.uint64)
                for c in range(2):
                    for di in range(3):
                        for dj in range(3):
                            r, s = 2 * i + di - 1, 2 * j + dj - 1
                            a = xe[:, c, r, s] if 0 <= r < 7 and 0 <= s < 7 else \
                                np.full(2, zero)
                            p, _ = mul(f, a, we[o, c, di, dj])
                            acc, _ = add(f, acc, p)
                ref[:, i, j, o] = acc
    assert trace[0]["layer"] == 0
    np.testing.assert_array_equal(trace[0]["acc"], ref.reshape(-1, 3))


def _pool_model(layer, x):
    return Model("p", [layer, dict(kind="flatten")], x.shape[1:], x,
                 np.zeros(len(x), dtype=np.int64))


@pytest.mark.parametrize("fmt, accumulate", [("e4m3", "rounded"), ("e3m2_none", "rounded"),
                                             ("e4m3", "fused"), ("fp32", "rounded")])
def test_float_avgpool_is_a_dot_with_the_rounded_reciprocal(fmt, accumulate):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 1, 5, 4)) * 3
    layer = dict(kind="avgpool", kernel=(3, 3), stride=(2, 2), pads=(1, 1, 1, 1))
    f = parse_format(fmt)
    got = float_forward(_pool_model(layer, x), f, accumulate=accumulate)
    xe = encode(f, x)
    ref = np.zeros((3, 1, 3, 2), dtype=np.uint64)
    for i in range(3):
        for j in range(2):
            cells = [(2 * i + di - 1, 2 * j + dj - 1) for di in range(3) for dj in range(3)]
            n = sum(0 <= r < 5 and 0 <= s < 4 for r, s in cells)   # count_include_pad=0
            inv = encode(f, np.array(1.0 / n))
            acc = np.zeros(3, dtype=np.uint64)
            for r, s in cells:
                a = xe[:, 0, r, s] if 0 <= r < 5 and 0 <= s < 4 else np.zeros(3, np.uint64)
                if accumulate == "rounded":
                    p, _ = mul(f, a, inv)
                    acc, _ = add(f, acc, p)
                else:
                    from hwgen.golden import fma
                    acc, _ = fma(f, a, np.full(3, inv), acc)
            ref[:, 0, i, j] = acc
    np.testing.assert_array_equal(got, decode(f, ref).reshape(3, -1))


def test_float_residual_add_is_one_rounded_add():
    rng = np.random.default_rng(5)
    w, b, x = rng.standard_normal((3, 3)), rng.standard_normal(3), rng.standard_normal((4, 3))
    m = Model("r", [dict(kind="dense", W=w, b=b), dict(kind="add", inputs=[0, -1])], (3,), x,
              np.zeros(4, dtype=np.int64))
    f = parse_format("e3m3_none")
    trace = []
    got = float_forward(m, f, trace=trace)
    y, _ = add(f, trace[0]["acc"], encode(f, b))
    ref, _ = add(f, y, encode(f, x))
    np.testing.assert_array_equal(got, decode(f, ref))


# -- fixed point ------------------------------------------------------------------------------

def _frac(maxabs, bits):
    return bits - 1 - (math.floor(math.log2(maxabs)) + 1)


def _q(v, frac, bits):
    lim = 1 << (bits - 1)
    return min(max(round(Fraction(v) * 2 ** frac), -lim), lim - 1)   # round(): ties to even


@pytest.mark.parametrize("cip", [0, 1])
def test_fixed_avgpool_rounds_the_exact_mean_half_even(cip):
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 2, 4, 5))
    layer = dict(kind="avgpool", kernel=(2, 3), stride=(1, 2), pads=(1, 1, 0, 1),
                 count_include_pad=cip)
    bits = 6
    got = fixed_forward(_pool_model(layer, x), bits)
    frac = _frac(np.max(np.abs(x)), bits)
    ref = np.zeros((4, 2, 4, 3))
    for n in range(4):
        for c in range(2):
            for i in range(4):
                for j in range(3):
                    cells = [(i + di - 1, 2 * j + dj - 1) for di in range(2) for dj in range(3)]
                    inside = [(r, s) for r, s in cells if 0 <= r < 4 and 0 <= s < 5]
                    total = sum(_q(x[n, c, r, s], frac, bits) for r, s in inside)
                    mean = round(Fraction(total, len(cells) if cip else len(inside)))
                    ref[n, c, i, j] = mean / 2 ** frac
    np.testing.assert_array_equal(got, ref.reshape(4, -1))


def test_fixed_residual_add_requantizes_once():
    """input -> dense -> add(dense, input): the dense output is stored at the scale of the
    add's input range, the input at its own; the add is exact (it is the model's output)."""
    rng = np.random.default_rng(8)
    w, b, x = rng.standard_normal((3, 3)), rng.standard_normal(3) * .1, rng.standard_normal((6, 3))
    m = Model("r", [dict(kind="dense", W=w, b=b), dict(kind="add", inputs=[0, -1])], (3,), x,
              np.zeros(6, dtype=np.int64))
    bits = 7
    got = fixed_forward(m, bits)
    f_in = _frac(np.max(np.abs(x)), bits)
    f_w = _frac(np.max(np.abs(w)), bits)
    f_d = _frac(np.max(np.abs(x @ w.T + b)), bits)
    for n in range(6):
        xq = [_q(v, f_in, bits) for v in x[n]]
        for o in range(3):
            acc = sum(xq[k] * _q(w[o, k], f_w, bits) for k in range(3)) + \
                round(Fraction(b[o]) * 2 ** (f_in + f_w))
            d = _q(Fraction(acc, 2 ** (f_in + f_w)), f_d, bits)   # one rounding, saturated
            expect = Fraction(d, 2 ** f_d) + Fraction(xq[o], 2 ** f_in)
            assert got[n, o] == float(expect)


def test_scales_must_be_tensor_ranges():
    m = _graph_model()
    assert tensor_ranges(m).shape == (len(m.layers) + 1,)
    with pytest.raises(ValueError, match="scales must be tensor_ranges"):
        fixed_forward(m, 8, scales=[1.0, 2.0])


# -- the array and the explorer on a graph model ---------------------------------------------

@pytest.mark.parametrize("cand", ["fx8", "e4m3", "bs6x8@4"])
def test_graph_layers_equal_array_golden(cand):
    """Each traced GEMM of the graph model (strided, padded convs as im2col rows) is what the
    systolic array's golden model computes."""
    m = _graph_model()
    _, trace = layer_trace(m, cand, 2)
    assert len(trace) == 3
    bits = 4 if cand.startswith("bs") else None
    for r in golden_check(trace, rtl_pe(cand), "ws", 4, 4, bits):
        assert r["mismatches"] == 0, r


def test_explorer_on_a_graph_model():
    m = _graph_model(n=30)
    ex = Explorer(m, parse_space("fx4,fx12,e5m10_none"), 0.05)
    res = ex.exhaustive()
    assert ex.results["fx12"]["accuracy"] >= ex.results["fx4"]["accuracy"]
    assert res["chosen"] in ("fx4", "fx12", "e5m10_none")

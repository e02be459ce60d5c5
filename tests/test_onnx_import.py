"""ONNX import and export, checked against onnxruntime (an independent fp32 implementation).

The importer's output is run by hwgen's fp32 emulation (every product and sum rounded to fp32,
:func:`hwgen.explore.emulate.float_forward`) and compared with onnxruntime running the file
itself: the largest difference over all scores, relative to the largest score magnitude, must
be at most 1e-5 (fp32 rounding of sums of at most a few hundred terms is ~1e-7 of that). The
hand-built graphs use every supported operator, including strided and padded convolutions,
folded batch norms and a residual Add.
"""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from hwgen.explore.emulate import exact_forward, float_forward, forward, tensor_ranges
from hwgen.explore.models import (BUILTIN, Model, builtin_data, builtin_model, export_model,
                                  load_data, load_model, save_data, save_model)
from hwgen.explore.onnx_io import import_onnx

REL_TOL = 1e-5


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One build folder for the module: the built-in models train once."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HWGEN_BUILD_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


def _ort(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return sess.run(None, {name: np.asarray(x, dtype=np.float32)})[0].astype(np.float64)


def _rel_err(got, ref):
    return float(np.max(np.abs(got - ref)) / np.max(np.abs(ref)))


def _softmax(z, log=False):
    z = z - z.max(axis=1, keepdims=True)
    if log:
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


# -- hand-built graphs ------------------------------------------------------------------------

def _init(name, a, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(a, dtype=dtype), name)


def _save(tmp_path, name, nodes, inits, in_shape, out_shape, opset=13, in_name="x"):
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    path = tmp_path / f"{name}.onnx"
    onnx.save(m, str(path))
    return path


def _convnet(tmp_path, rng):
    """Every spatial operator: input normalization (Sub, Div), Conv stride 2 / pads 1,
    BatchNormalization (folded), Relu, overlapping padded MaxPool, a Conv without bias and
    SAME_UPPER padding plus a bias Add, a residual Add, AveragePool with asymmetric pads,
    GlobalAveragePool, Flatten, Gemm (transB=0, alpha, beta), Dropout, Identity, Softmax."""
    r = lambda *s: rng.standard_normal(s).astype(np.float32)   # noqa: E731
    inits = [_init("mu", r(1, 2, 1, 1)), _init("sd", np.abs(r(1, 2, 1, 1)) + 0.5),
             _init("w1", r(4, 2, 3, 3) * 0.5), _init("b1", r(4) * 0.1),
             _init("g", np.abs(r(4)) + 0.5), _init("beta", r(4) * 0.1), _init("mean", r(4) * .1),
             _init("var", np.abs(r(4)) + 0.5),
             _init("w2", r(4, 4, 3, 3) * 0.3), _init("b2", r(1, 4, 1, 1) * 0.1),
             _init("w3", r(4, 3)), _init("b3", r(3) * 0.1)]
    n = helper.make_node
    nodes = [n("Sub", ["x", "mu"], ["x1"], name="norm_sub"),
             n("Div", ["x1", "sd"], ["x2"], name="norm_div"),
             n("Conv", ["x2", "w1", "b1"], ["c1"], name="conv1", strides=[2, 2],
               pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
             n("BatchNormalization", ["c1", "g", "beta", "mean", "var"], ["bn"], name="bn1",
               epsilon=1e-3),
             n("Relu", ["bn"], ["r1"], name="relu1"),
             n("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[3, 3], strides=[1, 1],
               pads=[1, 1, 1, 1]),
             n("Conv", ["p1", "w2"], ["c2"], name="conv2", auto_pad="SAME_UPPER"),
             n("Add", ["c2", "b2"], ["c2b"], name="bias2"),
             n("Add", ["c2b", "r1"], ["res"], name="residual"),
             n("Relu", ["res"], ["r2"], name="relu2"),
             n("AveragePool", ["r2"], ["a1"], name="avg", kernel_shape=[2, 2], strides=[2, 2],
               pads=[0, 0, 1, 1]),
             n("GlobalAveragePool", ["a1"], ["gap"], name="gap"),
             n("Flatten", ["gap"], ["f"], name="flat"),
             n("Gemm", ["f", "w3", "b3"], ["z"], name="fc", alpha=0.7, beta=1.5),
             n("Dropout", ["z"], ["d"], name="drop"),
             n("Identity", ["d"], ["i"], name="ident"),
             n("Softmax", ["i"], ["y"], name="softmax", axis=-1)]
    return _save(tmp_path, "convnet", nodes, inits, ["N", 2, 9, 9], ["N", 3]), (2, 9, 9), \
        "softmax"


def _mlp(tmp_path, rng):
    """BatchNormalization of the input, Reshape [0, -1], MatMul + bias Add + per-output Mul
    (folded), Relu, MatMul, Sub of a bias, LogSoftmax."""
    r = lambda *s: rng.standard_normal(s).astype(np.float32)   # noqa: E731
    inits = [_init("g", np.abs(r(3)) + .5), _init("beta", r(3)), _init("mean", r(3)),
             _init("var", np.abs(r(3)) + .5), _init("shape", [0, -1], np.int64),
             _init("w1", r(24, 10) * 0.3), _init("b1", r(10)), _init("s1", r(10)),
             _init("w2", r(10, 4)), _init("b2", r(4))]
    n = helper.make_node
    nodes = [n("BatchNormalization", ["x", "g", "beta", "mean", "var"], ["xn"], name="in_bn"),
             n("Reshape", ["xn", "shape"], ["v"], name="flat"),
             n("MatMul", ["v", "w1"], ["h"], name="mm1"),
             n("Add", ["b1", "h"], ["hb"], name="bias1"),
             n("Mul", ["hb", "s1"], ["hs"], name="scale1"),
             n("Relu", ["hs"], ["hr"], name="relu"),
             n("MatMul", ["hr", "w2"], ["z"], name="mm2"),
             n("Sub", ["z", "b2"], ["zb"], name="bias2"),
             n("LogSoftmax", ["zb"], ["y"], name="logsoftmax", axis=1)]
    return _save(tmp_path, "mlp", nodes, inits, ["N", 3, 2, 4], ["N", 4]), (3, 2, 4), \
        "logsoftmax"


def _reshape_net(tmp_path, rng):
    """A vector input reshaped to an image, Conv (valid), AveragePool counting pads,
    GlobalMaxPool, Reshape [-1, 5], Gemm transB=1, an input Mul."""
    r = lambda *s: rng.standard_normal(s).astype(np.float32)   # noqa: E731
    inits = [_init("k", [0.25]), _init("s", [-1, 3, 4, 4], np.int64),
             _init("w", r(5, 3, 3, 3)), _init("b", r(5)), _init("s2", [-1, 5], np.int64),
             _init("w2", r(6, 5)), _init("b2", r(6))]
    n = helper.make_node
    nodes = [n("Mul", ["x", "k"], ["xs"], name="scale_in"),
             n("Reshape", ["xs", "s"], ["img"], name="to_image"),
             n("Conv", ["img", "w", "b"], ["c"], name="conv"),
             n("AveragePool", ["c"], ["a"], name="avg", kernel_shape=[2, 2], strides=[1, 1],
               pads=[1, 0, 0, 1], count_include_pad=1),
             n("GlobalMaxPool", ["a"], ["g"], name="gmp"),
             n("Reshape", ["g", "s2"], ["v"], name="to_vector"),
             n("Gemm", ["v", "w2", "b2"], ["y"], name="fc", transB=1)]
    return _save(tmp_path, "reshape_net", nodes, inits, ["batch", 48], ["batch", 6]), (48,), \
        None


@pytest.mark.parametrize("build", [_convnet, _mlp, _reshape_net])
def test_hand_built_graph_matches_onnxruntime(tmp_path, build):
    rng = np.random.default_rng(7)
    path, shape, tail = build(tmp_path, rng)
    x = rng.standard_normal((16,) + shape).astype(np.float32) * 2
    ref = _ort(path, x)
    model = load_model(path, dict(x_test=x, y_test=np.zeros(16, dtype=np.int64)))
    # One MAC layer per Conv/Gemm/MatMul node: bias, scale and batch-norm nodes folded.
    macs = sum(node.op_type in ("Conv", "Gemm", "MatMul") for node in onnx.load(path).graph.node)
    assert len(model.mac_layers) == macs
    got = float_forward(model, "fp32")
    if tail:
        got = _softmax(got, log=tail == "logsoftmax")
        assert tail in model.description.lower()
    assert _rel_err(got, ref) <= REL_TOL
    # float64 too (the reference network the explorer measures accuracy against)
    ex = exact_forward(model)
    assert _rel_err(_softmax(ex, tail == "logsoftmax") if tail else ex, ref) <= REL_TOL


def test_convnet_structure(tmp_path):
    path, _, _ = _convnet(tmp_path, np.random.default_rng(7))
    m = import_onnx(path)
    assert not m.has_data
    assert [layer["kind"] for layer in m.layers] == [
        "conv2d", "relu", "maxpool", "conv2d", "add", "relu", "avgpool", "globalavgpool",
        "flatten", "dense"]
    assert m.layers[4]["inputs"] == [3, 1]              # conv2 + relu1: the residual
    assert m.layers[0]["stride"] == (2, 2) and m.layers[0]["pads"] == (1, 1, 1, 1)
    assert m.layers[3]["pads"] == (1, 1, 1, 1)         # SAME_UPPER on 5x5, kernel 3
    assert [op for op, _ in m.pre] == ["sub", "div"]
    assert m.output_shapes[0] == (4, 5, 5) and m.output_shapes[6] == (4, 3, 3)
    with pytest.raises(ValueError, match="has no test data"):
        float_forward(m, "fp32")


# -- the built-in models ----------------------------------------------------------------------

@pytest.mark.parametrize("name", list(BUILTIN))
def test_builtin_export_matches_onnxruntime(tmp_path, cache, name):
    onnx_path, data_path = tmp_path / "m.onnx", tmp_path / "d.npz"
    export_model(name, onnx_path, data=data_path)
    m = onnx.load(str(onnx_path))
    assert m.opset_import[0].version == 13
    assert m.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"   # dynamic batch
    data = load_data(data_path)
    model = load_model(onnx_path, data_path)
    b = builtin_model(name)
    assert model.summary() == b.summary() and model.n_classes == b.n_classes
    np.testing.assert_array_equal(data["y_test"], b.y_test)
    # The graph takes the raw data: its normalization is in the graph.
    np.testing.assert_allclose(model.x_test, b.x_test, rtol=1e-6, atol=1e-6)
    x = data["x_test"][:48]
    ref = _ort(onnx_path, x)
    assert _rel_err(float_forward(model, "fp32", model.x_test[:48]), ref) <= REL_TOL
    assert _rel_err(exact_forward(b, b.x_test[:48]), ref) <= REL_TOL


def test_builtin_data_is_raw(cache):
    for name in ("mlp-digits-small", "cnn-digits", "mlp-iris"):
        b, d = builtin_model(name), builtin_data(name)
        np.testing.assert_array_equal(b.prepare(d["x_test"]), b.x_test)
        np.testing.assert_array_equal(b.prepare(d["x_calib"]), b.x_calib)
    assert builtin_data("mlp-digits")["x_test"].max() == 16      # pixel counts


def _float32_weights(model):
    layers = [dict(layer) for layer in model.layers]
    for layer in layers:
        for k in ("W", "b"):
            if k in layer:
                layer[k] = layer[k].astype(np.float32).astype(np.float64)
    return Model(model.name, layers, model.input_shape, model.x_test, model.y_test,
                 model.x_calib, model.description, pre=model.pre)


def _residual_model(rng):
    """A DAG of every layer kind, float32 weights: strided padded conv, residual add,
    avgpool with pads, global average pool."""
    r = lambda *s: rng.standard_normal(s).astype(np.float32).astype(np.float64)  # noqa: E731
    layers = [dict(kind="conv2d", W=r(4, 2, 3, 3), b=r(4), stride=(2, 2), pads=(1, 1, 1, 1)),
              dict(kind="relu"),
              dict(kind="conv2d", W=r(4, 4, 3, 3) * .5, b=r(4), pads=(1, 1, 1, 1)),
              dict(kind="add", inputs=[2, 1]),
              dict(kind="relu"),
              dict(kind="maxpool", kernel=(2, 2), stride=(1, 1)),
              dict(kind="avgpool", kernel=(2, 2), stride=(2, 2), pads=(0, 0, 1, 1)),
              dict(kind="globalavgpool"),
              dict(kind="reshape", shape=(4,)),
              dict(kind="dense", W=r(3, 4), b=r(3))]
    x = rng.standard_normal((24, 2, 10, 10))
    m = Model("residual", layers, (2, 10, 10), x, np.zeros(24, dtype=np.int64), x[:8])
    m.y_test = np.argmax(exact_forward(m), axis=1)
    return m


CANDIDATES = [(None, "rounded"), ("fx8", "rounded"), ("fx5", "rounded"), ("bs6x8@4", "rounded"),
              ("e4m3", "rounded"), ("e4m3", "fused"), ("e4m3", "exact"), ("bf16", "rounded"),
              ("e3m2_none", "rounded")]


@pytest.mark.parametrize("source", ["cnn-digits", "mlp-digits-small", "residual"])
def test_imported_model_emulates_like_the_npz_model(tmp_path, cache, source):
    """The same weights through the .npz path and through ONNX export + import give the same
    scores, bit for bit, in every kind of arithmetic (fixed point, bit-serial, floats
    rounded/fused/exact, float64)."""
    if source == "residual":
        ref = _residual_model(np.random.default_rng(2))
        data = dict(x_test=ref.x_test, y_test=ref.y_test, x_calib=ref.x_calib)
    else:
        ref = _float32_weights(builtin_model(source))   # ONNX stores float32 weights
        data = builtin_data(source)
    save_model(ref, tmp_path / "m.npz")
    from_npz = load_model(tmp_path / "m.npz")
    export_model(ref, tmp_path / "m.onnx")
    save_data(tmp_path / "d.npz", **data)
    from_onnx = load_model(tmp_path / "m.onnx", tmp_path / "d.npz")
    np.testing.assert_array_equal(from_onnx.x_test, from_npz.x_test)
    np.testing.assert_array_equal(tensor_ranges(from_onnx), tensor_ranges(from_npz))
    x = from_npz.x_test[:16]
    for cand, acc in CANDIDATES:
        a = forward(from_npz, cand, x, accumulate=acc)
        b = forward(from_onnx, cand, x, accumulate=acc)
        np.testing.assert_array_equal(a, b, err_msg=f"{cand} {acc}")


def test_export_refuses_bad_outputs(tmp_path, cache):
    with pytest.raises(ValueError, match="is a directory"):
        export_model("mlp-iris", tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        export_model("mlp-iris", tmp_path / "no" / "m.onnx")
    with pytest.raises(ValueError, match="Unknown model 'nope'"):
        export_model("nope", tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


# -- errors: one line naming the node, the operator and what is supported ---------------------

def _one_line(exc):
    text = str(exc.value)
    assert "\n" not in text
    return text


def _simple(tmp_path, node, inits=(), in_shape=("N", 4), out_shape=("N", 3), opset=13):
    return _save(tmp_path, "bad", [node], list(inits), list(in_shape), list(out_shape), opset)


def test_unsupported_operator(tmp_path):
    path = _simple(tmp_path, helper.make_node("Tanh", ["x"], ["y"], name="act"),
                   out_shape=("N", 4))
    with pytest.raises(ValueError) as e:
        load_model(path)
    text = _one_line(e)
    assert "node 'act' (Tanh)" in text and "operator Tanh is not supported" in text
    assert "Gemm, MatMul, Conv, Relu, MaxPool, AveragePool, GlobalAveragePool" in text


@pytest.mark.parametrize("case, message", [
    ("group", "node 'c' (Conv): group=2; only group=1"),
    ("dilation", "node 'c' (Conv): dilations [2, 2]"),
    ("conv1d", "node 'c' (Conv): weights (3, 2, 3)"),
    ("ceil", "node 'p' (MaxPool): ceil_mode=1"),
    ("bn_after_relu", "node 'bn' (BatchNormalization): supported right after a Conv"),
    ("shape_op", "node 's' (Shape): operator Shape is not supported (a shape computation"),
    ("reshape_batch", "node 'r' (Reshape): shape [1, -1] leaves the batch dimension unclear"),
    ("matmul_tensors", "node 'm' (MatMul): the second operand (weights) must be a constant"),
    ("mul_mid", "node 'm2' (Mul): Mul with a constant is supported right after"),
    ("broadcast_add", "node 'a' (Add): operands (N, 3, 4, 4) and (N, 3, 1, 1)"),
])
def test_unsupported_attributes(tmp_path, case, message):
    n = helper.make_node
    rng = np.random.default_rng(0)
    w = lambda *s: _init("w", rng.standard_normal(s))   # noqa: E731
    img = ("N", 2, 6, 6)
    if case == "group":
        path = _simple(tmp_path, n("Conv", ["x", "w"], ["y"], name="c", group=2),
                       [w(4, 1, 3, 3)], img, ("N", 4, 4, 4))
    elif case == "dilation":
        path = _simple(tmp_path, n("Conv", ["x", "w"], ["y"], name="c", dilations=[2, 2]),
                       [w(4, 2, 3, 3)], img, ("N", 4, 2, 2))
    elif case == "conv1d":
        path = _simple(tmp_path, n("Conv", ["x", "w"], ["y"], name="c"), [w(3, 2, 3)],
                       img, ("N", 3, 4))
    elif case == "ceil":
        path = _simple(tmp_path, n("MaxPool", ["x"], ["y"], name="p", kernel_shape=[2, 2],
                                   strides=[2, 2], ceil_mode=1), (), ("N", 2, 5, 5),
                       ("N", 2, 3, 3))
    elif case == "bn_after_relu":
        inits = [_init(k, np.ones(2)) for k in ("g", "b", "m", "v")]
        path = _save(tmp_path, "bad", [n("Relu", ["x"], ["r"], name="relu"),
                                       n("BatchNormalization", ["r", "g", "b", "m", "v"], ["y"],
                                         name="bn")], inits, list(img), list(img))
    elif case == "shape_op":
        path = _save(tmp_path, "bad", [n("Relu", ["x"], ["r"], name="relu"),
                                       n("Shape", ["r"], ["s0"], name="s"),
                                       n("Reshape", ["r", "s0"], ["y"], name="r2")], [],
                     list(img), ["N", 72])
    elif case == "reshape_batch":
        path = _save(tmp_path, "bad", [n("Relu", ["x"], ["r0"], name="relu"),
                                       n("Reshape", ["r0", "s"], ["y"], name="r")],
                     [_init("s", [1, -1], np.int64)], list(img), [1, 72])
    elif case == "matmul_tensors":
        path = _save(tmp_path, "bad", [n("Relu", ["x"], ["r"], name="relu"),
                                       n("MatMul", ["x", "r"], ["y"], name="m")], [],
                     ["N", 4], ["N", 4])
    elif case == "mul_mid":
        path = _save(tmp_path, "bad", [n("Relu", ["x"], ["r"], name="relu"),
                                       n("Mul", ["r", "k"], ["y"], name="m2")],
                     [_init("k", [2.0])], ["N", 4], ["N", 4])
    else:
        path = _save(tmp_path, "bad", [n("Conv", ["x", "w"], ["c"], name="c"),
                                       n("GlobalAveragePool", ["c"], ["g"], name="g"),
                                       n("Add", ["c", "g"], ["y"], name="a")],
                     [w(3, 2, 3, 3)], list(img), ["N", 3, 4, 4])
    with pytest.raises(ValueError) as e:
        load_model(path)
    text = _one_line(e)
    assert message in text and "hwgen imports Gemm, MatMul, Conv" in text


def test_dynamic_shapes(tmp_path):
    n = helper.make_node
    rng = np.random.default_rng(1)
    nodes = [n("Conv", ["x", "w"], ["c"], name="c"),
             n("GlobalAveragePool", ["c"], ["g"], name="g"),
             n("Flatten", ["g"], ["y"], name="f")]
    path = _save(tmp_path, "dyn", nodes, [_init("w", rng.standard_normal((3, 2, 3, 3)))],
                 ["N", 2, "h", "w"], ["N", 3])
    with pytest.raises(ValueError) as e:
        load_model(path)
    assert "dynamic dimension 'h' (shape [N, 2, h, w])" in _one_line(e)
    # Data fixes the shape: the same file then imports and runs.
    x = rng.standard_normal((4, 2, 7, 5)).astype(np.float32)
    m = load_model(path, dict(x_test=x, y_test=np.zeros(4, dtype=np.int64)))
    assert m.input_shape == (2, 7, 5)
    assert _rel_err(float_forward(m, "fp32"), _ort(path, x)) <= REL_TOL


def test_not_onnx_and_bad_graphs(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x01 this is not a protobuf \xff\xfe")
    with pytest.raises(ValueError) as e:
        load_model(junk)
    assert "junk.onnx' is not an ONNX model" in _one_line(e)
    (tmp_path / "text.onnx").write_text("hello")
    with pytest.raises(ValueError) as e:
        load_model(tmp_path / "text.onnx")
    assert "is not an ONNX model" in _one_line(e)
    with pytest.raises(ValueError, match="does not exist"):
        load_model(tmp_path / "missing.onnx")
    # Two graph inputs.
    n = helper.make_node
    graph = helper.make_graph(
        [n("Add", ["a", "b"], ["y"])], "two",
        [helper.make_tensor_value_info(k, TensorProto.FLOAT, ["N", 3]) for k in "ab"],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]),
              str(tmp_path / "two.onnx"))
    with pytest.raises(ValueError) as e:
        load_model(tmp_path / "two.onnx")
    assert "the graph has 2 inputs (a, b)" in _one_line(e)


def test_old_opset_is_converted(tmp_path):
    rng = np.random.default_rng(4)
    n = helper.make_node
    nodes = [n("Gemm", ["x", "w", "b"], ["h"], name="fc", transB=1),
             n("Relu", ["h"], ["y"], name="relu")]
    path = _save(tmp_path, "old", nodes, [_init("w", rng.standard_normal((3, 4))),
                                          _init("b", rng.standard_normal(3))],
                 ["N", 4], ["N", 3], opset=11)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    m = load_model(path, dict(x_test=x, y_test=np.zeros(5, dtype=np.int64)))
    assert _rel_err(float_forward(m, "fp32"), _ort(path, x)) <= REL_TOL


def test_data_file_errors(tmp_path, cache):
    onnx_path = tmp_path / "m.onnx"
    export_model("mlp-iris", onnx_path)
    good = builtin_data("mlp-iris")
    cases = [(dict(good, x_train=good["x_test"]), "has key 'x_train'"),
             ({k: v for k, v in good.items() if k != "y_test"}, "key 'y_test' is missing"),
             (dict(good, y_test=good["y_test"].astype(float)), "'y_test' must be 45 integer"),
             (dict(good, x_test=good["x_test"][:, :3], y_test=good["y_test"]),
              r"graph input 'input' takes \[N, 4\], but x_test of Data file '.*d3.npz' has "
              r"rows of shape \(3,\)"),
             (dict(good, y_test=good["y_test"] + 3), r"labels must be in 0..2")]
    for i, (arrays, message) in enumerate(cases):
        p = tmp_path / f"d{i}.npz"
        np.savez(p, **arrays)
        with pytest.raises(ValueError, match=message) as e:
            load_model(onnx_path, p)
        assert f"d{i}.npz" in _one_line(e)

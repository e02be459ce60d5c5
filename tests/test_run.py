"""``hwgen run``: a model's test inputs on the simulated board, every score against the
explorer's emulation (:mod:`hwgen.explore.netrun`), and the ONNX path import → explore → run.
"""

import json
import re

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hwgen.cli import main
from hwgen.explore.emulate import exact_forward
from hwgen.explore.models import load_model, save_data
from hwgen.explore.netrun import REPORT_LINES, candidate_for, run_network
from hwgen.host import Accelerator


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One folder for the built-in models' training and the simulator builds of the module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HWGEN_BUILD_DIR", str(tmp_path_factory.mktemp("build")))
        yield


def _report(out):
    """The report's lines by key (the word before the first colon)."""
    lines = {}
    for line in out.splitlines():
        key, sep, rest = line.partition(": ")
        if sep and key in REPORT_LINES:
            lines[key] = rest
    return lines


@pytest.mark.parametrize("path", ["chained", "layer-by-layer"])
def test_run_builtin_mlp(cache, tmp_path, capsys, path):
    """Chained on chip by default (the simulated board built with the network extension), or
    layer by layer when asked: every score against the emulation, the same report."""
    out_json = tmp_path / "run.json"
    status = main(["run", "mlp-digits-small", "--pe", "int8", "--rows", "2", "--cols", "2",
                   "--board", "icebreaker", "--inputs", "4", "--json", str(out_json),
                   "--quiet"] + (["--layer-by-layer"] if path == "layer-by-layer" else []))
    out = capsys.readouterr().out
    assert status == 0, out
    lines = _report(out)
    assert list(lines) == list(REPORT_LINES), out        # every line, in order
    assert lines["bit-exact"].startswith("yes, 40 scores compared with the emulation of fx8, "
                                         "0 mismatches"), out
    r = json.loads(out_json.read_text())
    assert r["bit_exact"] and r["mismatches"] == 0 and r["scores_compared"] == 40
    assert r["inputs"] == 4 and r["candidate"] == "fx8" and r["path"] == path
    assert r["cycles_source"] == "simulation" and r["clock_hz"] == 12_000_000
    # Every byte takes ten bit times of 12 clocks: the cycles cover at least the bytes sent
    # (requests and responses alternate, so mostly they add up).
    assert r["cycles_per_inference"] >= 120 * r["bytes_to_board"] / 4
    assert r["bytes_per_inference"] == (r["bytes_to_board"] + r["bytes_from_board"]) / 4
    assert r["inferences_per_s"] == pytest.approx(12e6 / r["cycles_per_inference"])
    assert f"accuracy: {r['accuracy']:.4f}" in out
    if path == "chained":
        # one frame each way per inference: 32 input words of 2 bytes, 5 score words of 8
        assert r["bytes_per_inference"] == 6 + 32 * 2 + 7 + 5 * 8
        lbl = r["layer_by_layer"]
        assert lbl["bit_exact"] and lbl["inputs"] == 2
        assert r["speedup"] == pytest.approx(r["inferences_per_s"] / lbl["inferences_per_s"])
        assert r["speedup"] > 20 and "chained: the layers run on chip" in out
    else:
        assert "layer_by_layer" not in r and "speedup" not in r


def test_run_at_a_pll_clock(cache, tmp_path, capsys):
    """--clock-mhz: the simulated board runs from its PLL (the UART divider follows), and the
    report's rates are at that clock."""
    out_json = tmp_path / "run.json"
    status = main(["run", "mlp-iris", "--pe", "int8", "--rows", "2", "--cols", "2",
                   "--board", "icebreaker", "--inputs", "2", "--clock-mhz", "16.125",
                   "--json", str(out_json), "--quiet"])
    out = capsys.readouterr().out
    assert status == 0, out
    r = json.loads(out_json.read_text())
    assert r["bit_exact"] and r["path"] == "chained"
    assert r["clock_hz"] == 16_125_000 and r["baud"] == pytest.approx(16_125_000 / 16)
    assert r["inferences_per_s"] == pytest.approx(16.125e6 / r["cycles_per_inference"])
    # ten bit times of 16 clocks a byte: the cycles cover at least the bytes sent
    assert r["cycles_per_inference"] >= 160 * r["bytes_to_board"] / 2


class _OffByOne:
    """An accelerator whose last layer's results are one too high: what a wrong board is."""

    def __init__(self, acc, layer):
        self.acc, self.layer, self.calls = acc, layer, 0

    def __getattr__(self, name):
        return getattr(self.acc, name)

    def matmul(self, A, B):
        self.calls += 1
        C = self.acc.matmul(A, B)
        return C + 1 if self.calls % self.layer == 0 else C


def test_a_wrong_gemm_is_caught(cache):
    """The comparison is not vacuous: one wrong GEMM result shows as mismatching scores."""
    from hwgen.explore.models import builtin_model
    model = builtin_model("mlp-digits-small")
    with Accelerator.simulate("icebreaker", 2, 2, "int8") as acc:
        wrong = _OffByOne(acc, 2)                        # the second of the two layers
        wrong.transport = acc.transport
        r = run_network(model, "int8", wrong, 2)
    assert not r["bit_exact"] and r["mismatches"] > 0


class _WrongScore:
    """An accelerator whose chained inferences return the first score one too high."""

    def __init__(self, acc):
        self.acc = acc

    def __getattr__(self, name):
        return getattr(self.acc, name)

    def infer_words(self, words):
        out = self.acc.infer_words(words)
        return [out[0] + 1] + out[1:]


def test_a_wrong_chained_score_is_caught(cache):
    """The same on the chained path: one wrong score per inference, each one counted."""
    from hwgen.explore.models import builtin_model
    model = builtin_model("mlp-digits-small")
    with Accelerator.simulate("icebreaker", 2, 2, "int8", network=True) as acc:
        wrong = _WrongScore(acc)
        wrong.transport = acc.transport
        r = run_network(model, "int8", wrong, 3, compare_inputs=0)
    assert r["path"] == "chained" and not r["bit_exact"] and r["mismatches"] == 3


def test_float_pe_on_the_ulx3s(cache):
    """A float candidate (e4m3, rounded accumulation) on another board."""
    from hwgen.explore.models import builtin_model
    model = builtin_model("mlp-iris")
    with Accelerator.simulate("ulx3s-85f", 2, 2, "e4m3:e4m3:rounded") as acc:
        r = run_network(model, "e4m3:e4m3:rounded", acc, 3)
    assert r["bit_exact"] and r["scores_compared"] == 9 and r["candidate"] == "e4m3"
    assert r["clock_hz"] == 25_000_000


def test_load_network_and_infer(cache):
    """The host driver's network API: raw inputs in (one, or a batch), scores out, equal to
    the emulation's; a batch is one GEMM per layer."""
    from hwgen.explore.models import builtin_data, builtin_model
    model = builtin_model("mlp-iris")
    raw = builtin_data("mlp-iris")["x_test"][:5]
    with Accelerator.simulate("icebreaker", 2, 2, "int8") as acc:
        with pytest.raises(ValueError, match="No network loaded"):
            acc.infer(raw[0])
        net = acc.load_network("mlp-iris")
        assert (net.candidate.name, net.pe) == ("fx8", "int8")
        expected = net.emulate(model.prepare(raw))
        one = acc.infer(raw[0])
        batch = acc.infer(raw)
    assert one.shape == (1, 3) and batch.shape == (5, 3)
    assert (one[0] == expected[0]).all() and (batch == expected).all()


def test_candidates_of_pes():
    assert [str(candidate_for(p)[0].name) for p in ("int8", "int4")] == ["fx8", "fx4"]
    assert candidate_for("e4m3:e4m3:fused")[1] == "fused"
    assert candidate_for("bf16:exact:bf16")[1] == "exact"
    assert [candidate_for(p)[0].name for p in ("mx:e4m3", "mx:e2m1", "mx:int8")] == \
        ["mxfp8_e4m3", "mxfp4_e2m1", "mxint8"]
    for pe in ("e4m3:fp16:rounded", "bs8x8", "ternary", "e4m3:exact:fp16", "mx:e4m3:e2m1"):
        with pytest.raises(ValueError, match="hwgen run computes an explorer candidate"):
            candidate_for(pe)


@pytest.mark.parametrize("argv, message", [
    (["--board", "foo"], "--board must be one of icebreaker, ulx3s-85f, not 'foo'"),
    (["--inputs", "0"], "--inputs must be a positive number of inputs, not 0"),
    (["--pe", "e4m3:fp16:rounded"], "the PE must be intN, F:F:rounded"),
    (["--rows", "0"], "Rows must be between 1 and 64, not 0"),
    (["--inputs", "100000"], "--inputs 100000: mlp-iris has"),
    (["--json", "no_dir/r.json"], "--json directory 'no_dir' does not exist"),
    (["--dataflow", "xs"], "--dataflow must be ws or os, not 'xs'"),
    (["--baud", "7"], "Baud rate 7 is too low"),
    (["--clock-mhz", "5"], "iCE40 PLL cannot make 5 MHz: it makes 16.125 to 270 MHz"),
    (["--clock-mhz", "16", "--port", "/dev/null"], "--clock-mhz 16 sets the simulated"),
])
def test_run_refuses_bad_options(cache, capsys, argv, message):
    base = dict(zip(["--pe", "--rows", "--cols", "--board"],
                    ["int8", "2", "2", "icebreaker"]))
    for i in range(0, len(argv), 2):
        base[argv[i]] = argv[i + 1]
    status = main(["run", "mlp-iris", "--quiet", *[t for kv in base.items() for t in kv]])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("hwgen: error: ") and message in err, err
    assert err.count("\n") == 1, err


def _residual_onnx(path, rng):
    """An MLP with a residual Add (Gemm, Relu, MatMul + bias Add, Add, Relu, Gemm) and its
    data: labels are the float model's own arg-max."""
    r = lambda *s: rng.standard_normal(s).astype(np.float32)   # noqa: E731
    init = lambda name, a: numpy_helper.from_array(a, name)      # noqa: E731
    n = helper.make_node
    inits = [init("w1", r(6, 8) * 0.5), init("b1", r(8) * 0.1), init("w2", r(8, 8) * 0.4),
             init("b2", r(8) * 0.1), init("w3", r(3, 8)), init("b3", r(3) * 0.1)]
    nodes = [n("Gemm", ["x", "w1", "b1"], ["h1"], name="fc1"),
             n("Relu", ["h1"], ["r1"], name="relu1"),
             n("MatMul", ["r1", "w2"], ["m2"], name="fc2"),
             n("Add", ["m2", "b2"], ["h2"], name="bias2"),
             n("Add", ["h2", "r1"], ["res"], name="residual"),
             n("Relu", ["res"], ["r2"], name="relu2"),
             n("Gemm", ["r2", "w3", "b3"], ["y"], name="fc3", transB=1)]
    graph = helper.make_graph(
        nodes, "residual_mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    onnx.save(m, str(path))
    x = rng.standard_normal((40, 6))
    model = load_model(path, dict(x_test=x, y_test=np.zeros(40, dtype=np.int64)))
    return x, np.argmax(exact_forward(model), axis=1)


def test_onnx_residual_import_explore_run(cache, tmp_path, capsys):
    """The whole path for a user's ONNX model: import, explore (cached costs only), run the
    chosen integer candidate on the simulated board."""
    x, y = _residual_onnx(tmp_path / "res.onnx", np.random.default_rng(4))
    save_data(tmp_path / "d.npz", x_test=x, y_test=y, x_calib=x[:16])
    assert main(["explore", "--model", str(tmp_path / "res.onnx"), "--data",
                 str(tmp_path / "d.npz"), "--formats", "fx6,fx8", "--no-synth", "--quiet",
                 "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    chosen = re.search(r"^chosen: (fx\d+)", out, re.M)
    assert chosen, out
    bits = chosen.group(1)[2:]
    assert main(["run", str(tmp_path / "res.onnx"), "--data", str(tmp_path / "d.npz"),
                 "--pe", f"int{bits}", "--rows", "2", "--cols", "2", "--board", "icebreaker",
                 "--inputs", "6", "--quiet"]) == 0
    lines = _report(capsys.readouterr().out)
    assert lines["bit-exact"].startswith(f"yes, 18 scores compared with the emulation of "
                                         f"fx{bits}, 0 mismatches")

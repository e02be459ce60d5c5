"""``hwgen train`` and :mod:`hwgen.train`: tiny trainings of every method (seconds each, fixed
seeds) asserting what each method is for, the architecture and data grammar, the deployable
model (raw inputs through ONNX, ternary weights through the ternary PE's golden GEMM), the
command line path train -> explore -> compress, and bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from hwgen.cli import main
from hwgen.explore.emulate import evaluate, exact_forward
from hwgen.train import load_training_data, parse_arch, train


@pytest.fixture(scope="module")
def digits():
    return load_training_data("digits")


def test_arch_grammar():
    a = parse_arch("c3x8-p2")
    plan = a.shapes((1, 8, 8), 10)
    assert [it[0] for it, _, _ in plan] == ["conv", "pool", "flatten", "dense"]
    assert [out for _, _, out in plan] == [(8, 6, 6), (8, 3, 3), (72,), (10,)]
    assert parse_arch("64-32").items == (("dense", 64), ("dense", 32))
    assert parse_arch("linear").items == ()
    for bad in ("", "32-", "c3", "p1", "0", "dense32"):
        with pytest.raises(ValueError, match="Architecture"):
            parse_arch(bad)
    with pytest.raises(ValueError, match="needs an image input"):
        parse_arch("c3x4").shapes((13,), 3)
    with pytest.raises(ValueError, match="divisible by 4"):
        parse_arch("c3x4-p4").shapes((1, 8, 8), 10)


def test_training_file_errors(tmp_path):
    np.savez(tmp_path / "ok.npz", x_train=np.ones((4, 3)), y_train=np.array([0, 1, 0, 1]),
             x_test=np.ones((2, 3)), y_test=np.array([1, 0]))
    assert load_training_data(str(tmp_path / "ok.npz")).classes == 2
    np.savez(tmp_path / "miss.npz", x_test=np.ones((2, 3)), y_test=np.array([1, 0]))
    with pytest.raises(ValueError, match="misses x_train, y_train; a training file holds "
                                         "exactly x_train, y_train, x_test, y_test"):
        load_training_data(str(tmp_path / "miss.npz"))
    np.savez(tmp_path / "lab.npz", x_train=np.ones((2, 3)), y_train=np.array([0.5, 1]),
             x_test=np.ones((2, 3)), y_test=np.array([1, 0]))
    with pytest.raises(ValueError, match="y_train must be 2 integer labels"):
        load_training_data(str(tmp_path / "lab.npz"))
    with pytest.raises(ValueError, match="Data must be one of digits, iris, wine, cancer"):
        load_training_data("mnist")


def test_compressibility_weights_are_closer_to_ternary(digits):
    """The stated measure: the ternarization error ||w - s t||^2 / ||w||^2 (0 for weights
    that are already ternary) is lower with the loss than without it, the ternary weights
    sparser and their sHAM encoding smaller."""
    model, r = train("compressibility", digits, "32", epochs=20, seed=0, lam=0.05)
    t, b = r["trained"], r["baseline"]
    assert t["ternary_error"] < b["ternary_error"]
    assert t["sparsity"] > b["sparsity"] + 0.2 and t["psi"] < b["psi"]
    assert t["accuracy_float"] > 0.9
    # The deployed model holds scale * t, one scale per output row: a row has at most three
    # distinct values, symmetric around zero.
    for w in [layer["W"] for layer in model.layers if layer["kind"] == "dense"]:
        for row in w:
            vals = set(np.unique(np.abs(row)).tolist()) - {0.0}
            assert len(vals) <= 1


def test_ternary_model_deploys_on_the_ternary_pe(digits):
    """The ternarized first layer's GEMM through golden.matmul of the ternary PE (2-bit weight
    codes) equals the integer dot products of its ternary values."""
    from hwgen.golden.matmul import matmul
    from hwgen.golden.tmac import ternary_encode
    from hwgen.train.methods import ternarize
    model, _ = train("compressibility", digits, "32", epochs=3, seed=1, lam=0.05)
    w = model.layers[0]["W"]
    (t, scale), = ternarize([w])
    np.testing.assert_allclose(scale * t, w, rtol=1e-6, atol=0)
    rng = np.random.default_rng(0)
    A = rng.integers(-128, 128, (5, w.shape[1]))
    got = matmul(A, ternary_encode(t).T, "ternary", "ws", 4, 4)
    np.testing.assert_array_equal(got, A @ t.T.astype(np.int64))


def test_dual_precision_beats_its_baselines(digits):
    _, r = train("dualprec", digits, "32", epochs=8, seed=0, high_bits=4)
    dual, high_only, low_only = r["dual"], r["high_only"], r["low_only"]
    assert (r["high_bits"], r["low_bits"]) == (4, 2)
    # Low mode: far above the high-only model truncated to its MSB halves, and at least the
    # model trained for low mode alone; high mode: far above that low-only model's.
    assert dual["low"] > high_only["low"] + 0.3
    assert dual["low"] >= low_only["low"]
    assert dual["high"] > low_only["high"] + 0.3
    assert dual["high"] > 0.9


def test_wide_then_narrow(digits):
    model, r = train("wide-narrow", digits, "16", epochs=6, seed=0, wide_factor=4)
    assert r["wide_arch"] == "64"
    assert [layer["W"].shape for layer in model.layers if layer["kind"] == "dense"] == \
        [(16, 64), (10, 16)]
    assert r["epochs"] == dict(wide=6, imitation_per_layer=3, fine_tune=6, direct=15)
    assert r["accuracy"] > 0.85 and r["wide_accuracy"] > 0.85
    with pytest.raises(ValueError, match="dense hidden layers only"):
        train("wide-narrow", digits, "c3x4", epochs=1)


def test_bitlayer_curve(digits):
    model, r = train("bitlayers", digits, "32", epochs=5, seed=0, weight_bits=8)
    curve = r["bitlayers"]
    assert [b for b, _ in curve] == list(range(1, 9))
    # All eight bit-planes are the fixed-point model's 8-bit weights (another emulation path).
    assert curve[-1][1] == evaluate(model, "fx8")[0]
    assert curve[0][1] < curve[-1][1]


def test_cnn_trains_and_takes_raw_inputs(tmp_path):
    """A convolutional net on digits images, exported as ONNX: onnxruntime on the raw pixel
    counts (0..16) gives the scores hwgen's float64 model gives on its normalized inputs."""
    import onnxruntime as ort

    from hwgen.explore.models import dataset, export_model
    model, r = train("plain", "digits", "c3x4-p2", epochs=3, seed=0)
    assert r["accuracy"] > 0.8
    export_model(model, tmp_path / "cnn.onnx")
    _, x_raw, _, _, _ = dataset("digits")
    x_raw = x_raw[:20].reshape(-1, 1, 8, 8)
    sess = ort.InferenceSession(str(tmp_path / "cnn.onnx"))
    got = sess.run(None, {"input": x_raw.astype(np.float32)})[0]
    ref = exact_forward(model, model.prepare(x_raw))
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_train_explore_compress(tmp_path, capsys, monkeypatch):
    """The command-line path: the ONNX file names its data set, so explore and compress
    need no --data."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HWGEN_BUILD_DIR", str(tmp_path / "build"))
    # The issue's own command line: no --arch (digits: 32, as the built-in MLP).
    assert main(["train", "--method", "compressibility", "--data", "digits", "--epochs", "5",
                 "-o", "t.onnx", "--json", "t.json"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == ("compressibility on digits, arch 32, seed 0, lambda 0.05, "
                                   "5 epochs")
    assert "wrote t.onnx: digits-compressibility-32" in out
    r = json.loads((tmp_path / "t.json").read_text())
    assert r["method"] == "compressibility" and set(r["trained"]) >= {"psi", "sparsity"}
    assert main(["explore", "--model", "t.onnx", "--formats", "fx8,e4m3", "--no-synth",
                 "--quiet", "-o", str(tmp_path)]) == 0
    assert "chosen: " in capsys.readouterr().out
    assert main(["compress", "t.onnx"]) == 0          # the archive: t.hwga by default
    out = capsys.readouterr().out
    assert "accuracy (float64, 540 test inputs" in out and "decoded back bit-exactly" in out
    assert "wrote t.hwga: " in out and (tmp_path / "t.hwga").is_file()


@pytest.mark.parametrize("argv, message", [
    (["--method", "sgd"], "--method must be one of plain, compressibility, wide-narrow, "
                          "dualprec, bitlayers, not 'sgd'"),
    (["--arch", "32x"], "Architecture must be items N (dense)"),
    (["--method", "compressibility", "--lambda", "-1"], "Lambda must be at least 0, not -1"),
    (["--method", "dualprec", "--high-bits", "5"],
     "High precision bits must be an even integer in 4..16, not 5"),
    (["--high-bits", "6"], "--high-bits is an option of --method dualprec, not plain"),
    (["--data", "nope.npz"], "Training file 'nope.npz' does not exist"),
    (["-o", "m.txt"], "-o must name an .onnx or .npz file, not 'm.txt'"),
    (["-o", "no_dir/m.onnx"], "-o directory 'no_dir' does not exist"),
    (["--epochs", "0"], "Epochs must be an integer in 1..10000, not 0"),
    (["--data", "wine", "--arch", "c3x4"], "13 features are not a square image"),
])
def test_train_refuses_bad_input(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    base = {"--method": "plain", "--data": "digits", "--arch": "8", "-o": "m.onnx"}
    for i in range(0, len(argv), 2):
        base[argv[i]] = argv[i + 1]
    assert main(["train", *[t for kv in base.items() for t in kv]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hwgen: error: ") and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "m.onnx").exists()


def test_train_without_torch_names_the_extra():
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'torch':\n"
            "            raise ImportError('no torch here')\n"
            "sys.meta_path.insert(0, Block())\n"
            "from hwgen.cli import main\n"
            "sys.exit(main(['train', '--method', 'plain', '--data', 'iris', '--arch', '8', "
            "'-o', '/tmp/never.onnx']))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == ("hwgen: error: training (hwgen train, PyTorch) needs the "
                                "'train' extra (torch is not installed): pip install "
                                "'hwgen[train]'")

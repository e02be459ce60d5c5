"""The model commands end to end: ``hwgen export-model`` writes an ONNX file and its data,
``hwgen compress`` and ``hwgen explore`` read them back, and bad combinations are one line."""

import json

import numpy as np
import pytest

from hwgen.cli import main


@pytest.fixture(autouse=True)
def _build(tmp_path, monkeypatch):
    monkeypatch.setenv("HWGEN_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.chdir(tmp_path)


def test_export_compress_explore_onnx(tmp_path, capsys):
    assert main(["export-model", "mlp-iris", "-o", "iris.onnx", "--data", "iris.npz"]) == 0
    out = capsys.readouterr().out
    assert "wrote iris.onnx" in out and "wrote iris.npz" in out
    d = np.load("iris.npz")
    assert d["x_test"].shape[1] == 4 and len(d["x_test"]) == len(d["y_test"])

    assert main(["compress", "iris.onnx", "--data", "iris.npz", "-o", "c.hwga"]) == 0
    out = capsys.readouterr().out
    assert "accuracy (float64," in out and f"{len(d['y_test'])} test inputs" in out
    # Without --data: the file names the bundled data set the model was trained on (iris),
    # and its test split is the data.
    assert main(["compress", "iris.onnx", "-o", "c.hwga"]) == 0
    out = capsys.readouterr().out
    assert "accuracy (float64," in out and f"{len(d['y_test'])} test inputs" in out
    # A file that names no data set, without data: nothing to measure accuracy on, and it
    # says so.
    _bare("bare.onnx")
    assert main(["compress", "bare.onnx", "-o", "c.hwga"]) == 0
    out = capsys.readouterr().out
    assert "accuracy (" not in out and "no accuracy to report" in out

    assert main(["explore", "--model", "iris.onnx", "--data", "iris.npz", "--formats",
                 "e4m3,fx8", "--no-synth", "--quiet", "-o", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "explore_mlp-iris.json").read_text())
    assert report["model"]["test_inputs"] == len(d["y_test"])


def _bare(path):
    """mlp-iris as ONNX without the name of its data set."""
    from hwgen.explore.models import builtin_model, export_model
    m = builtin_model("mlp-iris")
    m.dataset = None
    export_model(m, path)


@pytest.mark.parametrize("argv, message", [
    (["explore", "--model", "bare.onnx", "--no-synth"], "has no test data"),
    (["explore", "--list-models", "--data", "m.npz"], "--list-models takes no --data"),
    (["export-model", "mlp-iris"], "missing -o/--output FILE.onnx"),
    (["export-model", "no-such-model", "-o", "x.onnx"], "Unknown model 'no-such-model'"),
    (["export-model", "mlp-iris", "-o", "nodir/x.onnx"], "does not exist"),
    (["compress", "gauss:4,3", "--data", "m.npz", "-o", "x.hwga"], "--data does not apply"),
])
def test_model_command_errors(argv, message, capsys):
    assert main(["export-model", "mlp-iris", "-o", "m.onnx"]) == 0
    _bare("bare.onnx")
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("hwgen: error: ") and message in err and err.count("\n") == 1

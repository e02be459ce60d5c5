"""The built-in models ship as ONNX files trained by ``hwgen train`` (issue 20): the explorer
reads them without PyTorch, and retraining them from their recipes gives the same models."""

import subprocess
import sys

import numpy as np
import pytest

from hwgen.explore.emulate import evaluate
from hwgen.explore.models import BUILTIN, builtin_model, builtin_path, recipe_command
from hwgen.train.builtin import main as builtin_main
from hwgen.train.builtin import train_builtin


def _scores(model):
    from hwgen.explore.emulate import forward
    return forward(model, "fp32")


def test_every_builtin_model_has_its_file_and_reads_without_torch():
    for name in BUILTIN:
        assert builtin_path(name).is_file(), name
    code = ("import sys\n"
            "from hwgen.explore.models import BUILTIN, builtin_model\n"
            "from hwgen.explore.emulate import evaluate\n"
            "for n in BUILTIN:\n"
            "    assert evaluate(builtin_model(n), 'fp32')[0] > 0.9, n\n"
            "assert 'torch' not in sys.modules and 'sklearn.neural_network' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", list(BUILTIN))
def test_retraining_a_builtin_model_from_its_recipe_gives_the_shipped_model(name):
    shipped = builtin_model(name)
    trained, report = train_builtin(name)
    assert trained.name == name
    assert shipped.description == trained.description
    assert recipe_command(name) in shipped.description
    # The float weights may differ in their last bits on another CPU (its kernels sum in
    # another order); the model must not: its layers' shapes, and its predictions.
    assert [(lay["kind"], np.shape(lay.get("W"))) for lay in shipped.layers] == \
        [(lay["kind"], np.shape(lay.get("W"))) for lay in trained.layers]
    for a, b in zip(shipped.layers, trained.layers):
        if "W" in a:
            assert np.max(np.abs(a["W"] - b["W"])) < 1e-2 * np.max(np.abs(a["W"]))
    trained = trained.with_data(*_raw(name))
    agree = np.mean(np.argmax(_scores(shipped), axis=1) == np.argmax(_scores(trained), axis=1))
    assert agree >= 0.98
    assert abs(evaluate(shipped, "fp32")[0] - report["accuracy"]) <= 0.02


def _raw(name):
    from hwgen.explore.models import builtin_data
    d = builtin_data(name)
    return d["x_test"], d["y_test"], d["x_calib"]


def test_check_mode_compares_with_the_shipped_file(capsys):
    assert builtin_main(["--check", "mlp-iris"]) == 0
    assert "mlp-iris: accuracy" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        builtin_main(["--check", "mlp-nope"])
    assert e.value.code == 2

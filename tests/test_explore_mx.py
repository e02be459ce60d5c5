"""OCP MX candidates in the explorer (issue 19): the emulation of a layer against an exact
reference (``fractions.Fraction`` block sums, one FP32 rounding per block written here), the
design space, costs, commands, and the CLI."""

import math
import re
from fractions import Fraction

import numpy as np
import pytest

from hwgen.cli import main
from hwgen.elaboratables import not_built
from hwgen.explore.cost import CostModel
from hwgen.explore.emulate import MX, MX_CANDIDATES, evaluate, forward, parse_candidate
from hwgen.explore.graph import Model
from hwgen.explore.report import pe_commands
from hwgen.explore.search import bits_of, kind_of, parse_space
from hwgen.golden.mx import mx_dequantize, mx_quantize


def _fp32(q):
    """Round a Fraction to the nearest FP32 (ties to even), exactly; returns a float."""
    if q == 0:
        return 0.0
    neg, a = q < 0, abs(q)
    e = math.floor(math.log2(a))
    while Fraction(2) ** e > a:
        e -= 1
    while Fraction(2) ** (e + 1) <= a:
        e += 1
    e = max(e, -126)                       # subnormals share the smallest exponent
    ulp = Fraction(2) ** (e - 23)
    m = a / ulp
    k = math.floor(m)
    if m - k > Fraction(1, 2) or (m - k == Fraction(1, 2) and k % 2):
        k += 1
    v = float(k * ulp)
    assert abs(v) < 2.0 ** 128
    return -v if neg else v


def _reference(x, W, b, elem):
    """A dense layer as MX hardware computes it: x and W quantized per block of 32 along K
    (zero-padded), block sums exact, each added to the FP32 accumulator with one rounding,
    then the bias added in FP32."""
    k = W.shape[1]
    pad = (-k) % 32
    xa = mx_dequantize(*mx_quantize(np.pad(x, ((0, 0), (0, pad))), elem), elem)
    wa = mx_dequantize(*mx_quantize(np.pad(W, ((0, 0), (0, pad))), elem), elem)
    out = np.zeros((len(x), len(W)))
    for m in range(len(x)):
        for o in range(len(W)):
            acc = 0.0
            for j in range(0, k + pad, 32):
                block = sum(Fraction(float(xa[m, i])) * Fraction(float(wa[o, i]))
                            for i in range(j, j + 32))
                acc = _fp32(Fraction(acc) + block)
            out[m, o] = _fp32(Fraction(acc) + Fraction(float(np.float32(b[o]))))
    return out


@pytest.mark.parametrize("name", list(MX_CANDIDATES))
def test_dense_layer_against_the_exact_reference(name):
    rng = np.random.default_rng(3)
    k = 40                                  # a block and a padded one
    W = rng.standard_normal((3, k)) * np.exp2(rng.integers(-6, 6, (3, 1)))
    b = rng.standard_normal(3)
    x = rng.standard_normal((5, k)) * np.exp2(rng.integers(-8, 8, (5, k)))
    model = Model("one-dense", [dict(kind="dense", W=W, b=b)], (k,), x,
                  np.zeros(5, dtype=np.int64))
    got = forward(model, name, x)
    np.testing.assert_array_equal(got, _reference(x.astype(np.float32).astype(np.float64),
                                                  W, b, MX_CANDIDATES[name]))


def test_space_costs_and_commands():
    space = parse_space("mx,fx8")
    assert [c.name for c in space][:6] == list(MX_CANDIDATES) and len(space) == 7
    c = parse_candidate("mxfp4_e2m1")
    assert isinstance(c, MX) and kind_of(c) == "mx" and bits_of(c) == 4
    assert parse_candidate("mxint8").width == 8
    cm = CostModel("up5k", synthesize=False)
    assert cm.module_name("mxfp8_e4m3") == "mxdot_e4m3_l8_rne"
    unit = not_built(cm.unit("mxfp8_e4m3"))
    assert unit.module_name == cm.module_name("mxfp8_e4m3")
    assert pe_commands("mxfp6_e3m2") == (
        "hwgen generate mxdot --elem e3m2 --lanes 8 -o mxdot_e3m2_l8_rne.v",
        "hwgen build --board icebreaker --rows 2 --cols 1 --pe mx:e3m2 --dataflow os "
        "--pe-pipeline auto")
    assert pe_commands("mxfp8_e4m3")[1].startswith("hwgen build --board icebreaker --rows 1 "
                                                   "--cols 1 --pe mx:e4m3 --dataflow os")
    assert pe_commands("mxfp8_e5m2")[1] is None          # does not fit the UP5K
    assert pe_commands("mxfp8_e5m2", device="ecp5-85f")[1].startswith(
        "hwgen build --board ulx3s-85f --rows 8 --cols 2 --pe mx:e5m2")
    with pytest.raises(ValueError, match="MX candidate must be one of"):
        MX("mxfp5")


def test_builtin_models_keep_their_accuracy_in_mxfp8():
    from hwgen.explore.models import builtin_model
    m = builtin_model("mlp-digits-small")
    ref = evaluate(m, None)[0]
    assert evaluate(m, "mxfp8_e4m3")[0] >= ref - 0.01


def test_cli(tmp_path, capsys):
    assert main(["explore", "--model", "mlp-iris", "--formats", "mx", "--no-synth", "--quiet",
                 "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "hwgen generate mxdot --elem " in out
    assert re.search(r"hwgen build --board icebreaker --rows \d --cols 1 --pe mx:\w+ "
                     r"--dataflow os --pe-pipeline auto", out), out
    # the RTL check of an MX candidate needs an output-stationary array
    assert main(["explore", "--model", "mlp-iris", "--formats", "mxfp8_e4m3", "--verify-rtl",
                 "2", "--no-synth", "--quiet", "-o", str(tmp_path)]) == 2
    assert "MX PEs need an output-stationary array (--rtl-dataflow os)" in \
        capsys.readouterr().err


def test_verify_rtl_on_an_mx_array(tmp_path, capsys):
    """The iris MLP's layers, quantized per block, through a 2x2 ``mx:e2m1`` array (Verilator)
    equal the ``mxfp4_e2m1`` emulation's dot products bit for bit."""
    assert main(["explore", "--model", "mlp-iris", "--formats", "mxfp4_e2m1", "--verify-rtl",
                 "2", "--rtl-dataflow", "os", "--rtl-array", "2x2", "--no-synth", "--quiet",
                 "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "mx:e2m1 array systolic_os_2x2_mx_e2m1: bit-exact" in out, out

"""Models trained by ``hwgen train`` (issue 20) on the simulated systolic array: a few test
inputs of each method's deployable model, layer by layer, through the array of the PE the
method trains for (cocotb under Verilator, the GEMMs streamed by :mod:`sim.explore_rtl` with
idle cycles and back-pressure), bit for bit against :func:`hwgen.golden.matmul.matmul` and
against plain integer products of the model's own quantized weights.

- compressibility → ``ternary`` PE: the ternarized weights as 2-bit codes;
- dualprec (H = 8) → ``dp8`` PE, in both modes: high mode the 8-bit weights, low mode their
  MSB halves (two per word, two MACs per PE per clock), as the training's low mode uses them;
- plain and wide-narrow → the explorer's ``fx8`` candidate on the ``int8`` array and the
  bit-serial ``bs8@3`` candidate on ``bs8x8`` (:func:`hwgen.explore.rtl.verify_rtl`: the
  whole network against the emulation).

The arrays are the 2×2 / 4×4 builds that test_systolic.py and test_explore_rtl.py use (a
Verilator build is reused when the Verilog is the same).
"""

import numpy as np
import pytest

from hwgen.arrays.systolic import SystolicArray
from hwgen.golden.matmul import dualprec_pack, matmul

N_INPUTS = 3


@pytest.fixture(scope="module")
def digits():
    from hwgen.train import load_training_data
    return load_training_data("digits")


def _dense(model):
    return [lay for lay in model.layers if lay["kind"] == "dense"]


def _layer_inputs(model, bits):
    """Each dense layer's input for the first test inputs, quantized to signed ``bits``-bit
    integers (one scale per layer, from the float activations of the deployed model):
    ``[(A_int, scale), ...]``."""
    lim = 2 ** (bits - 1) - 1
    x = model.x_test[:N_INPUTS].reshape(N_INPUTS, -1)
    out = []
    layers = _dense(model)
    for i, lay in enumerate(layers):
        s = float(np.max(np.abs(x))) / lim or 1.0
        a = np.clip(np.rint(x / s), -lim, lim).astype(np.int64)
        out.append((a, s))
        x = (a * s) @ lay["W"].T + lay["b"]
        if i < len(layers) - 1:
            x = np.maximum(x, 0)
    return out


def _on_array(pe, rows, cols, gemms, *, low=None):
    """The array's result of every GEMM ``(A, B)`` (operand codes as the PE takes them)."""
    from hwgen.explore.rtl import simulate_gemms
    res = simulate_gemms(SystolicArray(rows, cols, pe, "ws"), gemms, low=low, idle=0.3,
                         backpressure=0.3, seed=3)
    assert res.passed, (res.failed, res.report)
    return [np.array(r, dtype=np.int64) for r in res.report["results"]]


def test_compressibility_model_on_the_ternary_array(digits):
    from hwgen.golden.tmac import ternary_encode
    from hwgen.train import train
    from hwgen.train.methods import ternarize
    model, _ = train("compressibility", digits, "32", epochs=3, seed=1, lam=0.05)
    gemms, want = [], []
    for lay, (a, s) in zip(_dense(model), _layer_inputs(model, 8)):
        (t, scale), = ternarize([lay["W"]])
        assert set(np.unique(t)) <= {-1, 0, 1}
        codes = ternary_encode(t).T
        gemms.append((a, codes))
        ints = a @ t.T.astype(np.int64)
        np.testing.assert_array_equal(matmul(a, codes, "ternary", "ws", 2, 2), ints)
        # the integers, scaled back, are the deployed layer's products
        np.testing.assert_allclose(ints * s * np.reshape(scale, (1, -1)),
                                   (a * s) @ lay["W"].T, rtol=1e-9, atol=1e-12)
        want.append(ints)
    got = _on_array("ternary", 2, 2, gemms)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_dual_precision_model_on_the_dp8_array_in_both_modes(digits):
    from hwgen.train import train
    from hwgen.train.methods import quantize_modes
    model, _ = train("dualprec", digits, "32", epochs=2, seed=0, high_bits=8)
    high, low, want_hi, want_lo = [], [], [], []
    for lay, (a, _), (a4, _) in zip(_dense(model), _layer_inputs(model, 8),
                                    _layer_inputs(model, 4)):
        q, q_low, _ = quantize_modes(lay["W"], 8)
        # the deployed model holds the 8-bit weights exactly
        np.testing.assert_allclose(q * (np.max(np.abs(lay["W"])) / 127), lay["W"], rtol=1e-6)
        half = q >> 4                                   # the MSB halves: 4-bit signed
        assert np.array_equal(half << 4, q_low) and half.min() >= -8 and half.max() <= 7
        high.append((a, q.T))
        want_hi.append(a @ q.T)
        A_w, B_w = dualprec_pack(a4, half.T, "dp8")
        np.testing.assert_array_equal(matmul(A_w, B_w, "dp8", "ws", 2, 2, low=1), a4 @ half.T)
        low.append((A_w, B_w))
        want_lo.append(a4 @ half.T)
    for gemms, want, mode in ((high, want_hi, 0), (low, want_lo, 1)):
        got = _on_array("dp8", 2, 2, gemms, low=mode)
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("method,candidate,array", [("plain", "fx8", (4, 4)),
                                                    ("wide-narrow", "bs8@3", (2, 2))])
def test_trained_model_through_the_array_matches_the_emulation(method, candidate, array):
    from hwgen.explore.rtl import verify_rtl
    from hwgen.train import train
    model, _ = train(method, "iris", "16", epochs=20, seed=0)
    r = verify_rtl(model, candidate, 2, rows=array[0], cols=array[1], dataflow="ws")
    assert r["sim_passed"] and r["mismatches"] == 0 and r["golden_mismatches"] == 0, r
    assert [x["shape"] for x in r["layers"]] == [[2, 4, 16], [2, 16, 3]]

"""The fixed-point layer epilogue (hwgen.golden.epilogue) against exact Fraction arithmetic."""

from fractions import Fraction

import numpy as np
import pytest

from hwgen.golden.epilogue import layer_epilogue, requantize_pow2


def _reference(x, shift, bits, relu):
    """Independent: exact rational x / 2**shift, round half to even, clamp, ReLU."""
    v = Fraction(x, 1) / Fraction(2) ** shift
    fl = v.numerator // v.denominator
    r = v - fl
    q = fl + (1 if r > Fraction(1, 2) or (r == Fraction(1, 2) and fl % 2 == 1) else 0)
    q = max(-(1 << (bits - 1)), min((1 << (bits - 1)) - 1, q))
    return max(q, 0) if relu else q


@pytest.mark.parametrize("bits", [2, 4, 8, 16])
@pytest.mark.parametrize("relu", [False, True])
def test_epilogue_matches_fraction(bits, relu):
    rng = np.random.default_rng(bits * 2 + relu)
    for shift in range(-6, 13):
        acc = rng.integers(-(1 << 20), 1 << 20, size=(40, 5))
        # ties and values at the saturation edges for every shift
        edge = np.array([(k << max(shift, 0)) + (1 << (shift - 1) if shift > 0 else 0)
                         for k in range(-(1 << (bits - 1)) - 2, (1 << (bits - 1)) + 2)])
        acc[: min(40, edge.size // 5), :] = edge[: min(40, edge.size // 5) * 5].reshape(-1, 5)
        bias = rng.integers(-1000, 1000, size=5)
        got = layer_epilogue(acc, bias, shift, bits, relu=relu)
        want = np.array([[_reference(int(a + b), shift, bits, relu)
                          for a, b in zip(row, bias)] for row in acc])
        assert got.dtype == np.int64
        np.testing.assert_array_equal(got, want, err_msg=f"shift={shift}")


def test_epilogue_exhaustive_small():
    acc = np.arange(-300, 301)
    for shift in range(-3, 7):
        got = requantize_pow2(acc, shift, 4)
        want = [_reference(int(a), shift, 4, False) for a in acc]
        np.testing.assert_array_equal(got, want, err_msg=f"shift={shift}")


def test_epilogue_python_integers():
    acc = np.array([(1 << 70) + 3, -(1 << 70), 5 << 40], dtype=object)
    got = layer_epilogue(acc, np.array([0], dtype=object), 40, 8)
    assert list(got) == [_reference(int(a), 40, 8, False) for a in acc]


def test_epilogue_ties_to_even_not_away():
    # 2.5 -> 2, -2.5 -> -2, 3.5 -> 4: gemmlowp's RoundingDivideByPOT would give 3, -3, 4
    assert list(layer_epilogue(np.array([5, -5, 7]), 0, 1, 8)) == [2, -2, 4]


@pytest.mark.parametrize("kwargs, message", [
    (dict(shift=1, bits=1), "Epilogue width must be an integer >= 2, not 1"),
    (dict(shift=1, bits=8.0), "Epilogue width must be an integer >= 2, not 8.0"),
    (dict(shift=1.5, bits=8), "Epilogue shift must be an integer, not 1.5"),
    (dict(shift=True, bits=8), "Epilogue shift must be an integer, not True"),
])
def test_epilogue_validation(kwargs, message):
    with pytest.raises(ValueError) as e:
        layer_epilogue(np.array([1]), 0, **kwargs)
    assert str(e.value) == message


def test_epilogue_is_what_the_emulation_feeds_the_next_layer():
    """A dense -> relu -> dense MLP in fx8: the second layer's input codes equal the
    epilogue applied to the first layer's accumulators (what the chained board must do)."""
    from hwgen.explore import emulate
    from hwgen.explore.models import Model
    rng = np.random.default_rng(7)
    x = rng.standard_normal((32, 6))
    layers = [dict(kind="dense", W=rng.standard_normal((5, 6)), b=rng.standard_normal(5)),
              dict(kind="relu"),
              dict(kind="dense", W=rng.standard_normal((3, 5)), b=rng.standard_normal(3))]
    m = Model("mlp", layers, (6,), x, np.zeros(32, dtype=np.int64), x[:8])
    bits, trace = 8, []
    emulate.fixed_forward(m, bits, x, trace=trace)
    plan = emulate._fixed_plan(m, emulate.tensor_ranges(m), bits)
    fw = emulate._frac_bits(float(np.max(np.abs(layers[0]["W"]))), bits)
    f_acc = plan[-1] + fw
    bias = np.rint(np.ldexp(layers[0]["b"], f_acc)).astype(np.int64)
    got = layer_epilogue(trace[0]["acc"], bias, f_acc - plan[0], bits, relu=True)
    np.testing.assert_array_equal(got, trace[1]["A"])
    assert np.any(got == 0) and np.any(got > 0)

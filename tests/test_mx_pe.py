# amaranth: UnusedElaboratable=no
"""``mx:E[:EB]`` processing elements: the PE grammar, the operand words, the golden GEMM of an
MX array (:func:`hwgen.golden.matmul.matmul`) against dot products built block by block, and
the array's bad parameters. The arrays themselves run in ``rtl_tests/test_systolic.py``."""

from fractions import Fraction

import numpy as np
import pytest

from hwgen.arrays.systolic import SystolicArray
from hwgen.arrayspec import MX_MAX_ROWS, ArraySpec
from hwgen.golden.matmul import matmul, mx_operands, random_operands
from hwgen.golden.mx import (mx_dequantize, mx_dot, mx_pack_words, mx_quantize,
                             mx_unpack_words)
from hwgen.golden.rounding import decode
from hwgen.pespec import parse_pe


@pytest.mark.parametrize("text, spec, a, w", [
    ("mx:e4m3", "mx:e4m3", "e4m3", "e4m3"), ("MX:E2M1", "mx:e2m1", "e2m1", "e2m1"),
    ("mx:e4m3:e2m1", "mx:e4m3:e2m1", "e4m3", "e2m1"), ("mx:int8:int8", "mx:int8", "int8", "int8"),
    ("mx:e5m2:e3m2", "mx:e5m2:e3m2", "e5m2", "e3m2")])
def test_grammar(text, spec, a, w):
    pe = parse_pe(text)
    assert (pe.spec, pe.kind, pe.a_fmt.name, pe.w_fmt.name) == (spec, "mx", a, w)
    assert pe.out_fmt.name == "fp32" and pe.acc_bits == 32


@pytest.mark.parametrize("text, why", [
    ("mx", "one or two element formats"), ("mx:fp16", "'fp16' is not one of"),
    ("mx:e4m3:e2m1:e2m1", "one or two"), ("mx:e4m4", "'e4m4'")])
def test_grammar_errors_name_the_value(text, why):
    with pytest.raises(ValueError, match=why):
        parse_pe(text)


def test_words_carry_the_scale_above_the_code_and_pad_whole_blocks():
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 16, (3, 40))              # e2m1: 4-bit codes, K = 40
    scales = rng.integers(0, 256, (3, 2))
    words = mx_pack_words(scales, codes, "e2m1", axis=1)
    assert words.shape == (3, 64)
    assert (words[:, :40] & 15 == codes).all() and (words[:, 40:] & 15 == 0).all()
    assert (words[:, 31] >> 4 == scales[:, 0]).all() and (words[:, 63] >> 4 == scales[:, 1]).all()
    s, c = mx_unpack_words(words, "e2m1", axis=1)
    assert (s == scales).all() and (c[:, :40] == codes).all()
    # a block's scale is its last word's
    words[:, 5] = (words[:, 5] & 15) | (7 << 4)
    assert (mx_unpack_words(words, "e2m1", axis=1)[0] == scales).all()
    with pytest.raises(ValueError, match="whole blocks of 32"):
        mx_unpack_words(words[:, :40], "e2m1", axis=1)
    with pytest.raises(ValueError, match="need 2 scales"):
        mx_pack_words(scales[:, :1], codes, "e2m1", axis=1)


def _fp32(x):
    return np.float32(x).view(np.uint32).item()


@pytest.mark.parametrize("pe", ["mx:e4m3", "mx:e2m1:e5m2", "mx:int8:e3m2"])
def test_golden_gemm_is_blockwise_fp32_accumulation(pe):
    """Each output: per block the exact sum of element products (Fractions), times the two
    scales, added to an FP32 running sum with one rounding (numpy float64 holds every such
    sum exactly here, then rounds once to float32 ties-to-even), blocks in K order."""
    p = parse_pe(pe)
    rng = np.random.default_rng(5)
    M, K, N = 3, 70, 4
    A = rng.normal(0, 1, (M, K)) * np.exp2(rng.integers(-3, 4, (M, 1)))
    B = rng.normal(0, 1, (K, N))
    Ap, Bp = np.pad(A, ((0, 0), (0, 26))), np.pad(B, ((0, 26), (0, 0)))
    sa, ca = mx_quantize(Ap, p.a_fmt.name, axis=1)
    sb, cb = mx_quantize(Bp, p.w_fmt.name, axis=0)
    got = matmul((sa, ca[:, :K]), (sb, cb[:K]), pe, "os", 2, 2)
    va = mx_dequantize(sa, ca, p.a_fmt.name, axis=1)
    vb = mx_dequantize(sb, cb, p.w_fmt.name, axis=0)
    for m in range(M):
        for n in range(N):
            acc = np.float32(0)
            for blk in range(3):
                ks = slice(32 * blk, 32 * blk + 32)
                exact = sum(Fraction(float(x)) * Fraction(float(y))
                            for x, y in zip(va[m, ks], vb[ks, n]))
                total = Fraction(float(acc)) + exact
                acc = np.float32(float(total))          # float64 exact here, one rounding
                assert Fraction(float(float(total))) == total
            assert got[m, n] == _fp32(acc), (m, n)


def test_golden_words_and_pairs_agree_and_match_mx_dot():
    rng = np.random.default_rng(9)
    pe = parse_pe("mx:e4m3:e2m1")
    A, B = random_operands(rng, pe, 5, 64, 3)
    by_words = matmul(A, B, pe, "os", 4, 2)
    sa, ca = mx_unpack_words(A, "e4m3", 1)
    sb, cb = mx_unpack_words(B, "e2m1", 0)
    assert (matmul((sa, ca), (sb, cb), pe, "os", 4, 2) == by_words).all()
    for m in range(5):
        for n in range(3):
            y, _ = mx_dot((sa[m], ca[m]), (sb[:, n], cb[:, n]), "e4m3", "e2m1")
            assert by_words[m, n] == y
    assert np.isfinite(decode("fp32", by_words.astype(np.uint64))).all()
    a2, b2 = mx_operands((sa, ca), (sb, cb), pe)
    assert (a2 == A).all() and (b2 == B).all()


@pytest.mark.parametrize("kwargs, msg", [
    (dict(rows=2, cols=2, pe="mx:e4m3", dataflow="ws"), "output-stationary arrays only"),
    (dict(rows=MX_MAX_ROWS + 1, cols=2, pe="mx:e4m3", dataflow="os"), "between 1 and 32"),
    (dict(rows=2, cols=2, pe="mx:e4m3", dataflow="os", mul_latency=1),
     "adder latency 0..6 and multiplier latency 0, not 1 and 0"),
    (dict(rows=2, cols=2, pe="mx:e4m3", dataflow="os", add_latency=7), "not 0 and 7")])
def test_bad_arrays(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        ArraySpec(**kwargs)
    with pytest.raises(ValueError, match=msg):
        SystolicArray(**kwargs)
    with pytest.raises(ValueError, match="output-stationary"):
        matmul(np.zeros((1, 32), int), np.zeros((32, 1), int), "mx:e4m3", "ws")


def test_words_and_latency():
    spec = ArraySpec(3, 2, "mx:e2m1:e4m3", "os")
    assert spec.a_elem.width == 4 + 8 and spec.w_elem.width == 8 + 8
    assert spec.y_elem.width == 32
    assert spec.latency == ArraySpec(3, 2, "e4m3:exact", "os").latency + 1
    assert spec.module_name == "systolic_os_3x2_mx_e2m1_e4m3"
    piped = ArraySpec(3, 2, "mx:e2m1:e4m3", "os", add_latency=4)
    assert piped.latency == spec.latency + 4 and piped.cycles_per_tile == 3
    assert piped.module_name == "systolic_os_3x2_mx_e2m1_e4m3_l0_4"


def test_target_plans_the_accumulation_pipeline():
    from hwgen.arrays.pipeline import plan_pe_pipeline
    from hwgen.arrays.mxpe import mx_acc_cuts
    lo = plan_pe_pipeline("mx:e4m3", 5, "ecp5-85f", "os")
    hi = plan_pe_pipeline("mx:e4m3", 40, "ecp5-85f", "os")
    assert (lo.mul_latency, lo.add_latency) == (0, 0)
    assert hi.mul_latency == 0 and 1 <= hi.add_latency <= 6 and hi.estimate_mhz >= 40
    assert len(mx_acc_cuts(parse_pe("mx:e4m3"), hi.add_latency)) == hi.add_latency
    # one register fewer does not reach the target (the fewest registers are chosen)
    fewer = plan_pe_pipeline("mx:e4m3", hi.estimate_mhz - 0.01, "ecp5-85f", "os")
    assert fewer.add_latency == hi.add_latency
    with pytest.raises(ValueError, match=r"^Target of 500 MHz is not reachable for mx:e4m3 "
                                         r"PEs on ecp5-85f: the highest estimate is"):
        plan_pe_pipeline("mx:e4m3", 500, "ecp5-85f", "os")
    array = SystolicArray(2, 2, "mx:e4m3", "os", target_mhz=40, device="ecp5-85f")
    assert array.add_latency == hi.add_latency

"""MX arrays on a board: ``Accelerator.matmul`` on the simulated board (the gateware
``hwgen build --pe mx:...`` puts on it, under Verilator) with float matrices quantized per
block, pre-quantized ``(scales, codes)`` pairs and operand words, K not a whole number of
blocks; each result equal to :func:`hwgen.golden.matmul.matmul` bit for bit and close to the
float product of the dequantized operands; ``hwgen gemm`` on the same board; a whole model
(``hwgen run --pe mx:e4m3``) equal to the explorer's MX emulation."""

import numpy as np
import pytest

from hwgen.cli import main
from hwgen.golden.matmul import matmul, mx_operands
from hwgen.golden.mx import mx_dequantize, mx_quantize, mx_unpack_words
from hwgen.host import Accelerator

PE = "mx:e4m3:e2m1"


@pytest.fixture(scope="module")
def board():
    with Accelerator.simulate("icebreaker", 2, 2, PE, "os", timeout=2.0) as acc:
        yield acc


def _values(y):
    return y.astype(np.uint32).view(np.float32)


def test_float_matrices_are_quantized_per_block(board):
    rng = np.random.default_rng(2)
    A = rng.normal(0, 1, (5, 40)).astype(np.float32)       # K = 40: two blocks, padded
    B = rng.normal(0, 1, (40, 3)).astype(np.float32)
    y = board.matmul(A, B)
    assert y.shape == (5, 3) and y.dtype == np.uint64
    a, b = mx_operands(A, B, PE)
    assert a.shape == (5, 64) and b.shape == (64, 3)
    assert np.array_equal(y, matmul(a, b, PE, "os", 2, 2))
    # the product of the quantized operands, to FP32's precision
    sa, ca = mx_unpack_words(a, "e4m3", 1)
    sb, cb = mx_unpack_words(b, "e2m1", 0)
    ref = mx_dequantize(sa, ca, "e4m3", axis=1) @ mx_dequantize(sb, cb, "e2m1", axis=0)
    assert np.allclose(_values(y), ref, rtol=1e-5, atol=1e-6)
    # and a coarse approximation of the float product (FP4 weights)
    assert np.corrcoef(_values(y).ravel(), (A @ B).ravel())[0, 1] > 0.9


def test_pairs_and_words_give_the_same_bits(board):
    rng = np.random.default_rng(3)
    A = rng.normal(0, 4, (3, 96))
    B = rng.normal(0, 0.25, (96, 4))
    sa, ca = mx_quantize(A, "e4m3", axis=1)
    sb, cb = mx_quantize(B, "e2m1", axis=0)
    by_pairs = board.matmul((sa, ca), (sb, cb))
    words = mx_operands((sa, ca), (sb, cb), PE)
    assert np.array_equal(by_pairs, board.matmul(*words))
    assert np.array_equal(by_pairs, board.matmul(A, B))
    assert np.array_equal(by_pairs, matmul((sa, ca), (sb, cb), PE, "os", 2, 2))


def test_bad_operands(board):
    with pytest.raises(ValueError, match="bit-serial PEs .* not 'mx:e4m3:e2m1'"):
        board.matmul(np.zeros((2, 32)), np.zeros((32, 2)), bits=3)
    with pytest.raises(ValueError, match="MX operand A must be"):
        board.matmul(np.zeros((2, 32, 1)), np.zeros((32, 2)))


def test_cli_gemm(capsys):
    assert main(["gemm", "--pe", PE, "--dataflow", "os", "--shape", "3x33x2",
                 "--count", "1"]) == 0
    out = capsys.readouterr().out
    assert "IDENTIFY: 2x2 mx:e4m3:e2m1 os array" in out
    assert "gemm 1: 3x33x2 (K padded to 64: whole 32-element MX blocks), 6 results" in out
    assert "0 mismatches (bit-exact)" in out


def test_cli_run_model_on_an_mx_board(tmp_path, capsys):
    """mlp-iris layer by layer on a 2x1 ``mx:e4m3`` board: every layer's float operands
    quantized per block by the host, the scores equal the ``mxfp8_e4m3`` emulation's."""
    import json
    out = tmp_path / "run.json"
    assert main(["run", "mlp-iris", "--pe", "mx:e4m3", "--dataflow", "os", "--rows", "2",
                 "--cols", "1", "--board", "icebreaker", "--inputs", "3", "--quiet",
                 "--json", str(out)]) == 0, capsys.readouterr().err
    r = json.loads(out.read_text())
    assert r["candidate"] == "mxfp8_e4m3" and r["bit_exact"] and r["mismatches"] == 0
    assert r["scores_compared"] == 9 and r["path"] == "layer-by-layer"

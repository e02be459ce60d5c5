"""The simulated board behind the host driver (``Accelerator.simulate``, ``hwgen gemm``).

The board's gateware runs under Verilator in a subprocess (:mod:`hwgen.flow.simulated_board`); every
GEMM result is compared with :func:`hwgen.golden.matmul.matmul`, and the byte and cycle counts
the harness reports with what the driver sent and what the UART's bit time implies.
"""

import re

import numpy as np
import pytest

from boards.top import BoardTop
from hwgen.cli import main
from hwgen.golden.matmul import matmul, random_operands
from hwgen.host import Accelerator, CountingTransport, DeviceError
from hwgen.host_link import protocol as P


@pytest.fixture(scope="module")
def icebreaker():
    with Accelerator.simulate(board="icebreaker", rows=2, cols=2, pe="int8") as acc:
        yield acc


def test_identify_is_the_board_build(icebreaker):
    """IDENTIFY of the simulated board is the core ``hwgen build`` puts on the iCEBreaker
    (12 MHz clock, 1 Mbaud: divisor 12, SPRAM-deep buffers)."""
    top = BoardTop("icebreaker", 2, 2, "int8").unbuilt()
    info = icebreaker.info()
    assert info == top.core.info
    assert (info.clk_hz, info.divisor, info.depths["weights"]) == (12_000_000, 12, 16384)


def test_gemms_are_bit_exact_and_counted(icebreaker):
    spec = icebreaker.array
    rng = np.random.default_rng(7)
    t = icebreaker.transport
    before = t.stats()
    counting = CountingTransport(t)
    acc = Accelerator(counting, timeout=0.1)
    for M, K, N in [(5, 7, 3), (9, 4, 5), (1, 1, 1), (16, 33, 2)]:
        A, B = random_operands(rng, spec.pe, M, K, N)
        got = np.asarray(acc.matmul(A, B))
        exp = matmul(A, B, spec.pe, spec.dataflow, spec.rows, spec.cols)
        assert got.shape == exp.shape and (got == exp).all(), (M, K, N)
    after = t.stats()
    # Every byte the driver wrote was sent on the line, every byte it read came from it.
    assert after["bytes_to_board"] - before["bytes_to_board"] == counting.sent
    assert after["bytes_from_board"] - before["bytes_from_board"] == counting.received
    assert after["framing_errors"] == 0
    # At least ten bit times of 12 clocks per byte sent (the lines run one at a time at most
    # partly in parallel: a response follows its request).
    assert after["cycles"] - before["cycles"] >= 120 * counting.sent


def test_timeouts_count_simulated_time(icebreaker):
    t = icebreaker.transport
    c0 = t.stats()["cycles"]
    assert t.read(1, 0.001) == b""                    # nothing pending: the whole timeout
    assert t.stats()["cycles"] - c0 == 12_000          # 1 ms at 12 MHz


def test_error_replies_and_recovery(icebreaker):
    """A frame with a bad CRC is answered with an error; the board then works on."""
    frame = bytearray(P.encode_request(P.CMD_IDENTIFY))
    frame[-1] ^= 0xFF
    icebreaker.send_raw(frame)
    with pytest.raises(DeviceError, match="CRC"):
        icebreaker.receive()
    assert icebreaker.info(refresh=True).rows == 2
    assert icebreaker.status()["errors"] >= 1


def test_pipelined_float_array_on_the_ulx3s():
    """Another board (25 MHz, divisor 25), a pipelined float PE and credit flow control
    (``hwgen build --flow credit``: no array-wide stall enable, the result FIFO at least the
    array's full-rate depth; K-tiles chained through the psum feedback): still bit-exact."""
    with Accelerator.simulate(board="ulx3s-85f", rows=2, cols=3, pe="e4m3:fp16:rounded",
                              mul_latency=1, add_latency=2, flow="credit") as acc:
        array = acc.transport.core.array
        assert array.flow == "credit" and array.fifo_depth >= array.full_rate_depth
        info = acc.info()
        assert (info.clk_hz, info.divisor, info.mul_latency, info.add_latency) == \
            (25_000_000, 25, 1, 2)
        spec = acc.array
        rng = np.random.default_rng(3)
        A, B = random_operands(rng, spec.pe, 6, 5, 4)
        got = np.asarray(acc.matmul(A, B))
        assert (got == matmul(A, B, spec.pe, "ws", 2, 3)).all()


def test_bad_parameters_raise_before_a_build():
    with pytest.raises(ValueError, match="Board must be one of"):
        Accelerator.simulate(board="de0-nano")
    with pytest.raises(ValueError, match="Rows"):
        Accelerator.simulate(rows=0)
    with pytest.raises(ValueError, match="too low"):
        Accelerator.simulate(baud=7)


def test_hwgen_gemm(capsys):
    """The command of ``hwgen demo``'s board step, on the same design as above."""
    assert main(["gemm", "--shape", "3x10x4", "--count", "2", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "board: simulated icebreaker (hostlink_systolic_ws_2x2_int8_d12, Verilator)" in out
    assert re.search(r"^IDENTIFY: 2x2 int8 ws array, .* 12 MHz$", out, re.M), out
    assert out.count("3x10x4, 12 results, 0 mismatches against golden.matmul") == 2
    m = re.search(r"^total: 24 results, 0 mismatches \(bit-exact\); (\d+) bytes to the board, "
                  r"(\d+) back, (\d+) clock cycles", out, re.M)
    assert m, out
    sent, back, cycles = map(int, m.groups())
    assert cycles >= 120 * (sent + back) // 2


@pytest.mark.parametrize("argv, message", [
    (["--shape", "3x3"], "--shape must be MxKxN"),
    (["--shape", "0x1x1"], "--shape must be MxKxN"),
    (["--board", "foo"], "--board must be one of icebreaker, ulx3s-85f, not 'foo'"),
    (["--count", "0"], "--count must be a positive number of GEMMs, not 0"),
    (["--seed", "-1"], "--seed must be a non-negative integer, not -1"),
    (["--port", "/dev/null", "--pe", "int8"], "--pe describes the simulated board"),
    (["--rows", "0"], "Rows must be between 1 and 64, not 0"),
    (["--pe", "int8", "--mul-latency", "1"], "PE pipeline"),
    (["--clock-mhz", "500"], "PLL cannot make 500 MHz"),
    (["--baud", "7"], "Baud rate 7 is too low for a 12 MHz clock (at least 184)"),
    (["--baud", "0"], "--baud must be a positive number"),
])
def test_hwgen_gemm_refuses_bad_options(capsys, argv, message):
    assert main(["gemm", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("hwgen: error: ") and message in err and err.count("\n") == 1, err


def test_divisors_beyond_identify_are_refused():
    """IDENTIFY carries the UART divisor in 16 bits: a larger one is refused up front."""
    with pytest.raises(ValueError, match="4..65535"):
        P.check_divisor(70000)
    assert P.divisor_for(12e6, 184) == 65217
    with pytest.raises(ValueError, match="at least 184"):
        P.divisor_for(12e6, 183)

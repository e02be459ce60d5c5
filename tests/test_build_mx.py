"""MX arrays on both boards: ``hwgen build --pe mx:... --dataflow os --pe-pipeline auto``
makes a real bitstream for the iCEBreaker (UP5K) and the ULX3S 85F (ECP5) with the columns'
FP32 accumulation pipelined for the board clock, and meets it; bad MX options are one line
and exit 2 before any tool runs. (The same gateware runs GEMMs through the simulated UART
path in ``tests/test_host_mx.py``.)"""

import json

import pytest

from hwgen.cli import build_parser
from hwgen.cli.build import run as run_build
from hwgen.flow.build import check_bitstream


def _args(*argv):
    return build_parser().parse_args(["build", *argv])


@pytest.mark.parametrize("board, family, device_tag", [
    ("icebreaker", "ice40", "5k"), ("ulx3s-85f", "ecp5", "LFE5U-85F")])
def test_mx_array_bitstream(board, family, device_tag, tmp_path, capsys):
    status = run_build(_args("--board", board, "--rows", "2", "--cols", "1", "--pe", "mx:e2m1",
                             "--dataflow", "os", "--pe-pipeline", "auto", "-o", str(tmp_path),
                             "--json"))
    assert status == 0, capsys.readouterr().err
    report = json.loads(capsys.readouterr().out)
    assert (report["pe"], report["dataflow"], report["mul_latency"]) == ("mx:e2m1", "os", 0)
    assert report["add_latency"] >= 1            # planned for the board's clock
    assert report["timing_met"] and report["fmax_mhz"] > report["clock_mhz"]
    assert report["resources"]["lut"]["used"] > 1000
    assert f"device {device_tag}" in check_bitstream(report["bitstream"], family)


@pytest.mark.parametrize("argv, msg", [
    (("--pe", "mx:e4m3"), "PE 'mx:e4m3' runs in output-stationary arrays only (dataflow 'os'), "
                          "not 'ws'"),
    (("--pe", "mx:e4m3", "--dataflow", "os", "--mul-latency", "1"),
     "An MX PE pipeline is the columns' FP32 accumulation: adder latency 0..6 and multiplier "
     "latency 0, not 1 and 0 (mx:e4m3)"),
    (("--pe", "mx:e9m9", "--dataflow", "os"), "Invalid PE spec 'mx:e9m9': MX element format "
                                              "'e9m9' is not one of"),
    (("--pe", "mx:e4m3", "--dataflow", "os", "--target-mhz", "400"),
     "--target-mhz 400: Target of 400 MHz is not reachable for mx:e4m3 PEs on up5k"),
])
def test_bad_mx_options(argv, msg, capsys, tmp_path):
    status = run_build(_args("--board", "icebreaker", "--rows", "2", "--cols", "1", *argv,
                             "-o", str(tmp_path)))
    err = capsys.readouterr().err
    assert status == 2 and msg in err and len(err.strip().splitlines()) == 1, err
    assert not any(tmp_path.iterdir())            # no tool ran, nothing was written

"""Board bitstreams with the real YoWASP tools: one small build per FPGA family.

Each test builds a 2×2 int8 weight-stationary array with its buffers and UART host link
(:func:`hwgen.flow.build.build`), checks the report (JSON written and parsed, resources
within the device, Fmax measured and above the board clock) and that the bitstream unpacks
(yowasp-iceunpack / yowasp-ecpunpack). Builds take 1–2 minutes each on a loaded 2-core
machine (yosys + nextpnr dominate).
"""

import argparse
import json

from hwgen.flow.build import BuildResult, build, check_bitstream, format_build_table
from hwgen.flow.build_cli import add_build_parser, run_build
from hwgen.flow.devices import get_device


def _check(result, tmp_path, family, device_tag):
    report = json.loads((tmp_path / "report.json").read_text())
    assert BuildResult(**report).to_dict() == result.to_dict()
    dev = get_device(result.device)
    for kind in ("lut", "ff", "dsp", "bram", "io"):
        r = result.resources[kind]
        assert 0 <= r["used"] <= r["available"], (kind, r)
    assert result.resources["lut"]["used"] > 100
    assert result.resources["io"]["used"] >= 3          # clock, UART rx and tx
    assert result.resources["bram"]["used"] >= 4        # staging + three buffers
    assert result.fmax_mhz > result.clock_mhz and result.timing_met
    assert result.seed == 3 and result.device == dev.name
    verdict = check_bitstream(result.bitstream, family)
    assert f"device {device_tag}" in verdict
    table = format_build_table(result)
    assert "Fmax" in table and "timing met" in table


def test_build_icebreaker(tmp_path):
    result = build("icebreaker", 2, 2, "int8", "ws", tmp_path, seed=3, progress=False)
    assert result.bitstream.endswith(".bin") and result.clock_mhz == 12.0
    assert result.resources["dsp"]["used"] >= 1          # synth_ice40 -dsp: SB_MAC16
    _check(result, tmp_path, "ice40", "5k")


def test_build_ulx3s_85f(tmp_path):
    result = build("ulx3s-85f", 2, 2, "int8", "ws", tmp_path, seed=3, progress=False)
    assert result.bitstream.endswith(".bit") and result.clock_mhz == 25.0
    _check(result, tmp_path, "ecp5", "LFE5U-85F")


def _args(*argv):
    parser = argparse.ArgumentParser(prog="hwgen")
    add_build_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["build", *argv])


def test_build_cli_bad_board(capsys):
    status = run_build(_args("--board", "nexys", "--rows", "2", "--cols", "2", "--pe", "int8"))
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err == "hwgen: error: --board must be one of icebreaker, ulx3s-85f, not 'nexys'"


def test_build_cli_bad_dataflow(capsys):
    status = run_build(_args("--board", "icebreaker", "--rows", "2", "--cols", "2", "--pe",
                             "int8", "--dataflow", "xx"))
    assert status == 2
    assert capsys.readouterr().err.strip() == \
        "hwgen: error: --dataflow must be ws or os, not 'xx'"


def test_build_cli_bad_baud(capsys):
    status = run_build(_args("--board", "icebreaker", "--rows", "2", "--cols", "2", "--pe",
                             "int8", "--baud", "5000000"))
    assert status == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hwgen: error: Baud rate 5000000 is too high for a 12 MHz clock")

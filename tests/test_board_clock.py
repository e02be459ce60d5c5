# amaranth: UnusedElaboratable=no
"""Boards at a PLL clock (``hwgen build --clock-mhz``) and PE pipelines chosen for a clock
(``--target-mhz``), checked without running the tools: the board top's clock, UART divider
and module name, the PLL cell and its divider parameters in the netlist amaranth prepares
for yosys, and the options' validation. The real builds are in tests/test_build.py."""

import os
import re

import pytest

import boards
from boards.pll import ecp5_pll, ice40_pll, pll_at_most, pll_frequencies
from boards.top import BoardTop, uart_pll_at_most
from hwgen.arrays.pipeline import plan_pe_pipeline
from hwgen.cli import main
from hwgen.host_link.protocol import divisor_for


def _rtlil(top, board):
    from hwgen.flow.tools import tool_env
    old = dict(os.environ)
    os.environ.update(tool_env())        # the ULX3S platform looks for openFPGALoader
    try:
        plan = boards.get_board(board).platform().prepare(top, name="top")
    finally:
        os.environ.clear()
        os.environ.update(old)
    il = plan.files["top.il"]
    return il.decode() if isinstance(il, bytes) else il


def _cell_params(il, cell):
    m = re.search(rf"cell \\{cell} .*?\n((?:\s+parameter .*\n)+)", il)
    assert m, f"no {cell} cell"
    out = {}
    for name, value in re.findall(r"parameter \\(\S+) (.*)", m.group(1)):
        value = value.strip()
        out[name] = value.strip('"') if value.startswith('"') else value
    return out


@pytest.mark.parametrize("board, mhz, cfg, cell", [
    ("icebreaker", 30, ice40_pll(12, 30), "SB_PLL40_PAD"),
    ("ulx3s-85f", 40, ecp5_pll(25, 40), "EHXPLLL"),
])
def test_board_top_runs_from_the_pll(board, mhz, cfg, cell):
    top = BoardTop(board, 2, 2, "int8", clock_mhz=mhz)
    assert top.pll == cfg
    assert top.clk_hz == cfg.output_hz and top.oscillator_hz == cfg.input_mhz * 1e6
    # the UART divider and the inter-byte timeout follow the PLL clock
    assert top.divisor == divisor_for(cfg.output_hz, top.baud)
    assert top.divisor == round(cfg.output_mhz)
    assert top.module_name.endswith("_pll" + f"{cfg.output_mhz:.6g}".replace(".", "p"))
    il = _rtlil(top, board)
    params = _cell_params(il, cell)
    for k, v in cfg.parameters.items():
        got = params.get(k)
        assert got is not None, (k, params)
        if isinstance(v, str) and not v.lstrip("-").isdigit():
            assert got == v, (k, got, v)
        else:
            assert int(got.split("'")[-1], 2 if "'" in got else 10) == int(v), (k, got, v)
    # exactly one PLL, and the oscillator's design has none
    assert il.count(f"cell \\{cell} ") == 1
    plain = BoardTop(board, 2, 2, "int8")
    assert plain.clk_hz == cfg.input_mhz * 1e6 and plain.pll is None
    assert cell not in _rtlil(plain, board)


def test_clock_search_tries_only_clocks_with_a_uart_divider():
    # After the iCEBreaker's 12 MHz build reached 22.6 MHz, the most the PLL makes is 22.5 MHz,
    # where 1 Mbaud needs a divider of 22: 2.3 % off, which the board top refuses. The search
    # tries the fastest clock below it whose divider is within 2 % (checked here by hand).
    assert pll_at_most("ice40", 12, 22.6).output_mhz == 22.5
    with pytest.raises(ValueError, match=r"2\.3% off"):
        divisor_for(22.5e6, 1_000_000)
    usable = [f for f in pll_frequencies("ice40", 12)
              if f <= 22.6 and abs(f / round(f) - 1) <= 0.02]
    assert uart_pll_at_most("ice40", 12, 22.6, 1_000_000) == max(usable) < 22.5
    BoardTop("icebreaker", 2, 2, "int8", clock_mhz=max(usable))   # a top the board builds
    # None at all: below the PLL's lowest output.
    with pytest.raises(ValueError):
        uart_pll_at_most("ice40", 12, 15, 1_000_000)


def test_a_clock_the_pll_cannot_make_is_refused_before_anything_is_built():
    with pytest.raises(ValueError, match=r"iCE40 PLL cannot make 5 MHz: it makes 16.125 to "
                                         r"270 MHz from a 12 MHz clock"):
        BoardTop("icebreaker", 2, 2, "int8", clock_mhz=5)
    with pytest.raises(ValueError, match=r"ECP5 PLL cannot make 500 MHz"):
        BoardTop("ulx3s-85f", 2, 2, "int8", clock_mhz=500)


@pytest.mark.parametrize("argv, msg", [
    (["--clock-mhz", "5"], "--clock-mhz 5: iCE40 PLL cannot make 5 MHz"),
    (["--clock-mhz", "fast"], "--clock-mhz must be a number of MHz or auto, not 'fast'"),
    (["--clock-mhz", "-3"], "--clock-mhz -3: PLL output frequency must be a positive number"),
    (["--target-mhz", "0"], "--target-mhz must be a positive number of MHz, not 0"),
    (["--target-mhz", "20", "--mul-latency", "1"], "--target-mhz chooses the PE pipeline"),
    (["--target-mhz", "20", "--pe-pipeline", "auto"], "--target-mhz chooses the PE pipeline"),
    (["--target-mhz", "900"], "--target-mhz 900: Target of 900 MHz is not reachable"),
    (["--target-mhz", "20", "--dataflow", "os"], "has no PE pipeline"),
    (["--network"], "--network: Networks chain on a square weight-stationary array of intN or "
                    "F:F:rounded/fused PEs, not systolic_ws_2x2_e4m3_fp16_rounded"),
])
def test_build_options_are_checked_before_any_tool_runs(capsys, tmp_path, argv, msg):
    status = main(["build", "--board", "icebreaker", "--rows", "2", "--cols", "2", "--pe",
                   "e4m3:fp16:rounded", "-o", str(tmp_path / "b"), *argv])
    err = capsys.readouterr().err
    assert status == 2 and msg in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists()


def test_target_mhz_chooses_the_fewest_pe_stages_that_fit():
    from hwgen.arrays.pipeline import rounded_pe_estimate
    from hwgen.units import FloatAdder, FloatMultiplier
    for device, mhz in (("up5k", 12), ("up5k", 20), ("ecp5-85f", 40), ("ecp5-85f", 60)):
        p = plan_pe_pipeline("e4m3:fp16:rounded", mhz, device)
        chained = rounded_pe_estimate("e4m3:fp16:rounded", p.mul_latency, p.add_latency,
                                      device)
        assert chained.fmax_mhz >= mhz and p.estimate_mhz == chained.fmax_mhz
        # the multiplier's result runs on into the adder: the chain is never faster than
        # either operator alone
        mul = FloatMultiplier("e4m3", out_fmt="fp16", latency=p.mul_latency)
        add = FloatAdder("fp16", latency=p.add_latency)
        assert chained.fmax_mhz <= min(mul.estimate(device).fmax_mhz,
                                       add.estimate(device).fmax_mhz) + 1e-9
        assert chained.latency == p.mul_latency + p.add_latency
        # no pipeline with fewer registers in all reaches the clock
        total = p.mul_latency + p.add_latency
        for n in range(4):
            for m in range(4):
                if n + m < total:
                    assert rounded_pe_estimate("e4m3:fp16:rounded", n, m,
                                               device).fmax_mhz < mhz, (device, mhz, n, m)
    # a faster clock never takes fewer stages
    lat = [plan_pe_pipeline("e4m3:fp16:rounded", f, "ecp5-85f") for f in (20, 40, 60, 70)]
    assert [x.mul_latency + x.add_latency for x in lat] == \
        sorted(x.mul_latency + x.add_latency for x in lat)
    fused = plan_pe_pipeline("e4m3:fp16:fused", 40, "ecp5-85f")
    assert fused.mul_latency == 0 and fused.add_latency >= 1


def test_estimate_of_a_planned_unit_is_its_plan():
    from hwgen.units import FloatFMA, FloatMultiplier
    for u, dev in ((FloatMultiplier("bf16", target_mhz=25, device="up5k"), "up5k"),
                   (FloatFMA("e5m2", target_mhz=50, device="ecp5-85f"), "ecp5-85f")):
        assert u.estimate(dev).stage_ns == u.plan.stage_ns
        assert u.estimate(dev).cuts == u.plan.cuts

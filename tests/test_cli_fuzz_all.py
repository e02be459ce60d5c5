"""Every command, every option, random values: exit status 0 or 2 (one ``hwgen: error:``
line), never a traceback.

The options of each command are read from its own parser (so a new option is fuzzed without
editing this file), and each case gives one to four of them random values: numbers of every
sign and size, format and mode names, paths into folders that do not exist, random text.
A command line that passes every check would go on to real work (a place-and-route, a
simulation, a training): the functions that start that work are replaced, for this test only,
by a stop that records the command reached them. So the property checked is the CLI's:
every bad value is refused with one line before any work, and nothing a user can type
produces a traceback.
"""

import argparse
import contextlib
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwgen.cli import commands, main


class _Reached(Exception):
    """A command line passed its checks and reached the work."""


def _stop(*args, **kwargs):
    raise _Reached()


#: Where each command's work starts (``module:attribute``), replaced by :func:`_stop`.
_WORK = ["hwgen.flow.build:build", "hwgen.flow.build:search_clock", "hwgen.flow:synthesize",
         "hwgen.flow.synth:synthesize", "hwgen.flow.sweep:synthesize_jobs",
         "hwgen.export:to_verilog", "hwgen.flow.simulate:run",
         "hwgen.flow.sweep:simulate_jobs", "hwgen.host:Accelerator.simulate",
         "hwgen.host:Accelerator.open", "hwgen.train:train", "hwgen.explore.report:explore",
         "hwgen.explore.models:export_model", "hwgen.compress:compress_matrices",
         "hwgen.cli.demo:run_demo", "hwgen.verify:prove", "sim.floatop:plain_vectors"]

_VALUES = st.one_of(
    st.sampled_from(["", "0", "-1", "1", "2", "3", "65", "99999", "1e9", "-0.5", "2.5",
                     "nan", "inf", "x", "e4m3", "fp16", "e2m1", "int8", "e4m3:exact",
                     "bs8x8", "ws", "os", "rne", "dynamic", "exact", "fused", "-1%", "200%",
                     "icebreaker", "ulx3s-85f", "up5k", "ecp5-85f", "digits", "mlp-iris",
                     "no_such_dir/f.v", "no_such_dir/f.onnx", "/", "8x8x8", "3x3", "auto",
                     "router2", "mx", "32", "c3x8-p2", "tcp://127.0.0.1:1", "sim", "synth"]),
    st.text(max_size=8))


def _options(parser):
    """``[(option string, takes a value), ...]`` of a parser (help and version left out)."""
    out = []
    for a in parser._actions:
        if not a.option_strings or a.dest in ("help", "version"):
            continue
        out.append((max(a.option_strings, key=len), a.nargs != 0))
    return out


def _parsers():
    """``{argv prefix (tuple): option list}``: every command, and every unit of the
    commands that take one (``generate fmul``, ...)."""
    from hwgen.cli import build_parser
    top = build_parser()
    sub = next(a for a in top._actions if a.dest == "command")
    out = {}
    for name, p in sub.choices.items():
        usub = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if usub:
            for unit, up in usub[0].choices.items():
                out[(name, unit)] = _options(up)
        else:
            out[(name,)] = _options(p)
    return out


_PARSERS = _parsers()
#: Positional arguments some commands need first (a model, what to sweep).
_POSITIONAL = {"compress": ["gauss:4,3"], "run": ["mlp-iris"], "sweep": ["synth", "imac"]}


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as e:
            status = e.code
        except _Reached:
            status = "reached"
    return status, err.getvalue()


@pytest.fixture(autouse=True)
def _no_work(monkeypatch, tmp_path):
    import importlib
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HWGEN_BUILD_DIR", str(tmp_path / "build"))
    for spec in _WORK:
        mod, attr = spec.split(":")
        obj = importlib.import_module(mod)
        *path, last = attr.split(".")
        for p in path:
            obj = getattr(obj, p)
        monkeypatch.setattr(obj, last, staticmethod(_stop) if path else _stop)


def test_every_command_is_fuzzed():
    assert {p[0] for p in _PARSERS} == {c.name for c in commands()}


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.sampled_from(sorted(_PARSERS)).flatmap(
    lambda key: st.tuples(st.just(key), st.lists(
        st.tuples(st.sampled_from(_PARSERS[key] or [("--help", False)]), _VALUES),
        min_size=1, max_size=4))))
def test_any_command_line(case):
    key, opts = case
    argv = list(key) + _POSITIONAL.get(key[0], [])
    for (opt, takes), value in opts:
        argv += [f"{opt}={value}"] if takes else [opt]
    status, err = _run(argv)
    assert "Traceback" not in err, (argv, err)
    if status in (0, "reached"):
        return
    assert status == 2, (argv, status, err)
    lines = err.splitlines()
    # argparse's own refusals print the usage first; hwgen's checks print one line
    assert lines and ": error: " in lines[-1], (argv, err)
    assert all(": error: " not in line for line in lines[:-1]), (argv, err)

"""The verification library's shape (no simulator): product code never imports the test suite,
every unit the CLI simulates names a ``sim`` module with cocotb tests, cocotb finds each test of
a module once, the runner finds test modules where they are imported from, and the
scoreboard sums a run's tests through its report file."""

import ast
import importlib
import json
from pathlib import Path

import pytest
from cocotb import _decorators as cocotb_decorators

ROOT = Path(__file__).resolve().parent.parent


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def test_product_code_does_not_import_the_test_suite():
    bad = [f"{path.relative_to(ROOT)}: {name}"
           for pkg in ("hwgen", "sim", "boards") for path in sorted((ROOT / pkg).rglob("*.py"))
           for name in _imports(path) if name.split(".")[0] in ("rtl_tests", "tests")]
    assert bad == []


def _cocotb_tests(module):
    """The full names of the tests cocotb 2.1's discovery registers for ``module``: every
    Test and every test a TestGenerator (what ``@cocotb.test()`` makes) generates, for each
    name in the module's namespace (cocotb.regression.RegressionManager.discover_tests)."""
    names = []
    for obj in vars(importlib.import_module(module)).values():
        if isinstance(obj, cocotb_decorators.Test):
            names.append(obj.fullname)
        elif isinstance(obj, cocotb_decorators.TestGenerator):
            names += [t.fullname for t in obj.generate_tests()]
    return names


def _test_modules():
    from hwgen.catalog import all_units
    return {spec.name: spec.test_module for spec in all_units().values() if spec.test_module}


def test_every_simulated_unit_runs_a_sim_module():
    modules = _test_modules()
    assert len(modules) >= 15, modules
    for unit, module in modules.items():
        assert module.startswith("sim."), (unit, module)
        assert _cocotb_tests(module), (unit, module)


@pytest.mark.parametrize("path", sorted((ROOT / "rtl_tests").glob("test_*.py")),
                         ids=lambda p: p.stem)
def test_cocotb_finds_each_test_once(path):
    names = _cocotb_tests(f"rtl_tests.{path.stem}")
    assert len(names) == len(set(names)), names


def test_module_root():
    from sim.runner import module_root
    assert module_root("sim.fmul") == (ROOT / "sim").resolve().parent
    assert module_root("sim") == (ROOT / "sim").resolve().parent
    assert module_root("rtl_tests.test_imac") == ROOT.resolve()
    with pytest.raises(ValueError, match=r"^Test module must be an importable Python module, "
                                         r"not 'no_such_package\.test_x'"):
        module_root("no_such_package.test_x")


def test_scoreboard_sums_the_tests_of_a_run(tmp_path, monkeypatch):
    from sim.scoreboard import Scoreboard
    report = tmp_path / "report.json"
    monkeypatch.setenv("HWGEN_REPORT", str(report))
    sb = Scoreboard(results=0, cycles=[])
    sb.add(vectors=10, results=2, mismatches=1, first_mismatches=["a"], cycles=[[1, 2]])
    sb.set(bound=7)
    sb.finish()
    first = json.loads(report.read_text())
    assert (first["vectors"], first["results"], first["mismatches"], first["bound"]) == \
        (10, 2, 1, 7)
    # The next test of the run starts from the report; its own counts are its own.
    sb2 = Scoreboard(results=0, cycles=[])
    sb2.add(vectors=5, mismatches=0, cycles=[[3, 4]],
            first_mismatches=[f"x{i}" for i in range(30)])
    assert (sb2.mismatches, len(sb2.lines)) == (0, 30)
    totals = sb2.finish()
    assert totals == json.loads(report.read_text())
    assert (totals["vectors"], totals["mismatches"], totals["cycles"]) == (15, 1, [[1, 2], [3, 4]])
    assert totals["first_mismatches"] == ["a"] + [f"x{i}" for i in range(Scoreboard.FIRST - 1)]
    assert totals["seconds"] >= first["seconds"]

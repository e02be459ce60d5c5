"""hwgen works from an installed wheel, in any working directory.

The wheel is built from a copy of the checkout (offline: no build isolation, no index) and
installed into a fresh virtual environment in a temporary folder. The dependencies are not
downloaded: a ``.pth`` file puts this environment's site-packages *after* the new one's, and
the test checks that ``hwgen``, ``sim`` and ``boards`` are imported from the new environment
(this environment's editable hwgen is not) and that ``rtl_tests`` is not installed. From an
empty folder, ``hwgen sim fmul`` builds and simulates the multiplier against the golden model
and ``hwgen generate array`` writes Verilog, ``hwgen gemm`` runs GEMMs on the simulated board
(its C++ harness is package data); the builds land in ``./build`` of that folder and
nothing is written into the installed packages.
"""

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hwgen", "sim", "boards")


def _run(cmd, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert r.returncode == 0, f"{cmd}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def _files(site):
    """Every file of the installed packages except bytecode caches."""
    return {p.relative_to(site) for pkg in PACKAGES for p in (site / pkg).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """``(python, hwgen script, site-packages, clean environment)`` of the fresh install."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    # rtl_tests goes in too: the package configuration must leave it out.
    for pkg in PACKAGES + ("rtl_tests",):
        shutil.copytree(ROOT / pkg, src / pkg,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "--quiet", "-w", tmp / "dist", src])
    (wheel,) = (tmp / "dist").glob("hwgen-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
          "--no-index", "--quiet", wheel])
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
                .stdout.strip())
    # The dependencies: this environment's site-packages, after the new one's own.
    here = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
    (site / "zz_hwgen_test_deps.pth").write_text("".join(f"{p}\n" for p in sorted(here)))
    env = {k: v for k, v in os.environ.items()
           if k not in ("HWGEN_BUILD_DIR", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return python, venv / "bin" / "hwgen", site, env


def test_wheel_imports_from_the_install(installed, tmp_path):
    python, _, site, env = installed
    r = _run([python, "-c", "import hwgen, sim, boards, sim.runner, sim.fmul\n"
              "for m in (hwgen, sim, boards): print(m.__file__)\n"
              "try:\n import rtl_tests\nexcept ImportError:\n print('no rtl_tests')\n"],
             cwd=tmp_path, env=env)
    lines = r.stdout.split()
    assert lines[-1] == "rtl_tests", r.stdout
    for path in lines[:3]:
        assert Path(path).resolve().is_relative_to(site.resolve()), (path, site)


def test_wheel_sim_and_generate_from_an_empty_folder(installed, tmp_path):
    python, hwgen, site, env = installed
    before = _files(site)
    work = tmp_path / "work"
    work.mkdir()
    r = _run([hwgen, "sim", "fmul", "--format", "e4m3", "--vectors", "2000"], cwd=work,
             env=env, timeout=600)
    assert re.search(r"^fmul_e4m3_rne on verilator: 2000 vectors checked, 0 mismatches, ",
                     r.stdout, re.M), r.stdout
    r = _run([hwgen, "generate", "array", "--rows", "2", "--cols", "2", "-o", "a.v"],
             cwd=work, env=env, timeout=300)
    assert "module systolic_" in (work / "a.v").read_text()
    # The simulated board (Accelerator.simulate): its C++ harness ships as package data.
    r = _run([hwgen, "gemm", "--shape", "3x4x5", "--count", "1"], cwd=work, env=env,
             timeout=600)
    assert "total: 15 results, 0 mismatches (bit-exact)" in r.stdout, r.stdout
    # Everything written is in the working folder: a.v and the build folder, whose sim/
    # holds the simulator builds of the multiplier (16 copies side by side: hwgen sim's
    # top for a combinational operator) and of the board.
    assert sorted(p.name for p in work.iterdir()) == ["a.v", "build"]
    top = work / "build" / "sim" / "fmul_e4m3_rne_x16-verilator" / "fmul_e4m3_rne_x16.v"
    assert "module fmul_e4m3_rne(" in top.read_text()
    assert list((work / "build" / "sim" / "board").glob("hostlink_systolic_ws_2x2_int8_d12-*"))
    assert _files(site) == before

"""Optional extras: a missing one is named in one line, never a traceback."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from hwgen.extras import EXTRAS, MissingExtra, require


def test_require_returns_the_module():
    import json
    assert require("json", "host") is json


def test_missing_module_names_the_extra():
    with pytest.raises(MissingExtra, match=r"^the host driver's serial port needs the 'host' "
                                           r"extra \(hwgen_no_such_module is not installed\): "
                                           r"pip install 'hwgen\[host\]'$"):
        require("hwgen_no_such_module", "host")


def test_unknown_extra():
    with pytest.raises(ValueError, match=r"^Extra must be one of explore, host, sweep, verify, train, "
                                         r"not 'gui'$"):
        require("json", "gui")


def test_extras_match_pyproject():
    """Every extra named in the errors is defined in pyproject.toml (so the pip line works),
    and ``make test``/``make demo`` install it."""
    root = Path(__file__).resolve().parent.parent
    text = (root / "pyproject.toml").read_text()
    section = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
    defined = set(re.findall(r"^([A-Za-z0-9_-]+) = \[", section, re.M))
    installed = re.search(r"install --quiet -e '\.\[([^]]*)\]'",
                          (root / "Makefile").read_text()).group(1).split(",")
    for extra in EXTRAS:
        assert extra in defined, f"extra {extra!r} not in pyproject.toml"
        assert extra in installed, f"extra {extra!r} not installed by the Makefile"


def _blocked(modules, code):
    """Run ``code`` in a fresh interpreter where ``modules`` cannot be imported."""
    pre = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in modules)
    return subprocess.run([sys.executable, "-c", pre + code], capture_output=True, text=True)


def test_serial_transport_without_pyserial():
    r = _blocked(["serial"], "from hwgen.host import SerialTransport\n"
                             "SerialTransport('/dev/null')\n")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == (
        "hwgen.extras.MissingExtra: the host driver's serial port needs the 'host' extra "
        "(serial is not installed): pip install 'hwgen[host]'")


def test_sweep_without_dask_names_the_extra(tmp_path):
    # A sweep asking for a local Dask cluster without the extra: one line, exit 2 (the
    # default, no --workers and no scheduler, runs serially then).
    code = ("import sys\nfrom hwgen.cli import main\n"
            f"sys.exit(main(['sweep', 'synth', 'imac', '--device', 'up5k', '--build-dir', "
            f"{str(tmp_path)!r}, '--workers', '2']))\n")
    r = _blocked(["distributed"], code)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines()[-1] == (
        "hwgen: error: sweeps on Dask (a local cluster or --scheduler) needs the 'sweep' extra "
        "(distributed is not installed): pip install 'hwgen[sweep]'")

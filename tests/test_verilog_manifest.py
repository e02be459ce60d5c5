"""Generated Verilog is what the manifest says, byte for byte (see bench/verilog_manifest.py).

A refactor must leave every design's Verilog unchanged; a deliberate change updates the
manifest in the same commit (``python bench/verilog_manifest.py --update``).
"""

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import verilog_manifest  # noqa: E402

EXPECTED = json.loads(verilog_manifest.MANIFEST.read_text())


@pytest.mark.parametrize("name", sorted(verilog_manifest.designs()))
def test_verilog_unchanged(name):
    text = verilog_manifest.designs()[name]()
    assert verilog_manifest.digest(text) == EXPECTED[name], (
        f"{name}: generated Verilog changed; if meant, run "
        f"python bench/verilog_manifest.py --update")


def test_manifest_covers_every_catalog_unit():
    from hwgen.catalog import all_units
    used = {argv[0] for argv in verilog_manifest.GENERATE.values()}
    assert used == set(all_units())

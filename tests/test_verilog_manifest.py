"""Generated Verilog is what the manifest says, byte for byte (see bench/verilog_manifest.py).

A refactor must leave every design's Verilog unchanged; a deliberate change updates the
manifest in the same commit (``python bench/verilog_manifest.py --update``).
"""

import importlib.util
import json
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

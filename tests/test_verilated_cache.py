"""The Verilator run-time object cache follows make's rules: a cached object is used only
when every prerequisite its dependency file names is older than it and outside the design."""

import os
import time

from hwgen.flow import verilated_cache as vc


def _entry(folder, name, deps, mtime):
    folder.mkdir(parents=True, exist_ok=True)
    obj = folder / name
    obj.write_bytes(b"object " + name.encode())
    obj.with_suffix(".d").write_text(f"{name}: \\\n " + " \\\n ".join(map(str, deps)) + "\n")
    os.utime(obj, (mtime, mtime))
    return obj


def test_store_then_seed_copies_objects_newer_than_the_makefile(tmp_path):
    header = tmp_path / "include" / "verilated.h"
    header.parent.mkdir()
    header.write_text("//")
    os.utime(header, (1000, 1000))
    build = tmp_path / "b1"
    _entry(build, "verilated.o", [header], 2000)
    cache = tmp_path / "cache"
    vc.store(build, cache, ["verilated.o"])
    assert (cache / "verilated.o").read_bytes() == b"object verilated.o"

    fresh = tmp_path / "b2"
    fresh.mkdir()
    (fresh / "Vtop.mk").write_text("")
    before = time.time()
    assert vc.seed(fresh, cache, ["verilated.o", "verilated_vpi.o"]) == ["verilated.o"]
    assert (fresh / "verilated.o").read_bytes() == b"object verilated.o"
    assert (fresh / "verilated.d").exists()
    assert (fresh / "verilated.o").stat().st_mtime >= before - 1
    assert not (fresh / "verilated_vpi.o").exists()


def test_an_object_older_than_a_prerequisite_is_not_used(tmp_path):
    header = tmp_path / "verilated.h"
    header.write_text("//")
    cache = tmp_path / "cache"
    _entry(cache, "verilated.o", [header], 1000)    # the header changed after the compile
    fresh = tmp_path / "b"
    fresh.mkdir()
    assert vc.seed(fresh, cache, ["verilated.o"]) == []
    assert not (fresh / "verilated.o").exists()


def test_an_object_depending_on_design_files_is_neither_stored_nor_seeded(tmp_path):
    build = tmp_path / "b"
    (build).mkdir()
    (build / "Vtop.h").write_text("//")
    os.utime(build / "Vtop.h", (1000, 1000))
    _entry(build, "verilator.o", ["Vtop.h"], 2000)
    cache = tmp_path / "cache"
    vc.store(build, cache, ["verilator.o"])
    assert not (cache / "verilator.o").exists()
    _entry(cache, "verilator.o", ["Vtop.h"], 2000)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert vc.seed(fresh, cache, ["verilator.o"]) == []


def test_a_missing_prerequisite_disables_the_entry(tmp_path):
    cache = tmp_path / "cache"
    _entry(cache, "verilated.o", [tmp_path / "gone.h"], 2000)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert vc.seed(fresh, cache, ["verilated.o"]) == []


def _verilate(folder, name):
    """Run the ``verilator`` step only (no C++ compile) on a one-register design."""
    import subprocess
    from sim.tools import setup_verilator
    bindir = setup_verilator()
    folder.mkdir()
    src = folder / f"{name}.v"
    src.write_text(f"module {name}(input clk, input [3:0] d, output reg [3:0] q);\n"
                   "  always @(posedge clk) q <= d;\nendmodule\n")
    subprocess.run([str(bindir / "verilator"), "-cc", "--exe", "--vpi", "-Mdir", str(folder),
                    "--prefix", "Vtop", "--top-module", name, str(src)],
                   check=True, capture_output=True)


def test_the_key_is_the_same_for_two_designs_even_under_an_outer_make(tmp_path, monkeypatch):
    # Under `make test` a sub-make prints "Entering directory <build folder>": that must
    # not make every design's key different.
    monkeypatch.setenv("MAKELEVEL", "1")
    keys = []
    for name in ("one", "two"):
        _verilate(tmp_path / name, name)
        objs = vc.global_objects(tmp_path / name, ["VM_TRACE=0"])
        assert "verilated.o" in objs and "verilated_vpi.o" in objs
        keys.append(vc.cache_key(tmp_path / name, ["VM_TRACE=0"], objs))
    assert keys[0] is not None and keys[0] == keys[1]
    # Tracing compiles the run-time library differently: another key.
    objs = vc.global_objects(tmp_path / "one", ["VM_TRACE=1"])
    assert vc.cache_key(tmp_path / "one", ["VM_TRACE=1"], objs) != keys[0]


def test_cache_root_is_the_shared_folder_when_one_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv(vc.CACHE_ENV, str(tmp_path / "shared"))
    assert vc.cache_root() == (tmp_path / "shared").resolve()
    monkeypatch.delenv(vc.CACHE_ENV)
    monkeypatch.setenv("HWGEN_BUILD_DIR", str(tmp_path / "b"))
    assert vc.cache_root() == (tmp_path / "b" / "sim" / "verilated-runtime").resolve()

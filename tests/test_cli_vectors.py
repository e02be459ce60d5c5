"""``hwgen vectors``: the plain testbench's golden vector file, checked against ml_dtypes."""

import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest

from hwgen.cli import main


def _fields(words, widths):
    """Split each word into ``{name: array}`` by ``[(name, width), ...]`` (high bits first)."""
    out, shift = {}, 0
    for name, width in reversed(widths):
        out[name] = (words >> shift) & ((1 << width) - 1)
        shift += width
    return out


def test_fmul_e4m3_exhaustive_agrees_with_ml_dtypes(tmp_path, capsys):
    path = tmp_path / "v.hex"
    assert main(["vectors", "fmul", "--format", "e4m3", "--exhaustive", "-o", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"wrote {path}: 65536 vectors for module fmul_e4m3_rne",
        "testbench defines: -DDUT=fmul_e4m3_rne -DWA=8 -DWB=8 -DWY=8 -DLATENCY=0 -DNMAX=65536"]
    lines = path.read_text().splitlines()
    assert {len(ln) for ln in lines} == {8}       # 3 + 1 + 8 + 8 + 4 + 8 = 32 bits
    words = np.array([int(ln, 16) for ln in lines], dtype=np.int64)
    f = _fields(words, [("rm", 3), ("c", 1), ("b", 8), ("a", 8), ("flags", 4), ("y", 8)])
    assert not f["rm"].any() and not f["c"].any()
    # Every operand pair exactly once.
    assert len(set(zip(f["a"].tolist(), f["b"].tolist()))) == 65536
    e4m3 = ml_dtypes.float8_e4m3fn
    a = f["a"].astype(np.uint8).view(e4m3).astype(np.float64)
    b = f["b"].astype(np.uint8).view(e4m3).astype(np.float64)
    prod = a * b                                   # exact: 4-bit x 4-bit significands
    ok = np.isfinite(prod) & (np.abs(prod) <= 448)  # in range: one rounding, no overflow rule
    want = prod[ok].astype(e4m3).view(np.uint8)
    got = f["y"][ok].astype(np.uint8)
    assert ok.sum() > 50000
    assert np.array_equal(got, want)


def test_ffma_pipelined_defines(tmp_path, capsys):
    path = tmp_path / "v.hex"
    assert main(["vectors", "ffma", "--format", "bf16", "--rounding", "dynamic", "--latency",
                 "2", "--vectors", "100", "-o", str(path), "--top", "my_fma"]) == 0
    out = capsys.readouterr().out.splitlines()
    n = len(path.read_text().splitlines())
    assert n > 100
    assert out[1] == ("testbench defines: -DDUT=my_fma -DWA=16 -DWB=16 -DWY=16 -DLATENCY=2 "
                      f"-DNMAX={n} -DHAS_C=1 -DWC=16 -DHAS_RM=1 -DCLOCKED=1")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "hwgen", "vectors", *args],
                          capture_output=True, text=True)


@pytest.mark.parametrize("args, message", [
    (["imac", "-o", "v.hex"],
     "hwgen vectors writes vectors for the plain float testbench: fmul, fadd, ffma, not 'imac'"),
    (["fmul", "--format", "e4m3"],
     "missing -o/--output FILE.hex: the vector file to write (e.g. -o vectors.hex)"),
    (["fmul", "--vectors", "0", "-o", "v.hex"], "--vectors must be a positive integer, not 0"),
    (["fmul", "--format", "fp16", "--exhaustive", "-o", "v.hex"],
     "--exhaustive: fmul --format fp16 has 4,294,967,296 input combinations, more than 2**26 = "
     "67,108,864; use --vectors N"),
    (["fadd", "--subtract", "dynamic", "-o", "v.hex"],
     "the plain testbench has no op input: give fadd a fixed --subtract, not dynamic"),
    (["fmul", "-o", "no_such_dir/v.hex"], "output directory 'no_such_dir' does not exist"),
])
def test_bad_input(args, message, tmp_path):
    r = subprocess.run([sys.executable, "-m", "hwgen", "vectors", *args], capture_output=True,
                       text=True, cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", f"hwgen: error: {message}\n")
    assert not (tmp_path / "v.hex").exists()


def test_no_flags_unit_expects_zero_flags(tmp_path, capsys):
    """``--no-flags``: the same vectors as the unit with flags, the flags fields 0, and the
    testbench told (``-DNO_FLAGS=1``) that the unit has no flags port."""
    words = {}
    for extra in ([], ["--no-flags"]):
        path = tmp_path / f"v{len(extra)}.hex"
        assert main(["vectors", "fadd", "--format", "e4m3", "--exhaustive", *extra,
                     "-o", str(path)]) == 0
        out = capsys.readouterr().out.splitlines()
        assert ("-DNO_FLAGS=1" in out[1].split()) == bool(extra)
        w = np.array([int(ln, 16) for ln in path.read_text().splitlines()], dtype=np.int64)
        words[bool(extra)] = _fields(w, [("rm", 3), ("c", 1), ("b", 8), ("a", 8),
                                         ("flags", 4), ("y", 8)])
    with_flags, without = words[False], words[True]
    assert with_flags["flags"].any() and not without["flags"].any()
    for name in ("a", "b", "y"):
        assert np.array_equal(with_flags[name], without[name])

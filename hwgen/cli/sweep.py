"""``hwgen sweep synth|sim UNIT ...``: a grid of out-of-context syntheses or of
simulations, on Dask.

``hwgen sweep sim UNIT`` takes the options of ``hwgen sim UNIT`` the same way; each point is
checked as ``hwgen sim`` would and sent to a worker as values (the Verilog, the cocotb module
of the verification library and its parameters): a table of vectors, mismatches and verified
vectors/s per point.

Every option of ``hwgen synth UNIT`` is accepted; a value with commas
(``--format e4m3,e5m2,fp16 --device up5k,ecp5-85f --seed 1,2,3``) is an axis of the grid,
and every combination is one synthesis. Each combination is parsed and checked exactly as
``hwgen synth`` would, before any tool runs. The syntheses go through
:mod:`hwgen.flow.sweep` (a local Dask cluster, ``--scheduler``, or ``--workers 1``); results
already in the cache are not run again.
"""

import argparse
import contextlib
import csv
import io
import itertools
import json
from pathlib import Path

from ._command import Command, fail

__all__ = ["COMMAND", "expand_grid"]

_HELP = ("run a grid of syntheses or simulations (hwgen synth|sim with comma-separated "
         "values) on Dask and write a table")

_EPILOG = """\
Examples:
  hwgen sweep synth fmul --format e4m3,e5m2,fp16 --device up5k,ecp5-85f -o fmul.csv
  hwgen sweep sim fadd --format e2m1,e3m2,e4m3 --rounding rne,dynamic --exhaustive

Options with commas are the grid's axes; every other option of `hwgen synth UNIT` applies to
every point. --scheduler tcp://HOST:PORT (or $HWGEN_SCHEDULER) runs on a Dask cluster,
--workers N on a local one of N worker processes (default: one per core), --workers 1
serially without Dask. Finished syntheses are cached (build/synth/cache, or $HWGEN_BUILD_DIR):
a sweep run again runs only what is missing."""

#: Options of ``hwgen synth`` that make no sense per point of a sweep.
_NOT_IN_SWEEP = ("--json", "--json-out", "--no-cache", "--top")

_COLUMNS = ("module", "device", "seed", "lut", "carry", "ff", "dsp", "bram", "fmax_mhz",
            "latency", "status", "cached", "worker")

#: Options of ``hwgen sim`` that make no sense per point of a sweep.
_NOT_IN_SIM_SWEEP = ("--waves", "--top")

_SIM_COLUMNS = ("module", "vectors", "mismatches", "vectors_per_s", "status", "worker")


def add_arguments(p):
    p.add_argument("what", metavar="synth|sim",
                   help="what to sweep: synth (out-of-context syntheses) or sim (simulations "
                        "against the golden model)")
    p.add_argument("unit", metavar="UNIT", help="a unit of the catalog (hwgen generate --help)")
    p.add_argument("options", nargs=argparse.REMAINDER, metavar="...",
                   help="hwgen synth|sim UNIT options, comma-separated values for the grid's "
                        "axes; and --scheduler ADDR, --workers N, -o FILE.json|FILE.csv")


def expand_grid(argv):
    """``argv`` with comma-separated option values → ``(axes, [argv, ...])``: the options
    that have several values (in order) and one argument list per combination."""
    parts, axes = [], []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("--") and "=" in a:
            opt, value = a.split("=", 1)
        elif a.startswith("-") and i + 1 < len(argv) and not argv[i + 1].startswith("--"):
            opt, value = a, argv[i + 1]
            i += 1
        else:
            parts.append([[a]])
            i += 1
            continue
        values = value.split(",") if "," in value else [value]
        if len(values) > 1:
            if any(v == "" for v in values):
                raise ValueError(f"{opt} {value!r}: an empty value in the list")
            axes.append(opt)
        parts.append([[opt, v] for v in values])
        i += 1
    combos = [[tok for piece in combo for tok in piece] for combo in itertools.product(*parts)]
    return axes, combos


def _split_own(options):
    """Separate ``--scheduler``, ``--workers`` and ``-o/--output`` from the unit's options."""
    own = argparse.ArgumentParser(prog="hwgen sweep", add_help=False)
    own.add_argument("--scheduler", default=None)
    own.add_argument("--workers", default=None)
    own.add_argument("-o", "--output", default=None)
    ns, rest = own.parse_known_args(options)
    return ns, rest


def _value(args, opt):
    return getattr(args, opt.lstrip("-").replace("-", "_"), None)


def run(args):
    from ..flow.sweep import SweepError, check_scheduler, check_workers
    if args.what not in ("synth", "sim"):
        return fail(f"hwgen sweep {args.what!r}: what to sweep must be synth or sim")
    try:
        own, rest = _split_own(args.options)
    except SystemExit:
        return fail("--scheduler, --workers and -o each need a value")
    workers = None
    if own.workers is not None:
        try:
            workers = check_workers(int(own.workers))
        except (ValueError, SweepError):
            return fail(f"--workers must be a positive integer, not {own.workers!r}")
    try:
        scheduler = check_scheduler(own.scheduler)
    except SweepError as e:
        return fail(f"--scheduler: {e}")
    if scheduler is not None and workers is not None:
        return fail("--scheduler and --workers: give one (a cluster's workers, or N local "
                    "ones)")
    out = None
    if own.output is not None:
        out = Path(own.output)
        if out.suffix not in (".json", ".csv"):
            return fail(f"-o {own.output!r}: the table is written as .json or .csv")
        if out.is_dir() or not out.parent.exists():
            return fail(f"-o {own.output!r}: not a file in an existing directory")
    not_here = _NOT_IN_SWEEP if args.what == "synth" else _NOT_IN_SIM_SWEEP
    bad = [o for o in rest if o.split("=", 1)[0] in not_here]
    if bad:
        return fail(f"{bad[0]} is not a sweep option (the sweep writes one table: -o)")
    try:
        axes, combos = expand_grid(rest)
    except ValueError as e:
        return fail(str(e))
    if len(combos) > 10000:
        return fail(f"the grid has {len(combos)} points; at most 10000")
    if args.what == "sim":
        return _run_sims(args.unit, axes, combos, scheduler, workers, out, own.output)
    points = []
    for combo in combos:
        point = _plan_point(args.unit, combo)
        if isinstance(point, str):
            return fail(point if len(combos) == 1 else f"{' '.join(combo)}: {point}")
        points.append(point)
    from ..flow.sweep import synthesize_jobs
    build_roots = {p["build_root"] for p in points}
    outcomes = []
    try:
        for root in sorted(build_roots, key=str):
            idx = [k for k, p in enumerate(points) if p["build_root"] == root]
            res = synthesize_jobs([points[k]["job"] for k in idx], scheduler=scheduler,
                                  workers=workers, build_root=root)
            outcomes += list(zip(idx, res))
    except SweepError as e:
        return fail(str(e))
    outcomes.sort(key=lambda t: t[0])
    rows = [_row(points[k], o, axes) for k, o in outcomes]
    cols = list(axes) + [c for c in _COLUMNS if c not in ("device", "seed")
                         or f"--{c}" not in axes]
    n_fail = sum(r["status"] not in ("ok", "does not fit") for r in rows)
    n_cached = sum(bool(r["cached"]) for r in rows)
    return _report(rows, cols, f"{len(rows)} points: {len(rows) - n_cached} synthesized, "
                   f"{n_cached} from the cache, {n_fail} failed", n_fail, out, own.output)


def _report(rows, cols, summary, n_fail, out, out_name):
    """Print the table and ``summary``, write ``out`` (.json or .csv); the exit status."""
    print(_table(rows, cols))
    print(summary)
    if out is not None:
        try:
            out.write_text(_json(rows) if out.suffix == ".json" else _csv(rows, cols))
        except OSError as e:
            return fail(f"cannot write {out_name!r}: {e.strerror}")
        print(f"wrote {out}")
    return 1 if n_fail else 0


def _run_sims(unit, axes, combos, scheduler, workers, out, out_name):
    """``hwgen sweep sim``: every point checked as ``hwgen sim`` would, then all simulated as
    one sweep (:func:`hwgen.flow.sweep.simulate_jobs`)."""
    from ..flow.sweep import SimJob, SweepError, simulate_jobs
    points = []
    for combo in combos:
        point = _plan_sim_point(unit, combo)
        if isinstance(point, str):
            return fail(point if len(combos) == 1 else f"{' '.join(combo)}: {point}")
        points.append(point)
    try:
        outcomes = simulate_jobs([SimJob(**p["job"]) for p in points], scheduler=scheduler,
                                 workers=workers)
    except SweepError as e:
        return fail(str(e))
    rows = []
    for p, o in zip(points, outcomes):
        row = {opt: _value(p["args"], opt) for opt in axes}
        row.update(module=p["module"], worker="")
        if isinstance(o, Exception):
            row["status"] = "failed: " + (str(o).splitlines()[0] if str(o) else
                                          type(o).__name__)
        else:
            rep = o["report"]
            n, bad, secs = rep.get("vectors", 0), rep.get("mismatches", 0), rep.get("seconds")
            row.update(vectors=n, mismatches=bad, worker=o["worker"],
                       vectors_per_s=round(n / secs) if secs else None,
                       status=("ok" if o["tests"] and not o["failed"] and not bad else
                               f"failed: {o['failed']} of {o['tests']} tests, {bad} "
                               f"mismatches"))
        rows.append(row)
    cols = list(axes) + list(_SIM_COLUMNS)
    n_fail = sum(r["status"] != "ok" for r in rows)
    return _report(rows, cols, f"{len(rows)} points: {len(rows) - n_fail} passed, {n_fail} "
                   f"failed", n_fail, out, out_name)


def _parse_point(command, unit, combo):
    """``hwgen <command> UNIT <combo>`` parsed by that command's own parser: the namespace,
    or an error line (argparse's message is not printed: the sweep's one line says it)."""
    from ._command import make_parser
    parser = make_parser([command], only=command.name)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            return parser.parse_args([command.name, unit, *combo])
    except SystemExit:
        return (f"not a valid hwgen {command.name} {unit} command line (see hwgen "
                f"{command.name} {unit} --help)")


def _plan_sim_point(unit, combo):
    """Parse and check ``hwgen sim UNIT <combo>``: a dict with the :class:`SimJob` fields,
    or an error line."""
    import os
    from ..export import to_verilog
    from ..flow.simulate import setup_simulator
    from .sim import COMMAND as SIM
    from .sim import plan
    ns = _parse_point(SIM, unit, combo)
    if isinstance(ns, str):
        return ns
    with contextlib.redirect_stdout(io.StringIO()):
        planned = plan(ns)
    if isinstance(planned, str):
        return planned
    comp, test_module, params, top = planned
    sim = ns.sim or os.environ.get("SIM", "verilator")
    try:
        setup_simulator(sim)
        verilog, toplevel = top if top is not None else to_verilog(comp)[::-1]
    except (ValueError, TypeError, RuntimeError) as e:
        return str(e).splitlines()[0]
    return dict(args=ns, module=comp.module_name, job=dict(verilog=verilog, toplevel=toplevel,
                                  test_module=test_module, params=params, sim=sim,
                                  seed=ns.seed))


def _plan_point(unit, combo):
    """Parse ``hwgen synth UNIT <combo>`` and plan its synthesis: a dict, or an error line."""
    from ..flow.synth import plan_synthesis, synthesis_verilog
    from ._command import build_unit
    from .synth import COMMAND as SYNTH
    from .synth import check_args
    ns = _parse_point(SYNTH, unit, combo)
    if isinstance(ns, str):
        return ns
    bad = check_args(ns)
    if bad is not None:
        return bad
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            comp = build_unit(ns)
        top, text = synthesis_verilog(comp, ns.device)
        from ..flow.synth import default_build_root
        root = Path(ns.build_dir) if ns.build_dir is not None else default_build_root()
        job = plan_synthesis(text, top, ns.device, seed=ns.seed, freq=ns.freq,
                             dsp=not ns.no_dsp, router=ns.router, build_root=root)
    except (ValueError, TypeError) as e:
        return str(e).splitlines()[0]
    latency = getattr(comp, "latency", None)
    return dict(args=ns, job=job, build_root=root,
                latency=latency if isinstance(latency, int) else None)


def _row(point, outcome, axes):
    from ..flow.errors import DoesNotFit
    ns, job = point["args"], point["job"]
    row = {opt: _value(ns, opt) for opt in axes}
    row.update(module=job.top, device=job.device.name, seed=job.seed,
               latency=point["latency"], cached=False, worker="")
    if isinstance(outcome, DoesNotFit):
        row["status"] = "does not fit"
    elif isinstance(outcome, Exception):
        row["status"] = "failed: " + (str(outcome).splitlines()[0] if str(outcome) else
                                      type(outcome).__name__)
    else:
        u = outcome.unit
        row.update(lut=u.get("lut"), carry=u.get("carry"), ff=u.get("ff"), dsp=u.get("dsp"),
                   bram=u.get("bram"), fmax_mhz=outcome.fmax_mhz, status="ok",
                   cached=bool(outcome.cached), worker=outcome.worker)
    return row


def _table(rows, cols):
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in cols] for r in rows]
    heads = [c.lstrip("-") for c in cols]
    widths = [max([len(h)] + [len(x[i]) for x in cells]) for i, h in enumerate(heads)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(x.ljust(w) for x, w in zip(cell, widths)) for cell in cells]
    return "\n".join(lines)


def _json(rows):
    return json.dumps([{k.lstrip("-"): v for k, v in r.items()} for r in rows], indent=2) + "\n"


def _csv(rows, cols):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([c.lstrip("-") for c in cols])
    for r in rows:
        w.writerow(["" if r.get(c) is None else r.get(c) for c in cols])
    return buf.getvalue()


COMMAND = Command("sweep", help=_HELP, description=__doc__.split("\n\n")[0].strip("` \n") + ".",
                  epilog=_EPILOG, raw_text=True, add_arguments=add_arguments, run=run)

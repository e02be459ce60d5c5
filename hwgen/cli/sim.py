"""``hwgen sim UNIT [options]``: simulate a unit against its golden model (cocotb)."""

import argparse
import os
import time

from ._command import Command, build_unit, fail

__all__ = ["COMMAND"]


def add_arguments(p):
    g = p.add_mutually_exclusive_group()
    g.add_argument("--exhaustive", action="store_true",
                   help="every input combination (where the input space allows)")
    g.add_argument("--vectors", type=int, metavar="N", default=None,
                   help="random vectors to check (default: unit-specific)")
    p.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    p.add_argument("--sim", choices=["verilator", "icarus"], default=None,
                   help="simulator (default: $SIM or verilator)")
    p.add_argument("--waves", action="store_true", help="write a waveform file")
    p.add_argument("--top", metavar="NAME", help=argparse.SUPPRESS)


def plan(args):
    """What ``hwgen sim`` of these parsed arguments runs: ``(component, test module,
    parameters, top)`` with ``top`` ``None`` (the component is the top) or ``(verilog,
    toplevel)`` of the unit's simulation top (:attr:`UnitSpec.sim_top`, whose parameters
    ``parameters`` then are), or an error line (every check before any tool)."""
    spec = args.unit_spec
    if spec.test_module is None:
        return f"unit {spec.name!r} has no simulation test"
    for opt, given in (("vectors", args.vectors is not None), ("exhaustive", args.exhaustive)):
        if given and opt not in spec.sim_options:
            takes = " or ".join(f"--{o}" for o in spec.sim_options)
            return (f"hwgen sim {spec.name} does not take --{opt}"
                    + (f" (it takes {takes})" if takes else " (it runs a fixed set of cases)"))
    if args.vectors is not None and args.vectors < 1:
        return f"--vectors must be a positive integer, not {args.vectors}"
    try:
        comp = build_unit(args)
    except (ValueError, TypeError) as e:
        return str(e)
    params = dict(spec.sim_params(args, comp) if spec.sim_params else {})
    params.update(mode="cli", exhaustive=bool(args.exhaustive), vectors=args.vectors,
                  seed=args.seed)
    top = spec.sim_top(comp, params) if spec.sim_top is not None else None
    if top is not None:
        verilog, toplevel, params = top
        top = (verilog, toplevel)
    return comp, spec.test_module, params, top


def run(args):
    planned = plan(args)
    if isinstance(planned, str):
        return fail(planned)
    comp, test_module, params, top = planned
    from ..flow.simulate import run, setup_simulator
    try:
        setup_simulator(args.sim or os.environ.get("SIM", "verilator"))
    except (ValueError, RuntimeError) as e:
        return fail(str(e))
    print(f"building and simulating {comp.module_name} "
          f"({args.sim or 'default simulator'}) ...", flush=True)
    t0 = time.monotonic()
    if top is None:
        res = run(comp, test_module=test_module, params=params, sim=args.sim,
                  waves=args.waves or None, seed=args.seed)
    else:
        res = run(verilog=top[0], toplevel=top[1], test_module=test_module, params=params,
                  sim=args.sim, waves=args.waves or None, seed=args.seed)
    rep = res.report
    n = rep.get("vectors", 0)
    bad = rep.get("mismatches", 0)
    secs = rep.get("seconds") or (time.monotonic() - t0)
    print(f"{comp.module_name} on {res.sim}: {n} vectors checked, {bad} mismatches, "
          f"{n / secs if secs else 0:,.0f} verified vectors/s"
          + (f" ({top[1]}: the unit in {len(params['units'])} x "
             f"{params['units'][0]['lanes']} lanes)" if top else ""))
    for line in rep.get("first_mismatches", [])[:10]:
        print("  mismatch: " + line)
    if args.waves:
        from pathlib import Path
        dumps = sorted((p for ext in ("fst", "vcd", "ghw")
                        for p in Path(res.build_dir).rglob(f"*.{ext}")),
                       key=lambda p: p.stat().st_mtime)
        print(f"waveforms: {dumps[-1]}" if dumps else
              f"waveforms: none written (build folder {res.build_dir})")
    if res.failed or bad or not res.tests:
        if not bad:
            print(f"simulation failed: {res.failed} of {res.tests} tests failed; "
                  f"logs in {res.build_dir}")
        return 1
    return 0


COMMAND = Command("sim", help="simulate a unit against its golden model (cocotb)",
                  description="simulate a unit against its golden model (cocotb)",
                  add_arguments=add_arguments, run=run, per_unit=True)

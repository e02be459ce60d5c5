"""The host link's formal checks (docs/verification.md, "The host link"), the write proof
longer than ``make test`` runs it.

1. ``writes``: every buffer write in range, proven for every depth (``abc pdr``).
2. ``idle``: idle once the line has been quiet for Q cycles, proven for every input history
   by k-induction (``smtbmc yices``, depth ``IDLE_DEPTH``, with the miter's helper
   invariants; ``make test`` runs it too); with ``--slack S`` also bounded model checking
   of the idle assertion alone (``abc bmc3``) to depth Q + S.
3. The bound is exact: Q - 1 fails (a counterexample: a frame cut short).

Prints each result and its time; exit status 1 if one is not what it should be.

    python bench/hostlink_formal.py                 # all three
    python bench/hostlink_formal.py --only idle --slack 24   # the proof, and BMC to Q + 24
"""

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--slack", type=int, default=None,
                   help="idle: also BMC to this depth past Q (any input in this many first "
                        "cycles)")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per check")
    p.add_argument("--only", choices=("writes", "idle", "exact"), default=None)
    args = p.parse_args(argv)
    from amaranth.hdl import UnusedElaboratable

    from hwgen.verify import prove
    from hwgen.verify.hostlink import IDLE_DEPTH, HostLinkMiter

    with warnings.catch_warnings():       # built only for its bound
        warnings.simplefilter("ignore", UnusedElaboratable)
        Q = HostLinkMiter(properties=("idle",)).quiet_bound
    checks = {      # name: (what, the miter, how, the outcome it must have)
        "writes": ("writes in range, every depth (abc pdr)", lambda: HostLinkMiter(),
                   dict(mode="prove", engine="abc pdr"), "pass"),
        "idle": (f"idle after Q = {Q} quiet cycles, every input history (k-induction, depth "
                 f"{IDLE_DEPTH})", lambda: HostLinkMiter(properties=("idle",)),
                 dict(mode="prove", depth=IDLE_DEPTH), "pass"),
        "idle-bmc": (f"idle after Q = {Q} quiet cycles, BMC depth {Q + (args.slack or 0)} "
                     "(abc bmc3)",
                     lambda: HostLinkMiter(properties=("idle",), invariants=False),
                     dict(mode="bmc", depth=Q + (args.slack or 0), engine="abc bmc3"), "pass"),
        "exact": (f"Q - 1 = {Q - 1} is too short (abc bmc3)",
                  lambda: HostLinkMiter(properties=("idle",), quiet_bound=Q - 1,
                                        invariants=False),
                  dict(mode="bmc", depth=Q + 2, engine="abc bmc3"), "fail"),
    }
    bad = 0
    for name, (what, design, how, want) in checks.items():
        if args.only not in (None, name.split("-")[0]) or (name == "idle-bmc" and
                                                            args.slack is None):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            r = prove(design(), tmp, timeout=args.timeout, **how)
        ok = r.status == want
        bad += not ok
        print(f"{name:8s} {what}: {r.status} in {r.seconds:.1f} s"
              + ("" if ok else f"  (expected {want})"), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

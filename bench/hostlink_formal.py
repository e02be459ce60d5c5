"""The host link's formal checks at full depth (docs/verification.md, "The host link"):
longer than ``make test`` runs them.

1. ``writes``: every buffer write in range, proven for every depth (``abc pdr``).
2. ``idle``: idle once the line has been quiet for Q cycles, by bounded model checking
   (``abc bmc3``) to depth Q + ``--slack`` (default 24: any input in the first 24 cycles,
   which holds a maximal frame, 22 bytes at one a cycle, then a quiet line).
3. The bound is exact: Q - 1 fails (a counterexample: a frame cut short).

Prints each result and its time; exit status 1 if one is not what it should be.

    python bench/hostlink_formal.py                 # all three
    python bench/hostlink_formal.py --slack 10      # a shorter idle run
"""

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--slack", type=int, default=24,
                   help="idle: BMC depth past Q (any input in this many first cycles)")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per check")
    p.add_argument("--only", choices=("writes", "idle", "exact"), default=None)
    args = p.parse_args(argv)
    from amaranth.hdl import UnusedElaboratable

    from hwgen.verify import prove
    from hwgen.verify.hostlink import HostLinkMiter

    with warnings.catch_warnings():       # built only for its bound
        warnings.simplefilter("ignore", UnusedElaboratable)
        Q = HostLinkMiter(properties=("idle",)).quiet_bound
    checks = {      # name: (what, the miter, how, the outcome it must have)
        "writes": ("writes in range, every depth (abc pdr)", lambda: HostLinkMiter(),
                   dict(mode="prove", engine="abc pdr"), "pass"),
        "idle": (f"idle after Q = {Q} quiet cycles, BMC depth {Q + args.slack} (abc bmc3)",
                 lambda: HostLinkMiter(properties=("idle",)),
                 dict(mode="bmc", depth=Q + args.slack, engine="abc bmc3"), "pass"),
        "exact": (f"Q - 1 = {Q - 1} is too short (abc bmc3)",
                  lambda: HostLinkMiter(properties=("idle",), quiet_bound=Q - 1),
                  dict(mode="bmc", depth=Q + 2, engine="abc bmc3"), "fail"),
    }
    bad = 0
    for name, (what, design, how, want) in checks.items():
        if args.only not in (None, name):
            continue
        with tempfile.TemporaryDirectory() as tmp:
            r = prove(design(), tmp, timeout=args.timeout, **how)
        ok = r.status == want
        bad += not ok
        print(f"{name:7s} {what}: {r.status} in {r.seconds:.1f} s"
              + ("" if ok else f"  (expected {want})"), flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

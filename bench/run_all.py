"""Run every bench script in ``bench/`` (``make bench``), one after the other.

Each ``bench/*.py`` other than this one (and files starting with ``_``) is run with the same
Python, from the project root, so each writes its own table into ``docs/``. A failing script is
reported and the others still run; the exit status is 1 if any failed.

    python bench/run_all.py                 # all of them
    python bench/run_all.py float_ops       # only the ones named
    python bench/run_all.py --list
"""

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def bench_scripts():
    return sorted(p for p in HERE.glob("*.py")
                  if p.name != Path(__file__).name and not p.name.startswith("_"))


def main(argv=None):
    p = argparse.ArgumentParser(description="Run every bench script in bench/.")
    p.add_argument("names", nargs="*", help="run only these (file names without .py)")
    p.add_argument("--list", action="store_true", help="list the scripts and exit")
    args = p.parse_args(argv)
    scripts = bench_scripts()
    if args.list:
        for s in scripts:
            print(s.stem)
        return 0
    if args.names:
        known = {s.stem: s for s in scripts}
        unknown = [n for n in args.names if n.removesuffix(".py") not in known]
        if unknown:
            p.error(f"unknown bench {unknown[0]!r}; allowed: {', '.join(known)}")
        scripts = [known[n.removesuffix(".py")] for n in args.names]
    failed = []
    t_all = time.monotonic()
    for script in scripts:
        print(f"== {script.stem} ==", flush=True)
        t0 = time.monotonic()
        rc = subprocess.run([sys.executable, str(script)], cwd=ROOT).returncode
        print(f"== {script.stem}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} in "
              f"{time.monotonic() - t0:.0f} s ==\n", flush=True)
        if rc != 0:
            failed.append(script.stem)
    print(f"{len(scripts)} bench scripts in {time.monotonic() - t_all:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

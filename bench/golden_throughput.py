"""Throughput of the golden model: ``encode`` (values/s) and ``mul``/``add``/``fma`` (vectors/s).

Run as ``.venv/bin/python bench/golden_throughput.py [N]``; prints a table. :func:`main` returns
the rows as a list of dicts (``op``, ``format``, ``n``, ``seconds``, ``per_second``,
``cpu_seconds``, ``cpu_per_second``). The model is single-threaded numpy: on a shared machine the
CPU-time figure is the one to compare between runs; on an idle one the two agree.

Inputs are random: float64 values log-uniform over each format's range (both signs) for
``encode``, uniform random encodings for the operators. Uniform encodings of fp16/fp32 often
have exponents far apart, so ``add``/``fma`` there take the exact (Python-integer) alignment
path of :func:`hwgen.golden.exact_sum`; the figures include that cost.
"""

import math
import sys
import time

import numpy as np

from hwgen.formats import parse_format
from hwgen.golden import add, encode, fma, mul

__all__ = ["main", "bench_encode", "bench_op"]

ENCODE_FORMATS = ("e4m3", "fp16")
OP_FORMATS = ("e4m3", "fp16", "fp32")
OPS = {"mul": (mul, 2), "add": (add, 2), "fma": (fma, 3)}


def _timed(func, *args):
    func(*(a[:1000] for a in args))  # warm-up (imports, caches) outside the measurement
    start, cpu = time.perf_counter(), time.process_time()
    func(*args)
    return time.perf_counter() - start, time.process_time() - cpu


def _row(op, fmt, n, times):
    seconds, cpu = times
    return {"op": op, "format": fmt.name, "n": n,
            "seconds": seconds, "per_second": n / seconds if seconds > 0 else math.inf,
            "cpu_seconds": cpu, "cpu_per_second": n / cpu if cpu > 0 else math.inf}


def bench_encode(fmt, n, rng):
    """``encode(fmt, values, "rne")`` on ``n`` random float64 values."""
    fmt = parse_format(fmt)
    lo = math.log2(fmt.min_subnormal) - 2
    hi = math.log2(fmt.max_finite) + 1
    values = np.exp2(rng.uniform(lo, hi, n)) * rng.choice([-1.0, 1.0], n)
    return _row("encode", fmt, n, _timed(lambda v: encode(fmt, v, "rne"), values))


def bench_op(op, fmt, n, rng):
    """``op`` (``mul``, ``add`` or ``fma``) in rne on ``n`` random operand vectors."""
    fmt = parse_format(fmt)
    func, arity = OPS[op]
    operands = [rng.integers(0, 1 << fmt.width, n, dtype=np.uint64) for _ in range(arity)]
    return _row(op, fmt, n, _timed(lambda *ops: func(fmt, *ops, "rne"), *operands))


def main(n=1_000_000, seed=0, file=sys.stdout):
    """Run every measurement; print the table to ``file`` (``None``: silent); return the rows."""
    rng = np.random.default_rng(seed)
    rows = [bench_encode(f, n, rng) for f in ENCODE_FORMATS]
    rows += [bench_op(op, f, n, rng) for op in OPS for f in OP_FORMATS]
    if file is not None:
        print(f"{'op':<8}{'format':<8}{'n':>10}{'seconds':>10}{'per second':>14}"
              f"{'cpu s':>9}{'per cpu s':>14}", file=file)
        for r in rows:
            print(f"{r['op']:<8}{r['format']:<8}{r['n']:>10}{r['seconds']:>10.3f}"
                  f"{r['per_second']:>14,.0f}{r['cpu_seconds']:>9.3f}"
                  f"{r['cpu_per_second']:>14,.0f}", file=file)
    return rows


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)

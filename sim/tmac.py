# amaranth: UnusedElaboratable=no
"""cocotb test of :class:`hwgen.units.tmac.TernaryMac` against
:func:`hwgen.golden.tmac.ternary_mac`, bit for bit, sums and zero counts
(``hwgen sim tmac`` and ``rtl_tests/test_tmac.py``).

All four 2-bit codes occur (including the "-0" code ``10``), groups have random lengths, the
source idles at random and the sink applies random back-pressure; every result must arrive
exactly once and in order.
"""

import time

import cocotb
import numpy as np

from hwgen.golden.tmac import ternary_mac

from .params import get_params, write_report
from .streams import compare_results, exchange, pack_struct, unpack_struct

__all__ = ["run_random", "build_unit", "unit_params"]

_KEYS = ("lanes", "act_bits", "acc_bits")


def unit_params(unit):
    """The parameters of :class:`hwgen.units.tmac.TernaryMac` ``unit`` (they rebuild it)."""
    return {k: getattr(unit, k) for k in _KEYS}


def build_unit(p):
    """The :class:`~hwgen.units.tmac.TernaryMac` of the parameters ``p``."""
    from hwgen.units.tmac import TernaryMac
    return TernaryMac(**{k: p[k] for k in _KEYS if p.get(k) is not None})


@cocotb.test()
async def run_random(dut):
    """Random codes, activations, groups, idles and back-pressure against the golden model."""
    p = get_params()
    seed = int(p.get("seed") or 1)
    n = int(p.get("vectors") or p.get("n") or 4000)
    u = build_unit(p)
    rng = np.random.default_rng(seed)
    t0 = time.monotonic()
    K, AB = u.lanes, u.act_bits
    codes = rng.integers(0, 4, (n, K))
    acts = rng.integers(-(1 << (AB - 1)), 1 << (AB - 1), (n, K))
    last = rng.random(n) < 0.3
    last[-1] = True
    exp_acc, exp_zeros = ternary_mac(codes, acts, last, u.acc_bits, u.count_bits)
    exp = [(int(a), int(z)) for a, z in zip(exp_acc, exp_zeros)]
    items = await exchange(
        dut, [pack_struct({"w": codes[k], "a": acts[k], "last": int(last[k])}, u.i_layout)
              for k in range(n)], len(exp),
        seed=seed, idle=p.get("idle", 0.3), backpressure=p.get("backpressure", 0.4))
    got = [(g["acc"], g["zeros"]) for g in (unpack_struct(x, u.o_layout) for x in items)]
    bad = compare_results(got, exp, lambda g, e: f"got acc={g[0]} zeros={g[1]}, "
                                                 f"expected acc={e[0]} zeros={e[1]}")
    write_report({"vectors": n, "mismatches": len(bad), "first_mismatches": bad[:10],
                  "seconds": time.monotonic() - t0, "results": len(exp_acc)})
    assert not bad, bad[:5]

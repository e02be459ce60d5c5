# amaranth: UnusedElaboratable=no
"""cocotb test of :class:`hwgen.units.p2mac.Pow2Mac` against
:func:`hwgen.golden.p2mac.pow2_mac`, bit for bit (``hwgen sim p2mac`` and
``rtl_tests/test_p2mac.py``).

Every field value occurs (zero weights, both signs, every shift code including those above
``max_shift`` where the field has them), groups have random lengths, the source idles at
random and the sink applies random back-pressure; every result must arrive exactly once and
in order.
"""

import time

import cocotb
import numpy as np

from hwgen.golden.p2mac import pow2_mac

from .params import get_params, write_report
from .streams import compare_results, exchange, pack_struct, to_signed

__all__ = ["run_random", "build_unit", "unit_params"]

_KEYS = ("lanes", "act_bits", "max_shift", "acc_bits")


def unit_params(unit):
    """The parameters of :class:`hwgen.units.p2mac.Pow2Mac` ``unit`` (they rebuild it)."""
    return {k: getattr(unit, k) for k in _KEYS}


def build_unit(p):
    """The :class:`~hwgen.units.p2mac.Pow2Mac` of the parameters ``p``."""
    from hwgen.units.p2mac import Pow2Mac
    return Pow2Mac(**{k: p[k] for k in _KEYS if p.get(k) is not None})


@cocotb.test()
async def run_random(dut):
    """Random weights, activations, groups, idles and back-pressure against the golden."""
    p = get_params()
    seed = int(p.get("seed") or 1)
    n = int(p.get("vectors") or p.get("n") or 4000)
    u = build_unit(p)
    rng = np.random.default_rng(seed)
    t0 = time.monotonic()
    K, AB = u.lanes, u.act_bits
    shift = rng.integers(0, 1 << u.shift_bits, (n, K))
    neg = rng.integers(0, 2, (n, K))
    zero = (rng.random((n, K)) < 0.25).astype(np.int64)
    acts = rng.integers(-(1 << (AB - 1)), 1 << (AB - 1), (n, K))
    last = rng.random(n) < 0.3
    last[-1] = True
    exp = [int(e) for e in pow2_mac(shift, neg, zero, acts, last, u.max_shift, u.acc_bits)]
    sb = u.shift_bits
    codes = shift | (neg << sb) | (zero << (sb + 1))
    items = await exchange(
        dut, [pack_struct({"w": codes[k], "a": acts[k], "last": int(last[k])}, u.i_layout)
              for k in range(n)], len(exp),
        seed=seed, idle=p.get("idle", 0.3), backpressure=p.get("backpressure", 0.4))
    bad = compare_results([to_signed(x, u.acc_bits) for x in items], exp)
    write_report({"vectors": n, "mismatches": len(bad), "first_mismatches": bad[:10],
                  "seconds": time.monotonic() - t0, "results": len(exp)})
    assert not bad, bad[:5]

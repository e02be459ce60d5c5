"""The RUN watchdog alone (:class:`hwgen.host_link.watchdog.Watchdog`): it expires after
exactly ``cycles`` enabled cycles without progress, and progress or disabling restarts it."""

import pytest

from hwgen.host_link.watchdog import Watchdog
from stream_tb import run_sim


@pytest.mark.parametrize("cycles", [1, 5, 64])
def test_expires_after_cycles_without_progress(cycles):
    dut = Watchdog(cycles)
    trace = []

    async def tb(ctx):
        # enabled for 3·cycles + 10 cycles: progress at cycle p, disabled for a while at q
        p, q = cycles + 3, 2 * cycles + 6
        for t in range(3 * cycles + 10):
            ctx.set(dut.enable, not q <= t < q + 2)
            ctx.set(dut.progress, t == p)
            trace.append((t, ctx.get(dut.expired)))
            await ctx.tick()

    run_sim(dut, tb, cycles=1000)
    p, q = cycles + 3, 2 * cycles + 6
    # reference: count of enabled cycles since the last restart (progress or disabled)
    expected, count = [], 0
    for t in range(3 * cycles + 10):
        enabled = not q <= t < q + 2
        expected.append((t, int(enabled and count == cycles)))
        count = 0 if (not enabled or t == p) else min(count + 1, cycles)
    assert trace == expected
    assert any(e for _, e in trace)

"""Async testbench helpers for ``amaranth.lib.stream`` ports in the Amaranth simulator (the
pattern of the Amaranth documentation), for the component tests of ``tests/``."""

from amaranth.sim import Simulator

__all__ = ["stream_put", "stream_get", "ticks", "tick_until", "run_sim", "run_comb"]


async def stream_put(ctx, port, payload):
    """Offer ``payload`` on ``port`` until it is taken."""
    ctx.set(port.valid, 1)
    ctx.set(port.payload, payload)
    await ctx.tick().until(port.ready)
    ctx.set(port.valid, 0)


async def stream_get(ctx, port):
    """Take one payload from ``port``."""
    ctx.set(port.ready, 1)
    payload, = await ctx.tick().sample(port.payload).until(port.valid)
    ctx.set(port.ready, 0)
    return payload


# Background testbenches are dropped wherever they wait when the simulation ends; these two
# plain loops may be (``ctx.tick().repeat()`` and ``.until()`` complain when closed there).

async def ticks(ctx, n):
    """Wait ``n`` clock cycles."""
    for _ in range(n):
        await ctx.tick()


async def tick_until(ctx, signal):
    """Wait clock cycles until one in which ``signal`` was high (as ``.until()``: sampled at
    the clock edge)."""
    while True:
        _, _, value = await ctx.tick().sample(signal)
        if value:
            return


def run_sim(dut, *testbenches, cycles=100_000, period=1e-6):
    """Simulate ``dut`` with a clock and ``testbenches``: the first one is the main one (the
    simulation ends when it does), the others run in the background. Fail if the main one
    has not finished within ``cycles`` clock cycles."""
    async def budget(ctx):
        for _ in range(cycles):
            await ctx.tick()
        raise AssertionError(f"the testbench did not finish in {cycles} cycles")

    sim = Simulator(dut)
    sim.add_clock(period)
    sim.add_testbench(testbenches[0])
    for tb in testbenches[1:] + (budget,):
        sim.add_testbench(tb, background=True)
    sim.run()


def run_comb(dut, testbench):
    """Simulate the combinational ``dut`` (no clock) with ``testbench``."""
    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()

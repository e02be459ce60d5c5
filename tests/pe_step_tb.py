"""One PE step per cycle in Amaranth's simulator, for the fixed-point (exact, windowed) PEs'
tests: ``a``/``w`` in, ``acc_in`` taken ``mul_latency`` cycles later, ``acc_out`` compared."""

from amaranth.sim import Simulator


def step_errors(dut, pairs, accs, mul_latency, want):
    """Drive ``pairs`` of encodings and ``accs`` (``(fixed, nan, pinf, ninf)``) through
    ``dut``; ``want(k)`` is the expected ``(fixed, nan, pinf, ninf)`` of step ``k``. Returns
    the mismatches as ``(pair, acc, got, want)``."""
    errors = []

    async def tb(ctx):
        for t in range(len(pairs) + mul_latency):
            if t < len(pairs):
                ctx.set(dut.a, pairs[t][0])
                ctx.set(dut.w, pairs[t][1])
            k = t - mul_latency
            if k >= 0:
                fixed, nan, pinf, ninf = accs[k]
                ctx.set(dut.acc_in.fixed, fixed)
                ctx.set(dut.acc_in.nan, nan)
                ctx.set(dut.acc_in.pinf, pinf)
                ctx.set(dut.acc_in.ninf, ninf)
                got = tuple(int(ctx.get(x)) for x in (dut.acc_out.fixed, dut.acc_out.nan,
                                                      dut.acc_out.pinf, dut.acc_out.ninf))
                expect = tuple(int(x) for x in want(k))
                if got != expect:
                    errors.append((pairs[k], accs[k], got, expect))
            await (ctx.tick() if mul_latency else ctx.delay(1e-6))

    sim = Simulator(dut)
    if mul_latency:
        sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return errors

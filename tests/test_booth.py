"""The significand products in logic (:mod:`hwgen.units.booth`: radix-4 Booth,
:func:`~hwgen.units.booth.booth_product`, AND rows, :func:`~hwgen.units.booth.logic_product`,
and conditional adds, :func:`~hwgen.units.booth.shift_add_product`)
simulated against Python's integer product: every pair for small widths (odd and even,
unequal), random pairs with the edges for the float formats' significand widths."""

import random

import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from hwgen.units.booth import (PRODUCTS, booth_product, check_product, logic_product,
                               shift_add_product, significand_product)


def _products(n, m, pairs, product="booth"):
    a, b, y = Signal(n), Signal(m), Signal(n + m)
    mod = Module()
    mod.d.comb += y.eq(significand_product(a, b, product, mod))
    got = []

    async def tb(ctx):
        for x, w in pairs:
            ctx.set(a, x)
            ctx.set(b, w)
            got.append(ctx.get(y))
    sim = Simulator(mod)
    sim.add_testbench(tb)
    sim.run()
    return got


@pytest.mark.parametrize("n, m", [(1, 1), (1, 4), (4, 1), (2, 3), (3, 2), (4, 4), (5, 6),
                                  (6, 5), (7, 7)])
@pytest.mark.parametrize("product", ["booth", "logic", "shiftadd"])
def test_every_pair(n, m, product):
    pairs = [(x, w) for x in range(1 << n) for w in range(1 << m)]
    assert _products(n, m, pairs, product) == [x * w for x, w in pairs]


@pytest.mark.parametrize("n, m", [(8, 8), (11, 11), (24, 24), (8, 11), (11, 4)])
@pytest.mark.parametrize("product", ["booth", "shiftadd"])
def test_random_pairs(n, m, product):
    rng = random.Random(n * 100 + m)
    edges = [0, 1, (1 << n) - 1, 1 << (n - 1)]
    wedges = [0, 1, (1 << m) - 1, 1 << (m - 1), int("10" * m, 2) & ((1 << m) - 1)]
    pairs = [(x, w) for x in edges for w in wedges]
    pairs += [(rng.getrandbits(n), rng.getrandbits(m)) for _ in range(3000)]
    assert _products(n, m, pairs, product) == [x * w for x, w in pairs]


def test_choice():
    from hwgen.catalog.float_ops import PRODUCTS as CLI_PRODUCTS
    assert PRODUCTS == ("auto", "booth", "logic", "shiftadd")
    assert check_product("booth") == "booth"
    assert CLI_PRODUCTS == PRODUCTS                 # the CLI's --product choices
    with pytest.raises(ValueError,
                       match="Product must be one of auto, booth, logic, shiftadd, not 'wallace'"):
        check_product("wallace")
    a, b, mod = Signal(4), Signal(4), Module()
    mod._MustUse__silence = True               # built only to hold the signals
    assert len(booth_product(a, b)) == len(logic_product(a, b)) == 8
    assert len(significand_product(a, b, "booth", mod)) == 8
    assert len(significand_product(a, b, "logic", mod)) == 8
    assert len(significand_product(a, b, "shiftadd", mod)) == 8
    assert len(shift_add_product(Signal(3), Signal(1), mod)) == 4

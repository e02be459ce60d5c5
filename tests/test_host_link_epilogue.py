"""The chained-layer epilogue (:class:`hwgen.host_link.epilogue.Epilogue`) against the golden
model (:func:`hwgen.golden.epilogue.layer_epilogue`), element by element: every accumulator of
a narrow unit with every shift it takes, ReLU on and off, ties included; random elements at
the ``int8`` array's 32-bit width; the raw sum of a last layer. Elements are offered back
to back, so the handshake (one element per ``|shift| + 2`` clocks) is checked at once."""

import numpy as np
import pytest

from hwgen.golden.epilogue import layer_epilogue
from hwgen.host_link import protocol as P
from hwgen.host_link.epilogue import Epilogue
from stream_tb import run_sim


def _wrap(v, bits):
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def simulate(acc_bits, bits, elements):
    """Outputs of the unit for ``elements`` = [(acc, bias, shift, relu, raw)], one per clock."""
    dut = Epilogue(acc_bits, bits)
    got = []

    async def bench(ctx):
        pending = list(elements)
        while len(got) < len(elements):
            if pending:
                acc, bias, shift, relu, raw = pending[0]
                ctx.set(dut.inp.payload, dict(acc=acc, bias=bias, shift=shift, relu=relu,
                                              raw=raw))
            ctx.set(dut.inp.valid, bool(pending))
            _, _, taken, v, out = await ctx.tick().sample(dut.inp.ready, dut.out.valid,
                                                          dut.out.payload)
            if taken and pending:
                pending.pop(0)
            if v:
                got.append(int(out))

    # |shift| + 2 clocks per element
    run_sim(dut, bench, cycles=sum(abs(e[2]) + 3 for e in elements) + 100)
    return got


def expected(acc_bits, bits, elements):
    out = []
    for acc, bias, shift, relu, raw in elements:
        if raw:
            out.append(_wrap(acc + bias, acc_bits))
        else:
            out.append(int(layer_epilogue(np.array([acc], dtype=object),
                                          np.array([bias], dtype=object), shift, bits,
                                          relu=bool(relu))[0]))
    return out


def test_every_accumulator_and_shift_of_a_narrow_unit():
    """Every accumulator with every shift (a random bias; ReLU on every other one)."""
    A, B = 8, 4
    rng = np.random.default_rng(1)
    elements = [(acc, int(rng.integers(-128, 128)), shift, (acc + shift) & 1, 0)
                for acc in range(-128, 128) for shift in range(P.NET_SHIFT_MIN, A + 1)]
    assert simulate(A, B, elements) == expected(A, B, elements)


def test_ties_round_to_even():
    # x = acc + bias exactly half-way between two codes: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2
    els = [(5, 0, 1, 0, 0), (7, 0, 1, 0, 0), (-5, 0, 1, 0, 0), (20, 0, 3, 0, 0),
           (28, 0, 3, 0, 0)]
    assert simulate(8, 4, els) == [2, 4, -2, 2, 4]


@pytest.mark.parametrize("A,B", [(32, 8), (24, 4)])
def test_random_wide_elements(A, B):
    rng = np.random.default_rng(A)
    lo, hi = -(1 << (A - 1)), 1 << (A - 1)
    elements = []
    for _ in range(1500):
        small = rng.random() < 0.5        # near the codes' range as often as far from it
        span = (1 << (B + 8)) if small else hi
        acc = int(rng.integers(-span, span))
        bias = int(rng.integers(-span, span))
        acc, bias = max(lo, min(hi - 1, acc)), max(lo, min(hi - 1, bias))
        shift = int(rng.integers(P.NET_SHIFT_MIN, A + 1))
        raw = int(rng.random() < 0.1)
        elements.append((acc, bias, shift, int(rng.integers(0, 2)), raw))
    assert simulate(A, B, elements) == expected(A, B, elements)


def test_raw_sum_wraps_to_the_accumulator():
    A = 8
    els = [(127, 1, 0, 0, 1), (-128, -1, 0, 0, 1), (100, -30, 5, 1, 1)]
    assert simulate(A, 4, els) == [-128, 127, 70]


def test_bad_widths():
    with pytest.raises(ValueError, match="Code width"):
        Epilogue(8, 9)

"""``MxDot``'s generated Verilog against :func:`hwgen.golden.mx_dot`, bit for bit, at volume.

A plain Verilog testbench (``rtl_tests/plain/stream_tb.v``, Verilator ``--binary``, no
cocotb) streams, per element format: every pair of element codes, each product seen in a
result (:func:`sim.mxdot.pair_dots`: finite pairs in blocks of like magnitude, each NaN or
infinite pair alone in a block), then 100,000 random blocks (:func:`sim.mxdot.random_dots`:
random scales including 0, 254 and NaN, special elements, cancellations; E5M2 x E5M2 adds the
IEEE special cases), then the blocks at the edge of the accumulation's window
(:func:`sim.mxdot.window_dots`, in every rounding mode of a dynamic unit: a window one bit
too narrow fails them), with the source idling and the sink stalling on 30 % of the cycles. Each
run is repeated on its first results with two expected words corrupted, which the testbench
must report and nothing else: the check cannot pass vacuously. The cocotb test
(``rtl_tests/test_mxdot.py``) covers the pipelined variants on the same stimulus.
"""

from pathlib import Path

import numpy as np
import pytest

from hwgen.export import to_verilog
from sim.mxdot import (build_unit, pair_dots, plain_words, random_dots, special_dots,
                       window_dots)
from sim.plain import run_binary, stream_summary, verilator_binary, write_hex

TB = Path(__file__).resolve().parent / "plain" / "stream_tb.v"
RANDOM_BLOCKS = 100_000

#: One unit per element format (lanes and rounding varied across them), one mixed pair.
CASES = [
    dict(elem="e4m3", lanes=8, rounding="dynamic"),
    dict(elem="e5m2", lanes=16, rounding="rne"),
    dict(elem="e3m2", lanes=32, rounding="dynamic"),
    dict(elem="e2m3", lanes=8, rounding="rtz"),
    dict(elem="e2m1", lanes=32, rounding="rne"),
    dict(elem="int8", lanes=8, rounding="dynamic"),
    dict(elem="e4m3", b_elem="e2m1", lanes=16, rounding="rup"),
]


def _id(p):
    return f"{p['elem']}{'x' + p['b_elem'] if 'b_elem' in p else ''}_l{p['lanes']}_" \
           f"{p['rounding']}"


@pytest.mark.parametrize("p", CASES, ids=[_id(p) for p in CASES])
def test_mxdot_plain(p, tmp_path):
    unit = build_unit(p)
    rng = np.random.default_rng(7)
    dots = pair_dots(unit.elem, rng) if unit.elem == unit.b_elem else []
    n_pairs = len(dots)
    dots += random_dots(unit.elem, unit.b_elem, RANDOM_BLOCKS // 2, rng)
    if unit.elem == unit.b_elem == "e5m2":
        dots += special_dots()
    n_blocks = sum(len(d[0]) for d in dots)
    assert n_blocks - n_pairs >= RANDOM_BLOCKS * 0.99
    modes = (rng.integers(0, 8, len(dots)).tolist() if unit.rounding == "dynamic"
             else [unit.rounding] * len(dots))
    edge = window_dots(unit.elem, unit.b_elem)
    for mode in range(5) if unit.rounding == "dynamic" else [unit.rounding]:
        dots += edge
        modes += [mode] * len(edge)
    beats, want = plain_words(unit, dots, modes, rng)

    top, text = to_verilog(unit)
    (tmp_path / "dut.v").write_text(text)
    wi, wo = len(unit.i.payload.as_value()), len(unit.o.payload.as_value())
    defines = dict(DUT=top, WI=wi, WO=wo, NBMAX=len(beats), NRMAX=len(want))
    if unit.rounding == "dynamic":
        defines["HAS_RM"] = 1
    exe = verilator_binary(TB, "plain_stream_tb", defines, [tmp_path / "dut.v"], tmp_path)
    write_hex(tmp_path / "beats.hex", beats, wi + 3)
    write_hex(tmp_path / "good.hex", want, wo)
    args = dict(beats="beats.hex", nb=len(beats), expect="good.hex", nr=len(want),
                idle=30, stall=30, seed=11)
    checked, bad, errors, lines, verdict = stream_summary(run_binary(exe, args, tmp_path))
    assert (checked, bad, errors, verdict) == (len(want), 0, 0, "PASS"), "\n".join(lines)

    # The first 3,000 results (and their beats), two expected words wrong (a bit of y, a
    # flag): exactly those two reported.
    n = 3000
    n_beats = sum(len(d[0]) for d in dots[:n]) * (32 // unit.lanes)
    k1, k2 = n // 3, 2 * n // 3
    wrong = list(want[:n])
    wrong[k1] ^= 1
    wrong[k2] ^= 1 << 33
    write_hex(tmp_path / "wrong.hex", wrong, wo)
    out = run_binary(exe, dict(args, nb=n_beats, expect="wrong.hex", nr=n), tmp_path)
    checked, bad, errors, lines, verdict = stream_summary(out)
    assert (checked, bad, errors, verdict) == (n, 2, 0, "FAIL"), out[-2000:]
    assert [int(ln.split()[1].rstrip(":")) for ln in lines] == [k1, k2]

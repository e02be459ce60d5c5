"""The delay model and the pipeline planner (hwgen.timing), and the float operators' planned
pipelines: names, cut sets, errors, and a few hundred vectors of planned builds in Amaranth's
simulator against the golden model."""

import json
import subprocess
import sys

import pytest

from hwgen.flow.devices import DEVICES, DSP_MULTIPLIER
from hwgen.timing import (DEVICE_NAMES, DelayModel, Segment, check_device, delay_model,
                          model_path, plan_latency, plan_pipeline)
from hwgen.units import FloatAdder, FloatFMA, FloatMultiplier


def _model(register=2.0, compose=1.0):
    """A made-up model: 1 ns per LUT level, adders 0.1 ns per bit."""
    blocks = {"lut": [[1, 1.0], [3, 3.0]], "adder": [[4, 0.4], [32, 3.2]]}
    data = {"devices": {"up5k": {"family": "ice40", "register_ns": register,
                                 "compose": compose, "blocks": blocks}}}
    return DelayModel("up5k", data)


def _silent(comp):
    comp._MustUse__silence = True       # built only to look at it
    return comp


# -- the model ---------------------------------------------------------------------------------

def test_device_names_match_the_flow():
    assert set(DEVICE_NAMES) == set(DEVICES)


def test_packaged_table_covers_every_device():
    data = json.loads(model_path().read_text())
    assert data["format"] == "hwgen-delay-model" and data["version"] == 1
    assert set(data["devices"]) == set(DEVICE_NAMES)
    for name, entry in data["devices"].items():
        dev = DEVICES[name]
        assert entry["family"] == dev.family
        # The DSP mapping rule the model uses is the flow's.
        rule = dict(entry["dsp"])
        assert rule.pop("blocks") == dev.resources["dsp"]
        assert rule == DSP_MULTIPLIER[dev.family]
        m = delay_model(name)
        assert m.register_ns > 0
        for a, b in ((4, 4), (8, 8), (11, 11), (24, 24)):
            assert m.dsp_blocks(a, b) == dev.dsp_blocks(a, b, a + b)
        # Measured delays grow with the size of the block.
        assert 0 < m.adder(4) <= m.adder(32)
        assert 0 < m.lut_levels(1) < m.lut_levels(3)
        assert m.normalizer(8) < m.normalizer(64)
        assert m.shifter(16, 3) < m.shifter(16, 15)


def test_model_layering():
    """hwgen.timing imports neither Amaranth nor the flow (the units sit above it)."""
    code = ("import sys, hwgen.timing as t; t.delay_model('up5k'); "
            "bad = [m for m in sys.modules if m.startswith(('amaranth', 'hwgen.flow', "
            "'hwgen.units', 'hwgen.arrays'))]; print(bad); sys.exit(bool(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_interpolation():
    m = _model()
    assert m.adder(8) == pytest.approx(0.8)
    assert m.adder(64) == pytest.approx(6.4)         # extrapolated along the last two points
    assert m.adder(2) == pytest.approx(0.2)          # towards zero below the first
    assert m.lut_levels(2) == pytest.approx(2.0)
    assert m.logic(16) == pytest.approx(2.0)         # 16 inputs: two levels of LUT4
    assert m.stage_ns(3.0) == pytest.approx(5.0)
    assert _model(compose=0.5).stage_ns(3.0) == pytest.approx(3.5)


def test_each_operator_plans_with_its_own_compose_factor():
    m = _model(compose=0.9)
    m.compose_units = {"fmul": 0.5}
    assert m.for_unit("fmul").stage_ns(3.0) == pytest.approx(3.5)
    assert m.for_unit("fmul").compose == 0.5 and m.compose == 0.9      # a copy
    assert m.for_unit("fadd") is m                  # no factor of its own: the device's
    # the packaged table: a float operator's estimates use its factor, an array PE's the
    # device's (the PEs are not among the fitted designs)
    from hwgen.arrays.pe import float_pe_product
    from hwgen.arrays.pipeline import rounded_pe_estimate
    from hwgen.pespec import parse_pe
    for dev in DEVICE_NAMES:
        base = delay_model(dev)
        assert set(base.compose_units) == {"fmul", "fadd", "ffma"}
        for cls, op in ((FloatMultiplier, "fmul"), (FloatAdder, "fadd"), (FloatFMA, "ffma")):
            u = _silent(cls("bf16", latency=1))
            logic = [sum(s.delay for s in g) for g in _groups(u.segments(base), u.cuts)]
            assert u.estimate(dev).stage_ns == pytest.approx(
                tuple(base.register_ns + base.compose_units[op] * x for x in logic))
            assert u.estimate(base).stage_ns == pytest.approx(
                tuple(base.stage_ns(x) for x in logic))
        pe = rounded_pe_estimate("e4m3:fp16:rounded", 0, 0, dev)
        # the PE's multiplier builds its product as the PE does (in logic for e4m3)
        mul = _silent(FloatMultiplier("e4m3", out_fmt="fp16",
                                      product=float_pe_product(parse_pe("e4m3:fp16:rounded"))))
        add = _silent(FloatAdder("fp16"))
        whole = sum(s.delay for s in mul.segments(base) + add.segments(base))
        assert pe.stage_ns == pytest.approx((base.stage_ns(whole),))


def _groups(segments, cuts):
    """``segments`` split after each segment whose cut point is in ``cuts``."""
    groups, cur = [], []
    for s in segments:
        cur.append(s)
        if s.cut in cuts:
            groups.append(cur)
            cur = []
    return groups + [cur] if cur else groups


def test_bad_device():
    with pytest.raises(ValueError, match=r"^Device must be one of 'up5k', 'hx8k', 'ecp5-25f', "
                                         r"'ecp5-85f', not 'ecp5'$"):
        check_device("ecp5")


# -- the planner -------------------------------------------------------------------------------

SEGS = [Segment("a", 4.0, "c1"), Segment("b", 2.0, "c2"), Segment("c", 2.0, None),
        Segment("d", 4.0, "c3"), Segment("e", 4.0, "out")]


def test_plan_fewest_registers():
    m = _model()                                     # stage = 2 ns + logic
    # Pieces between usable cuts: a 4 | b 2 | c+d 6 | e 4 (no cut after c; e's is the end).
    p = plan_pipeline(SEGS, 1000 / 18.0, "up5k", model=m)
    assert p.cuts == () and p.latency == 0 and p.stage_ns == pytest.approx((18.0,))
    # 14 ns: one register; after c2 (6 | 10) is the best split.
    p = plan_pipeline(SEGS, 1000 / 14.0, "up5k", model=m)
    assert p.cuts == ("c2",) and p.stage_ns == pytest.approx((8.0, 12.0))
    # 10 ns: one register is not enough (10 ns of logic at best); two: 6 | 6 | 4.
    p = plan_pipeline(SEGS, 100.0, "up5k", model=m)
    assert p.cuts == ("c2", "c3") and p.stage_ns == pytest.approx((8.0, 8.0, 6.0))
    assert p.stage_names == ("a+b", "c+d", "e")
    assert p.fmax_mhz == pytest.approx(125.0)
    assert "latency 2 for 100 MHz on up5k (cuts: c2, c3)" in p.summary()


def test_plan_unreachable():
    m = _model()
    # The longest piece between usable cuts (c + d = 6 ns) bounds it: 8 ns, 125 MHz.
    with pytest.raises(ValueError, match=r"^Target of 130 MHz is not reachable for unit X on "
                                         r"up5k: the highest estimate is 125.0 MHz "
                                         r"\(latency 3\)$"):
        plan_pipeline(SEGS, 130, "up5k", model=m, what="unit X")
    with pytest.raises(ValueError, match=r"^Target frequency must be a positive number of "
                                         r"MHz, not 0$"):
        plan_pipeline(SEGS, 0, "up5k", model=m)
    with pytest.raises(TypeError, match=r"^Target frequency must be a positive number of "
                                        r"MHz, not '80'$"):
        plan_pipeline(SEGS, "80", "up5k", model=m)


def test_plan_latency_balances():
    m = _model()
    p = plan_latency(SEGS, 2, "up5k", model=m)
    assert p.cuts == ("c2", "c3") and p.stage_ns == pytest.approx((8.0, 8.0, 6.0))
    p = plan_latency(SEGS, 3, "up5k", model=m)
    assert p.cuts == ("c1", "c2", "c3") and p.stage_ns == pytest.approx((6.0, 4.0, 8.0, 6.0))
    with pytest.raises(ValueError, match=r"^Latency must be an integer from 0 to 3, not 4$"):
        plan_latency(SEGS, 4, "up5k", model=m)


# -- planned float operators -------------------------------------------------------------------

@pytest.mark.parametrize("cls", [FloatMultiplier, FloatAdder, FloatFMA])
def test_pipeline_arguments(cls):
    with pytest.raises(ValueError, match=r"^Give one of latency, target_mhz and cuts, not "
                                         r"latency and target_mhz$"):
        cls("bf16", latency=1, target_mhz=50, device="up5k")
    with pytest.raises(ValueError, match=r"^A target of 50 MHz needs a device \(device=...\)$"):
        cls("bf16", target_mhz=50)
    with pytest.raises(ValueError, match=r"^Device is only used with target_mhz, not alone "
                                         r"\(device='up5k'\)$"):
        cls("bf16", device="up5k")
    with pytest.raises(ValueError, match=r"^Device must be one of 'up5k', 'hx8k', 'ecp5-25f', "
                                         r"'ecp5-85f', not 'x'$"):
        cls("bf16", target_mhz=50, device="x")
    with pytest.raises(ValueError, match=r"^Target frequency must be a positive number of "
                                         r"MHz, not -5$"):
        cls("bf16", target_mhz=-5, device="up5k")
    with pytest.raises(ValueError, match=r"^Cut point must be one of .*, not 'nope'$"):
        cls("bf16", cuts=["nope"])
    with pytest.raises(ValueError, match=r"^Target of 5000 MHz is not reachable for "
                                         r"f\w+_bf16_rne on ecp5-85f: the highest estimate is "
                                         r"[0-9.]+ MHz \(latency \d+\)$"):
        cls("bf16", target_mhz=5000, device="ecp5-85f")


def test_planned_names_and_cuts():
    # Latency 0 when the unpipelined estimate fits: the plain name.
    low = _silent(FloatMultiplier("bf16", target_mhz=1, device="ecp5-85f"))
    assert low.latency == 0 and low.cuts == () and low.module_name == "fmul_bf16_rne"
    assert low.plan.latency == 0
    # Explicit cuts equal to the fixed table's for that latency: the fixed name.
    same = _silent(FloatMultiplier("bf16", cuts=["norm", "raw"]))
    assert same.cuts == ("raw", "norm") and same.module_name == "fmul_bf16_rne_l2"
    # Other cuts: the mask of cut_points in the name.
    u = _silent(FloatAdder("fp16", cuts=["align", "round"]))
    pts = u.cut_points
    assert pts[:3] == ("swap", "align", "raw") and pts[-1] == "out"
    mask = (1 << pts.index("align")) | (1 << pts.index("round"))
    assert u.module_name == f"fadd_fp16_rne_l2_c{mask:x}" and u.latency == 2
    # A planned unit: its plan is what it builds, and a higher request never needs fewer
    # registers.
    lat = []
    for mhz in (40, 60, 80, 100):
        f = _silent(FloatFMA("bf16", rounding="dynamic", target_mhz=mhz, device="ecp5-85f"))
        assert f.cuts == f.plan.cuts and f.latency == f.plan.latency
        assert f.plan.fmax_mhz >= mhz
        lat.append(f.latency)
    assert lat == sorted(lat) and lat[-1] > 0


def test_product_split_only_in_logic():
    """The cut inside the multiplier is offered where the product is built in LUTs."""
    on_hx = [s.cut for s in _silent(FloatMultiplier("bf16")).segments("hx8k")]
    on_ecp5 = [s.cut for s in _silent(FloatMultiplier("bf16")).segments("ecp5-85f")]
    assert "pp" in on_hx and "pp" not in on_ecp5


PLANNED = [
    dict(op="fmul", fmt="bf16", rounding="dynamic", target_mhz=66, device="ecp5-85f"),
    dict(op="fmul", fmt="e4m3", rounding="rne", target_mhz=29, device="up5k"),
    dict(op="fadd", fmt="fp16", rounding="dynamic", target_mhz=66, device="ecp5-85f"),
    dict(op="fadd", fmt="e5m2", rounding="rdn", subtract="dynamic", target_mhz=26,
         device="up5k"),
    dict(op="ffma", fmt="bf16", rounding="dynamic", target_mhz=50, device="ecp5-85f"),
    dict(op="ffma", fmt="e4m3", rounding="rup", target_mhz=40, device="hx8k"),
    dict(op="fmul", fmt="e4m3", rounding="dynamic",
         cuts=["pp", "raw", "prep", "denorm", "norm", "round", "out"]),
    dict(op="fadd", fmt="bf16", b_fmt="fp32", out_fmt="fp32", rounding="dynamic",
         cuts=["swap", "align", "prep", "norm2", "round"]),
    dict(op="ffma", fmt="e4m3", c_fmt="fp16", out_fmt="fp16", rounding="dynamic",
         cuts=["pp", "prod", "prep", "norm1", "norm3", "round"]),
]


@pytest.mark.parametrize("p", PLANNED, ids=lambda p: "-".join(
    str(v) if not isinstance(v, list) else "+".join(v) for v in p.values()))
def test_planned_builds_against_golden(p):
    from test_float_units import _simulate
    kw = {k: v for k, v in p.items() if k != "op"}
    cls = {"fmul": FloatMultiplier, "fadd": FloatAdder, "ffma": FloatFMA}[p["op"]]
    dut = cls(kw.pop("fmt"), **kw)
    assert dut.latency > 0
    _simulate(p, "random:200", dut=dut)

"""cocotb testbench of :class:`hwgen.units.FloatMultiplier` against :func:`hwgen.golden.mul`.

The cocotb test (``check`` in :mod:`sim.fmul`) is driven by parameters from the pytest
functions below or from ``hwgen sim fmul``; the driver/checker is shared with fadd/ffma in
:mod:`sim.floatop`.
Each pytest function simulates one *group*: several variants under one Verilog top (one build),
combinational ones in several side-by-side lanes. The report names any failing variant.
"""

from sim.floatop import assert_passed, run_group

MODULE = "sim.fmul"


def _unit(fmt, **kw):
    from hwgen.units import FloatMultiplier
    return FloatMultiplier(fmt, **kw)


def _all_cuts(fmt, **kw):
    """The unit with a register at every candidate cut point."""
    probe = _unit(fmt, **kw)
    probe._MustUse__silence = True
    return _unit(fmt, cuts=probe.cut_points, **kw)


def test_fmul_exhaustive():
    """Every pair of operands in all five rounding modes (one dynamic-rounding build per
    format): e4m3, e5m2, e3m4, e3m2, e2m3, e2m1, the mixed e4m3 x e4m3 -> fp16 and
    e4m3 x e5m2 -> e4m3, and e5m2 with the Booth significand product; and the flag-free
    forms (``flags=False``, no ``flags`` port) of e4m3 in rne and e5m2 in rdn with the
    conditional-add product."""
    entries = [dict(comp=_unit(f, rounding="dynamic"), sets=["exhaustive"],
                    lanes=8 if f in ("e4m3", "e5m2", "e3m4") else 1)
               for f in ("e4m3", "e5m2", "e3m4", "e3m2", "e2m3", "e2m1")]
    entries.append(dict(comp=_unit("e4m3", out_fmt="fp16", rounding="dynamic"),
                        sets=["exhaustive"], lanes=8))
    # the significand product from Booth partial products (product="booth")
    entries.append(dict(comp=_unit("e5m2", rounding="dynamic", product="booth"),
                        sets=["exhaustive"], lanes=8))
    # mixed operand formats: the subnormal operand's leading zeros counted at its width
    entries.append(dict(comp=_unit("e4m3", b_fmt="e5m2", rounding="dynamic"),
                        sets=["exhaustive"], lanes=8))
    # without flags (the lean form: operands normalized before a product in logic)
    entries.append(dict(comp=_unit("e4m3", flags=False), sets=["exhaustive"], lanes=8))
    entries.append(dict(comp=_unit("e5m2", rounding="rdn", flags=False, product="shiftadd"),
                        sets=["exhaustive"], lanes=8))
    assert_passed(run_group("tb_fmul_exhaustive", MODULE, entries))


def test_fmul_wide():
    """fp16, bf16, fp32 (and fp16, bf16 with the Booth significand product, fp16 with the
    conditional-add one, fp16 x bf16 -> fp16, and bf16 and fp16 in rne without flags with
    the products in logic): the directed
    set (all pairs, all modes) plus 100,000 random vectors (rounding codes 0..7, so 5..7 are
    checked to behave as rne)."""
    entries = [dict(comp=_unit(f, rounding="dynamic"), sets=["directed", "random:100000"],
                    lanes=2) for f in ("fp16", "bf16", "fp32")]
    # the significand product from Booth partial products (product="booth")
    entries += [dict(comp=_unit(f, rounding="dynamic", product="booth"),
                     sets=["directed", "random:100000"], lanes=2) for f in ("fp16", "bf16")]
    # one conditional add per bit of b (product="shiftadd")
    entries.append(dict(comp=_unit("fp16", rounding="dynamic", product="shiftadd"),
                        sets=["directed", "random:30000"], lanes=2))
    # mixed widths: fp16's operand shifted by its count's high bits before the product
    # (FloatMultiplier._coarse), bf16's (counts below 8) not
    entries.append(dict(comp=_unit("fp16", b_fmt="bf16", out_fmt="fp16", rounding="dynamic"),
                        sets=["directed", "random:30000"], lanes=2))
    entries += [dict(comp=_unit(f, flags=False, product=pr), sets=["directed", "random:30000"],
                     lanes=2) for f, pr in (("bf16", "shiftadd"), ("fp16", "booth"))]
    assert_passed(run_group("tb_fmul_wide", MODULE, entries, seed=11))


def test_fmul_pipelined():
    """Latency 1..3, one vector per clock with a random in_valid pattern; every result must
    come out exactly `latency` cycles after its operands. Planned pipelines (``target_mhz=``
    with ``device=``) and one with every cut point are checked the same way. Includes a
    static-rounding FTZ build checked on every operand pair."""
    entries = [
        dict(comp=_unit("bf16", rounding="dynamic", latency=1), sets=["random:8000"]),
        dict(comp=_unit("e5m2_ftz", rounding="rdn", latency=2), sets=["exhaustive"]),
        dict(comp=_unit("fp16", rounding="rna", latency=3), sets=["random:8000"]),
        dict(comp=_unit("bf16", flags=False, product="shiftadd", latency=2),
             sets=["random:8000"]),
        # Planned pipelines (hwgen.timing): about twice the unpipelined Fmax, and every cut
        # point at once.
        dict(comp=_unit("bf16", rounding="dynamic", target_mhz=66, device="ecp5-85f"),
             sets=["random:8000"]),
        dict(comp=_unit("e4m3", rounding="rne", target_mhz=29, device="up5k"),
             sets=["exhaustive"]),
        dict(comp=_all_cuts("e5m2", rounding="dynamic"), sets=["random:8000"]),
        dict(comp=_all_cuts("fp16", rounding="dynamic", product="booth"),
             sets=["random:8000"]),
    ]
    assert_passed(run_group("tb_fmul_pipelined", MODULE, entries, seed=3))

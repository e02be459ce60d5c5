"""cocotb testbench of :class:`hwgen.units.FloatAdder` against :func:`hwgen.golden.add`.

The cocotb test (``check`` in :mod:`sim.fadd`) is driven by parameters from the pytest
functions below or from ``hwgen sim fadd``; the driver/checker is shared with fmul/ffma in
:mod:`sim.floatop`.
Each pytest function simulates one *group*: several variants under one Verilog top (one build),
combinational ones in several side-by-side lanes. The report names any failing variant.
Random sets put a quarter of the ``b`` operands near ``a`` (cancellation).
"""

from sim.floatop import assert_passed, run_group

MODULE = "sim.fadd"


def _unit(fmt, **kw):
    from hwgen.units import FloatAdder
    return FloatAdder(fmt, **kw)


def _all_cuts(fmt, **kw):
    """The unit with a register at every candidate cut point."""
    probe = _unit(fmt, **kw)
    probe._MustUse__silence = True
    return _unit(fmt, cuts=probe.cut_points, **kw)


def test_fadd_exhaustive():
    """Every pair of operands in all five rounding modes (one dynamic-rounding build per
    format): e4m3, e5m2, e3m4, e3m2, e2m3, e2m1; the run-time add/subtract select on
    every e4m3 pair, both operations; and e4m3 in rtz without flags (``flags=False``)."""
    entries = [dict(comp=_unit(f, rounding="dynamic"), sets=["exhaustive"],
                    lanes=8 if f in ("e4m3", "e5m2", "e3m4") else 1)
               for f in ("e4m3", "e5m2", "e3m4", "e3m2", "e2m3", "e2m1")]
    entries.append(dict(comp=_unit("e4m3", subtract="dynamic", rounding="dynamic"),
                        sets=["exhaustive"], lanes=8))
    entries.append(dict(comp=_unit("e4m3", rounding="rtz", flags=False), sets=["exhaustive"],
                        lanes=8))
    assert_passed(run_group("tb_fadd_exhaustive", MODULE, entries))


def test_fadd_wide():
    """fp16, bf16, fp32 and the mixed bf16 + fp32 -> fp32: the directed set (all pairs, all
    modes) plus 100,000 random vectors each (rounding codes 0..7)."""
    entries = [dict(comp=_unit(f, rounding="dynamic"), sets=["directed", "random:100000"],
                    lanes=2) for f in ("fp16", "bf16", "fp32")]
    entries.append(dict(comp=_unit("bf16", b_fmt="fp32", out_fmt="fp32", rounding="dynamic"),
                        sets=["directed", "random:100000"], lanes=2))
    assert_passed(run_group("tb_fadd_wide", MODULE, entries, seed=5))


def test_fadd_pipelined():
    """Latency 1..3, one vector per clock with a random in_valid pattern; every result must
    come out exactly `latency` cycles after its operands. Planned pipelines (``target_mhz=``
    with ``device=``) and one with every cut point are checked the same way. Includes a
    static-rounding FTZ subtractor checked on every operand pair."""
    entries = [
        dict(comp=_unit("bf16", rounding="dynamic", latency=1), sets=["random:8000"]),
        dict(comp=_unit("e5m2_ftz", rounding="rdn", subtract=True, latency=2),
             sets=["exhaustive"]),
        dict(comp=_unit("fp16", rounding="rna", latency=3), sets=["random:8000"]),
        # Planned pipelines (hwgen.timing): about twice the unpipelined Fmax, and every cut
        # point at once.
        dict(comp=_unit("fp16", rounding="dynamic", target_mhz=66, device="ecp5-85f"),
             sets=["random:8000"]),
        dict(comp=_all_cuts("e4m3", rounding="rne", subtract="dynamic"), sets=["exhaustive"]),
    ]
    assert_passed(run_group("tb_fadd_pipelined", MODULE, entries, seed=3))

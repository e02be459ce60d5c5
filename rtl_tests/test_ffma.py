"""cocotb testbench of :class:`hwgen.units.FloatFMA` against :func:`hwgen.golden.fma`.

The cocotb test (``check`` in :mod:`sim.ffma`) is driven by parameters from the pytest
functions below or from ``hwgen sim ffma``; the driver/checker is shared with fmul/fadd in
:mod:`sim.floatop`.
Each pytest function simulates one *group*: several variants under one Verilog top (one build),
combinational ones in several side-by-side lanes. The report names any failing variant.
Random sets put a quarter of the addends near ``-(a*b)`` (cancellation).
"""

from sim.floatop import assert_passed, run_group

MODULE = "sim.ffma"


def _unit(fmt, **kw):
    from hwgen.units import FloatFMA
    return FloatFMA(fmt, **kw)


def _all_cuts(fmt, **kw):
    """The unit with a register at every candidate cut point."""
    probe = _unit(fmt, **kw)
    probe._MustUse__silence = True
    return _unit(fmt, cuts=probe.cut_points, **kw)


def test_ffma_narrow():
    """Every e2m1 and e3m2 triple in all five modes (e3m2: the addend's place ``K`` two bits
    lower, ``Pp``, fails it) and every e3m2 triple in rne without flags (``flags=False``);
    e4m3 and e5m2: directed triples (all combinations, all modes) plus 100,000 random triples
    each."""
    entries = [dict(comp=_unit("e2m1", rounding="dynamic"), sets=["exhaustive"]),
               dict(comp=_unit("e3m2", rounding="dynamic"), sets=["exhaustive"], lanes=8),
               dict(comp=_unit("e3m2", flags=False), sets=["exhaustive"], lanes=8)]
    entries += [dict(comp=_unit(f, rounding="dynamic"), sets=["directed", "random:100000"],
                     lanes=2) for f in ("e4m3", "e5m2")]
    assert_passed(run_group("tb_ffma_narrow", MODULE, entries, seed=7))


def test_ffma_wide():
    """fp16, bf16, fp32, the mixed bf16 * bf16 + fp32 -> fp32, fp16, bf16 with the Booth
    significand product and bf16 with the conditional-add one (``product="shiftadd"``), and
    bf16 in rne without flags with the Booth product: directed triples plus 20,000 random
    triples each."""
    entries = [dict(comp=_unit(f, rounding="dynamic"), sets=["directed", "random:20000"],
                    lanes=2) for f in ("fp16", "bf16", "fp32")]
    entries.append(dict(comp=_unit("bf16", c_fmt="fp32", out_fmt="fp32", rounding="dynamic"),
                        sets=["directed", "random:20000"], lanes=2))
    # the significand product from Booth partial products (product="booth")
    entries += [dict(comp=_unit(f, rounding="dynamic", product="booth"),
                     sets=["directed", "random:20000"], lanes=2) for f in ("fp16", "bf16")]
    entries.append(dict(comp=_unit("bf16", rounding="dynamic", product="shiftadd"),
                        sets=["directed", "random:20000"], lanes=2))
    entries.append(dict(comp=_unit("bf16", flags=False, product="booth"),
                        sets=["directed", "random:20000"], lanes=2))
    assert_passed(run_group("tb_ffma_wide", MODULE, entries, seed=9))


def test_ffma_pipelined():
    """Latency 1..4, one vector per clock with a random in_valid pattern; every result must
    come out exactly `latency` cycles after its operands. Planned pipelines (``target_mhz=``
    with ``device=``) and one with every cut point are checked the same way."""
    entries = [
        dict(comp=_unit("e4m3", rounding="dynamic", latency=1), sets=["random:8000"]),
        dict(comp=_unit("bf16", rounding="rne", latency=2), sets=["random:8000"]),
        dict(comp=_unit("fp16", rounding="dynamic", latency=3), sets=["random:8000"]),
        dict(comp=_unit("e5m2_ftz", rounding="rtz", latency=4), sets=["random:8000"]),
        # Planned pipelines (hwgen.timing): bf16 at 80 MHz on the ECP5 85F, e4m3 at twice
        # its unpipelined Fmax on the HX8K, and every cut point at once.
        dict(comp=_unit("bf16", rounding="dynamic", target_mhz=80, device="ecp5-85f"),
             sets=["random:8000"]),
        dict(comp=_unit("e4m3", rounding="rup", target_mhz=40, device="hx8k"),
             sets=["random:8000"]),
        dict(comp=_all_cuts("fp16", rounding="dynamic"), sets=["random:8000"]),
        dict(comp=_all_cuts("bf16", rounding="dynamic", product="booth"),
             sets=["random:8000"]),
    ]
    assert_passed(run_group("tb_ffma_pipelined", MODULE, entries, seed=4))

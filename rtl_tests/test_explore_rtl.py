"""A model's layers through the systolic array RTL, checked bit for bit against the precision
explorer's emulation (:func:`hwgen.explore.rtl.verify_rtl`, ``hwgen explore --verify-rtl N``;
the cocotb side is :mod:`sim.explore_rtl`).

CI runs two small cases that reuse builds of ``test_systolic.py``: the iris MLP on two inputs
as fx8 (int8 4x4 WS array) and as bs8@5 (bs8x8 2x2 WS array, 5 run-time bits). Float candidates
need a build of their own array (minutes of Verilator each on a loaded machine); run them with
``hwgen explore --verify-rtl``.
"""


def test_fx8_iris_on_int8_array_matches_emulation():
    from hwgen.explore.models import builtin_model
    from hwgen.explore.rtl import verify_rtl
    model = builtin_model("mlp-iris")
    r = verify_rtl(model, "fx8", 2, rows=4, cols=4, dataflow="ws")
    assert r["pe"] == "int8" and r["sim_passed"], r
    assert [x["shape"] for x in r["layers"]] == [[2, 4, 16], [2, 16, 3]]
    assert r["mismatches"] == 0 and r["golden_mismatches"] == 0, r["layers"]
    assert r["passed"]


def test_bitserial_iris_on_bs8x8_array_matches_emulation():
    """Run-time precision: the stored 8-bit weights, 5 of their bit-planes on every tile
    (reuses the bs8x8 2x2 build of test_systolic.py)."""
    from hwgen.explore.models import builtin_model
    from hwgen.explore.rtl import verify_rtl
    r = verify_rtl(builtin_model("mlp-iris"), "bs8@5", 2, rows=2, cols=2, dataflow="ws")
    assert r["pe"] == "bs8x8" and r["sim_passed"], r
    assert r["mismatches"] == 0 and r["golden_mismatches"] == 0, r["layers"]

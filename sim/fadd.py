"""The cocotb test of :class:`hwgen.units.FloatAdder` against :func:`hwgen.golden.add` (what
``hwgen sim fadd`` runs, and what ``rtl_tests/test_fadd.py`` runs on its group wrappers); the
driver/checker is shared by the float operators in :mod:`sim.floatop`."""

from .floatop import MAX_EXHAUSTIVE, build_unit, cocotb_check, unit_params

__all__ = ["check", "build_unit", "unit_params", "MAX_EXHAUSTIVE"]

check = cocotb_check("fadd", __name__)

"""The simulation layer itself: builds are per design variant, reused when the Verilog is
unchanged, parameters reach the cocotb side, failures are reported as failures."""

import shutil

import cocotb
import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from cocotb.triggers import Timer

from sim.params import get_params, write_report
from sim.runner import run


class AddK(wiring.Component):
    """y = a + k (mod 256): the smallest design with a parameter in its name."""
    a: In(8)
    y: Out(8)

    def __init__(self, k):
        self.k = k
        super().__init__()

    @property
    def module_name(self):
        return f"simlayer_addk_{self.k}"

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(self.a + self.k)
        return m


@cocotb.test()
async def check_addk(dut):
    p = get_params()
    mismatches = 0
    for a in range(256):
        dut.a.value = a
        await Timer(1, "ns")
        mismatches += int(dut.y.value) != (a + p["expect_k"]) % 256
    write_report({"vectors": 256, "mismatches": mismatches})
    assert mismatches == 0


def test_build_per_variant_and_reuse():
    r1 = run(AddK(5), test_module="rtl_tests.test_sim_layer", params={"expect_k": 5})
    assert r1.passed and r1.report == {"vectors": 256, "mismatches": 0}
    assert r1.build_dir.name.startswith("simlayer_addk_5-")
    binaries = [p for p in r1.build_dir.iterdir() if p.name == "simlayer_addk_5"
                or p.suffix == ".vvp"]
    assert binaries
    stamp = binaries[0].stat().st_mtime_ns
    r2 = run(AddK(5), test_module="rtl_tests.test_sim_layer", params={"expect_k": 5})
    assert r2.passed
    assert binaries[0].stat().st_mtime_ns == stamp  # unchanged Verilog: no rebuild
    assert not any(p.suffix in (".vcd", ".fst") for p in r2.build_dir.rglob("*"))


def test_mismatch_is_a_failure():
    # The golden expectation says k=6, the design adds 7: the run must fail.
    r = run(AddK(7), test_module="rtl_tests.test_sim_layer", params={"expect_k": 6})
    assert not r.passed
    assert r.report["mismatches"] == 256


@pytest.mark.skipif(shutil.which("iverilog") is None,
                    reason="Icarus Verilog is optional and not installed")
def test_icarus():
    r = run(AddK(3), test_module="rtl_tests.test_sim_layer", params={"expect_k": 3},
            sim="icarus")
    assert r.passed

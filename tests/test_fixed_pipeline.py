"""``target_mhz``/``device`` on the units with one pipeline (``bsmac``, ``dpmac``,
``requant``: :mod:`hwgen.timing.fixed`; ``mxdot`` plans its pipeline: tests/test_mxdot_amaranth.py): accepted requests keep the design and record the
estimate, unreachable ones name the slowest stage, bad combinations are refused."""

import pytest

from hwgen.cli import main
from hwgen.elaboratables import not_built
from hwgen.timing import delay_model
from hwgen.units.bsmac import BitSerialMac
from hwgen.units.dpmac import DualPrecisionMac
from hwgen.units.requant import Requantize

UNITS = [(BitSerialMac, "bsmac_k8_w8_a8_s", 1), (DualPrecisionMac, "dpmac_h8_l4", 1),
         (Requantize, "requant_a32_s8", 4)]


@pytest.mark.parametrize("cls, name, latency", UNITS)
def test_request_within_the_estimate(cls, name, latency):
    plain = cls()
    est = min(1000 / delay_model("ecp5-85f").stage_ns(ns)
              for _, ns in plain.stage_logic(delay_model("ecp5-85f")))
    u = cls(target_mhz=round(est * 0.9, 1), device="ecp5-85f")
    not_built(plain, u)
    assert u.module_name == plain.module_name == name and u.latency == latency
    assert u.plan.fmax_mhz == pytest.approx(est) and u.target_mhz == round(est * 0.9, 1)
    assert plain.plan is None and plain.target_mhz is None
    assert f"fixed pipeline, latency {latency}, for " in u.plan.summary()
    with pytest.raises(ValueError, match=rf"{name} cannot reach [\d.]+ MHz on ecp5-85f: its "
                                         rf".* stage is estimated at {est:.1f} MHz and its "
                                         rf"pipeline is fixed \(latency {latency}\)"):
        cls(target_mhz=round(est * 1.2, 1), device="ecp5-85f")
    with pytest.raises(ValueError, match="Device is only used with target_mhz"):
        cls(device="up5k")
    with pytest.raises(ValueError, match="needs a device"):
        cls(target_mhz=10)


def test_cli(tmp_path, capsys):
    out = tmp_path / "r.v"
    assert main(["generate", "requant", "--target-mhz", "20", "--device", "ecp5-85f",
                 "-o", str(out)]) == 0
    assert capsys.readouterr().out.startswith("pipeline: fixed pipeline, latency 4, for 20 MHz "
                                              "on ecp5-85f; stages bias add and left shift")
    assert main(["generate", "dpmac", "--target-mhz", "500", "--device", "up5k",
                 "-o", str(out)]) == 2
    assert "dpmac_h8_l4 cannot reach 500 MHz on up5k" in capsys.readouterr().err
    assert main(["generate", "bsmac", "--target-mhz", "0", "--device", "up5k",
                 "-o", str(out)]) == 2
    assert "--target-mhz must be a positive number of MHz, not 0" in capsys.readouterr().err

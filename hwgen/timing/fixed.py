"""Clock requests for units with one pipeline (``bsmac``, ``dpmac``, ``requant``).

Their stages are fixed by their design (a bit-serial plane stage and the accumulation loop; a
product stage and the loop; requantization's four stages), so a request ``target_mhz=F`` on
``device=D`` does not move registers: the delay model estimates every stage, and a request
the slowest stage cannot meet is refused naming that stage. What is accepted is recorded as a
:class:`FixedPlan` (``unit.plan``, printed by ``hwgen generate|sim|synth``), and ``hwgen
synth --json`` reports ``requested_mhz`` beside the achieved ``fmax_mhz`` as for the planned
units.
"""

from dataclasses import dataclass

from ..elaboratables import refused_quietly
from .model import check_device, delay_model
from .planner import check_target_mhz

__all__ = ["StagePlan", "FixedPlan", "check_fixed_pipeline", "FixedPipeline"]


@dataclass(frozen=True)
class StagePlan:
    """A unit's stages as the delay model estimates them, against a request.

    Attributes
    ----------
    device : str
    target_mhz : float
    latency : int
        The unit's latency.
    stages : tuple of (str, float)
        Each register-to-register stage's name and estimated period (ns).
    """
    device: str
    target_mhz: float
    latency: int
    stages: tuple

    @property
    def fmax_mhz(self):
        """The slowest stage's estimate."""
        return 1000.0 / max(ns for _, ns in self.stages)

    def stage_text(self):
        return ", ".join(f"{n} {ns:.1f}" for n, ns in self.stages)


@dataclass(frozen=True)
class FixedPlan(StagePlan):
    """The estimate of a fixed pipeline (the latency is the unit's own, unchanged)."""

    def summary(self):
        return (f"fixed pipeline, latency {self.latency}, for {self.target_mhz:g} MHz on "
                f"{self.device}; stages {self.stage_text()} ns, estimated "
                f"{self.fmax_mhz:.1f} MHz")


def check_fixed_pipeline(what, stage_logic, latency, target_mhz, device):
    """The :class:`FixedPlan` of a unit named ``what`` whose stages' logic
    ``stage_logic(model)`` returns as ``[(name, logic ns), ...]``.

    Raises
    ------
    ValueError
        No device, an unknown one, a bad target, or a stage the model estimates slower than
        the target (the message names it, its estimate and that the pipeline is fixed).
    """
    target_mhz = check_target_mhz(target_mhz)
    if device is None:
        raise ValueError(f"A target of {target_mhz:g} MHz needs a device (device=...)")
    model = delay_model(check_device(device))
    stages = tuple((name, model.stage_ns(ns)) for name, ns in stage_logic(model))
    plan = FixedPlan(model.device, target_mhz, latency, stages)
    name, ns = max(stages, key=lambda s: s[1])
    if 1000.0 / ns < target_mhz:
        raise ValueError(f"{what} cannot reach {target_mhz:g} MHz on {model.device}: its "
                         f"{name} stage is estimated at {1000.0 / ns:.1f} MHz and its "
                         f"pipeline is fixed (latency {latency})")
    return plan


class FixedPipeline:
    """Mixin of the units with one pipeline: ``target_mhz``/``device`` requests.

    A unit calls :meth:`_request` at the end of ``__init__`` and defines
    ``stage_logic(model)`` (``[(stage name, logic ns), ...]``), ``latency`` and
    ``module_name``.
    """

    _plan = None
    _target_mhz = None

    def _request(self, target_mhz, device):
        with refused_quietly(self):
            if target_mhz is None:
                if device is not None:
                    raise ValueError(f"Device is only used with target_mhz, not alone "
                                     f"(device={device!r})")
                return
            self._plan = check_fixed_pipeline(self.module_name, self.stage_logic,
                                              self.latency, target_mhz, device)
            self._target_mhz = self._plan.target_mhz

    @property
    def plan(self):
        """The :class:`FixedPlan` of a ``target_mhz=`` request, else ``None``."""
        return self._plan

    @property
    def target_mhz(self):
        return self._target_mhz

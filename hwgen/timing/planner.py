"""The pipeline planner: where to put registers so a datapath meets a clock.

A unit describes its datapath as an ordered list of :class:`Segment` objects: the logic
between two candidate cut points, with its estimated delay (from a
:class:`~hwgen.timing.model.DelayModel`) and the name of the cut point that follows it
(``None`` where no register may go, e.g. inside a DSP block). Segments that run side by side
are one segment (the unit gives the slower path's delay).

The operands are taken to come from registers and the result to go into one (the unit's
user, or the out-of-context harness): a stage is the logic between two registers, and its
estimated period is ``model.stage_ns(sum of its segment delays)``.

:func:`plan_pipeline` picks the fewest cut points that make every stage fit a target clock,
and among those placements the one with the shortest longest stage (the most slack);
:func:`plan_latency` places a given number of registers the same way.
"""

import math
from dataclasses import dataclass

from .model import DelayModel, check_device, delay_model

__all__ = ["Segment", "Plan", "plan_pipeline", "plan_latency", "plan_cuts",
           "check_target_mhz"]


@dataclass(frozen=True)
class Segment:
    """The logic between two candidate cut points.

    Attributes
    ----------
    name : str
        What the logic is (``"mul"``, ``"align"``), for reports.
    delay : float
        Estimated delay of the logic in ns (the slowest of parallel paths).
    cut : str or None
        The candidate cut point after this logic; ``None``: no register may go there.
    """
    name: str
    delay: float
    cut: str | None = None


@dataclass(frozen=True)
class Plan:
    """A placement of pipeline registers.

    Attributes
    ----------
    device : str
    target_mhz : float or None
        The request (``None`` for :func:`plan_latency`).
    cuts : tuple of str
        The chosen cut points, in datapath order.
    latency : int
        ``len(cuts)``: cycles from operands to result.
    stage_ns : tuple of float
        Estimated clock period of each of the ``latency + 1`` stages.
    stage_names : tuple of str
        The segments of each stage, joined by ``+``.
    """
    device: str
    target_mhz: float | None
    cuts: tuple
    latency: int
    stage_ns: tuple
    stage_names: tuple

    @property
    def period_ns(self):
        """The longest stage's estimate."""
        return max(self.stage_ns)

    @property
    def fmax_mhz(self):
        """Estimated Fmax: ``1000 / period_ns``."""
        return 1000.0 / self.period_ns

    def summary(self):
        """One line: latency, cut points and per-stage estimates."""
        cuts = ", ".join(self.cuts) if self.cuts else "none"
        stages = ", ".join(f"{ns:.1f}" for ns in self.stage_ns)
        req = f" for {self.target_mhz:g} MHz" if self.target_mhz is not None else ""
        return (f"latency {self.latency}{req} on {self.device} (cuts: {cuts}); stages "
                f"{stages} ns, estimated {self.fmax_mhz:.1f} MHz")


def check_target_mhz(target_mhz):
    """Return ``target_mhz`` as a float if it is a positive finite number, else raise."""
    if isinstance(target_mhz, bool) or not isinstance(target_mhz, (int, float)):
        raise TypeError(f"Target frequency must be a positive number of MHz, not "
                        f"{target_mhz!r}")
    if not (math.isfinite(target_mhz) and target_mhz > 0):
        raise ValueError(f"Target frequency must be a positive number of MHz, not "
                         f"{target_mhz!r}")
    return float(target_mhz)


def _model(device, model):
    if model is not None:
        if not isinstance(model, DelayModel):
            raise TypeError(f"Model must be a DelayModel, not {model!r}")
        return model
    return delay_model(check_device(device))


def _atoms(segments):
    """Merge segments between usable cut points: ``[(delay, names, cut_after), ...]``; the
    last atom's ``cut_after`` is ``None`` (the result register is the user's)."""
    segments = list(segments)
    for s in segments:
        if not isinstance(s, Segment):
            raise TypeError(f"Segments must be Segment objects, not {s!r}")
        if not (isinstance(s.delay, (int, float)) and s.delay >= 0):
            raise ValueError(f"Segment delay must be a non-negative number, not {s.delay!r}")
    cuts = [s.cut for s in segments if s.cut is not None]
    if len(set(cuts)) != len(cuts):
        raise ValueError(f"Cut point names must be unique, not {cuts!r}")
    atoms, delay, names = [], 0.0, []
    for i, s in enumerate(segments):
        delay += s.delay
        names.append(s.name)
        if s.cut is not None and i < len(segments) - 1:
            atoms.append((delay, tuple(names), s.cut))
            delay, names = 0.0, []
    atoms.append((delay, tuple(names), None))
    return atoms


def _best_split(delays, k):
    """Split the sequence ``delays`` into ``k + 1`` consecutive groups minimizing the
    largest group sum; ties go to the earliest cuts. Returns ``(largest, cut indices)``
    where a cut index ``i`` means a register after ``delays[i]``."""
    n = len(delays)
    prefix = [0.0]
    for d in delays:
        prefix.append(prefix[-1] + d)
    # best[j][i]: (largest group, cuts) splitting delays[:i] into j + 1 groups.
    inf = (math.inf, ())
    best = [[inf] * (n + 1) for _ in range(k + 1)]
    for i in range(1, n + 1):
        best[0][i] = (prefix[i], ())
    for j in range(1, k + 1):
        for i in range(j + 1, n + 1):
            cand = inf
            for c in range(j, i):           # last group is delays[c:i]
                prev, cuts = best[j - 1][c]
                val = max(prev, prefix[i] - prefix[c])
                if val < cand[0] - 1e-12:
                    cand = (val, cuts + (c - 1,))
            best[j][i] = cand
    return best[k][n]


def _plan(atoms, cut_idx, model, target):
    groups, start = [], 0
    for i in list(cut_idx) + [len(atoms) - 1]:
        groups.append(atoms[start:i + 1])
        start = i + 1
    stage_ns = tuple(model.stage_ns(sum(a[0] for a in g)) for g in groups)
    names = tuple("+".join(n for a in g for n in a[1]) for g in groups)
    return Plan(device=model.device, target_mhz=target,
                cuts=tuple(atoms[i][2] for i in cut_idx), latency=len(cut_idx),
                stage_ns=stage_ns, stage_names=names)


def plan_latency(segments, latency, device, *, model=None):
    """Place ``latency`` registers on the candidate cut points of ``segments`` so the
    longest stage is as short as the model says it can be.

    Raises
    ------
    ValueError
        ``latency`` is negative or larger than the number of usable cut points.
    """
    model = _model(device, model)
    atoms = _atoms(segments)
    n_cuts = len(atoms) - 1
    if not isinstance(latency, int) or isinstance(latency, bool) or \
            not 0 <= latency <= n_cuts:
        raise ValueError(f"Latency must be an integer from 0 to {n_cuts}, not {latency!r}")
    _, idx = _best_split([a[0] for a in atoms], latency)
    return _plan(atoms, idx, model, None)


def plan_cuts(segments, cuts, device, *, model=None):
    """The model's estimate for registers on exactly the cut points ``cuts`` (names) of
    ``segments``: a :class:`Plan` with ``target_mhz`` ``None``.

    Raises
    ------
    ValueError
        A name in ``cuts`` is not a usable cut point of ``segments``.
    """
    model = _model(device, model)
    segments = list(segments)
    atoms = _atoms(segments)
    where = {a[2]: i for i, a in enumerate(atoms) if a[2] is not None}
    last = segments[-1].cut if segments else None       # a register on the result
    unknown = [c for c in cuts if c not in where and c != last]
    if unknown:
        raise ValueError(f"Cut point {unknown[0]!r} is not one of "
                         f"{', '.join([*where, *([last] if last else [])]) or 'none'} "
                         f"(usable on {model.device})")
    plan = _plan(atoms, sorted(where[c] for c in set(cuts) if c != last), model, None)
    if last is None or last not in cuts:
        return plan
    # the result register adds a stage with no logic after it
    return Plan(device=plan.device, target_mhz=None, cuts=plan.cuts + (last,),
                latency=plan.latency + 1, stage_ns=plan.stage_ns + (model.stage_ns(0.0),),
                stage_names=plan.stage_names + ("",))


def plan_pipeline(segments, target_mhz, device, *, model=None, what=None):
    """The fewest registers on the candidate cut points of ``segments`` such that every
    stage's estimate fits the period of ``target_mhz``; among those placements, the one
    with the shortest longest stage.

    Parameters
    ----------
    segments : list of Segment
        The datapath in order (see :class:`Segment`).
    target_mhz : float
        The requested clock.
    device : str
        One of :data:`hwgen.timing.DEVICE_NAMES`.
    model : DelayModel or None
        Defaults to the packaged model of ``device``.
    what : str or None
        The unit's name, for the error message.

    Returns
    -------
    Plan

    Raises
    ------
    ValueError
        The request is beyond what any latency reaches in the model; the message names the
        request and the highest reachable estimate.
    """
    target = check_target_mhz(target_mhz)
    model = _model(device, model)
    atoms = _atoms(segments)
    delays = [a[0] for a in atoms]
    period = 1000.0 / target
    for k in range(len(atoms)):
        largest, idx = _best_split(delays, k)
        if model.stage_ns(largest) <= period + 1e-9:
            return _plan(atoms, idx, model, target)
    best = 1000.0 / model.stage_ns(max(delays))
    of = f" for {what}" if what else ""
    raise ValueError(f"Target of {target:g} MHz is not reachable{of} on {model.device}: the "
                     f"highest estimate is {best:.1f} MHz (latency {len(atoms) - 1})")

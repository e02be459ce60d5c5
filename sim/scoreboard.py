"""The counts a simulation run reports, summed over its cocotb tests.

A cocotb module runs its tests one after the other in one simulator process, and the runner
reads one report back (:func:`sim.params.write_report`). Each test makes its own
:class:`Scoreboard`; it starts from what the earlier tests of the run reported (the report file
is the run's only state, so no module keeps a dict of totals), adds this test's counts and
writes the sums back::

    sb = Scoreboard(results=0)              # keys this testbench reports, with start values
    sb.add(vectors=n, results=len(exp), mismatches=bad, first_mismatches=lines)
    sb.finish()                             # adds this test's seconds, writes the report
    assert sb.mismatches == 0, sb.lines     # this test's own mismatches

:meth:`Scoreboard.add` sums numbers and appends lists; :meth:`Scoreboard.set` replaces
values (dicts of measurements, bounds). ``first_mismatches`` keeps the first
:attr:`Scoreboard.FIRST` lines of the run.
"""

import time

from .params import read_report, write_report

__all__ = ["Scoreboard"]


class Scoreboard:
    """Totals of one simulation run plus the counts of the current test.

    Parameters
    ----------
    **start
        Further report keys and their start values (``0`` for a count, ``[]`` for a list),
        in addition to ``vectors``, ``mismatches``, ``first_mismatches`` and ``seconds``.

    Attributes
    ----------
    totals : dict
        The run's report so far (earlier tests included).
    mismatches : int
        Mismatches this test added.
    lines : list of str
        Mismatch descriptions this test added (all of them, for its assertion message).
    """

    #: ``first_mismatches`` lines kept in the report.
    FIRST = 20

    def __init__(self, **start):
        self.totals = {"vectors": 0, "mismatches": 0, "first_mismatches": [], "seconds": 0.0,
                       **start}
        self.totals.update(read_report())
        self.mismatches = 0
        self.lines = []
        self._t0 = time.monotonic()

    def add(self, **counts):
        """Add ``counts`` to the totals: numbers are summed, lists appended (a key not seen
        before starts from its value)."""
        for key, value in counts.items():
            if key == "mismatches":
                self.mismatches += value
            elif key == "first_mismatches":
                value = list(value)
                self.lines += value
            old = self.totals.get(key)
            if old is None:
                self.totals[key] = list(value) if isinstance(value, (list, tuple)) else value
            elif isinstance(value, (list, tuple)):
                self.totals[key] = list(old) + list(value)
            else:
                self.totals[key] = old + value
        self.totals["first_mismatches"] = self.totals["first_mismatches"][:self.FIRST]

    def set(self, **values):
        """Replace report values (measurements that are not sums)."""
        self.totals.update(values)

    def write(self):
        """Write the totals to the report (without this test's seconds)."""
        write_report(dict(self.totals))

    def finish(self):
        """Add this test's wall-clock seconds, write the report and return the totals."""
        self.totals["seconds"] += time.monotonic() - self._t0
        self._t0 = time.monotonic()
        self.write()
        return self.totals

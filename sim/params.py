"""What a cocotb test module reads from its environment, and what it reports back."""

import json
import os

__all__ = ["get_params", "read_report", "write_report"]


def get_params():
    """The parameters :func:`sim.runner.run` passed (a dict)."""
    return json.loads(os.environ.get("HWGEN_PARAMS", "{}"))


def read_report():
    """The report written so far in this run (a dict; empty when there is none)."""
    path = os.environ.get("HWGEN_REPORT")
    if not path or not os.path.exists(path):
        return {}
    with open(path) as f:
        return json.load(f)


def write_report(report):
    """Merge ``report`` into the JSON report file the runner reads back."""
    path = os.environ.get("HWGEN_REPORT")
    if not path:
        return
    old = read_report()
    old.update(report)
    with open(path, "w") as f:
        json.dump(old, f, sort_keys=True, default=str)

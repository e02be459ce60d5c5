"""What a cocotb test module reads from its environment, and what it reports back."""

import json
import os

__all__ = ["get_params", "write_report"]


def get_params():
    """The parameters :func:`sim.runner.run` passed (a dict)."""
    return json.loads(os.environ.get("HWGEN_PARAMS", "{}"))


def write_report(report):
    """Merge ``report`` into the JSON report file the runner reads back."""
    path = os.environ.get("HWGEN_REPORT")
    if not path:
        return
    old = {}
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
    old.update(report)
    with open(path, "w") as f:
        json.dump(old, f, sort_keys=True, default=str)

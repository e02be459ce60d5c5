"""What can go wrong in the FPGA flow: one exception class per verdict.

A command maps them to exit statuses: :class:`DoesNotFit` and :class:`TimingError` are answers
about the design (exit 2), any other :class:`FlowError` is a tool that failed (exit 1).
"""

__all__ = ["FlowError", "DoesNotFit", "TimingError", "ToolMismatch", "ToolTimeout"]


class FlowError(RuntimeError):
    """A tool failed; the message is one line and names the log file.

    Attributes
    ----------
    files : dict
        When the tools ran in a temporary folder (:func:`hwgen.flow.synth.run_synthesis`
        without ``workdir``): the logs and scripts they left, by file name, so that a caller
        on another machine can keep them; empty otherwise.
    """

    files: dict = {}


class DoesNotFit(FlowError):
    """The design needs more of some resource than the device has."""


class TimingError(FlowError):
    """The design placed and routed but misses the board's clock; ``result`` holds the
    :class:`~hwgen.flow.report.BuildResult` (bitstream and report are written)."""

    result = None


class ToolMismatch(FlowError):
    """The tools installed here are not the versions a job was planned (and keyed) with: its
    result would be cached under another tool version's key."""


class ToolTimeout(FlowError):
    """A tool ran longer than the run's time limit and was stopped (never cached: a longer
    limit may finish it)."""

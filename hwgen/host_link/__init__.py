"""The link between a host and a systolic array on a board: a framed protocol over a UART.

Host side (plain Python, no Amaranth: importing it loads no gateware):

- :mod:`.protocol`: the protocol's constants, CRC, frame coding, line rate and buffer words
  (shared with the host driver :mod:`hwgen.host`).

Gateware (Amaranth), one component per module, joined by streams (:mod:`.engine` shows how):

- :mod:`.uart`: 8N1 UART receiver and transmitter with a clock divider;
- :mod:`.layouts`: the stream payloads between the parts, and the frame CRC;
- :mod:`.receiver`, :mod:`.decoder`, :mod:`.controller`, :mod:`.access`, :mod:`.sequencer`,
  :mod:`.watchdog`, :mod:`.transmitter`: request framer, command decoder, link controller,
  buffer copies, RUN sequencer, RUN watchdog, response framer;
- :mod:`.engine`: :class:`HostLinkCore`, all of them with the on-chip buffers and the array,
  with the serial lines as ports (the simulation top; board tops in ``boards/`` add pins).

The gateware names below are imported on first use, so ``hwgen.host_link.protocol`` (and
:func:`divisor_for`) never load Amaranth. The protocol is documented in ``docs/protocol.md``.
"""

import importlib
from typing import Any

from .protocol import divisor_for

__all__ = ["HostLinkCore", "UARTRx", "UARTTx", "divisor_for", "DEFAULT_DEPTHS",
           "DEFAULT_MAX_PAYLOAD"]

_LAZY = {"HostLinkCore": ".engine", "DEFAULT_DEPTHS": ".engine",
         "DEFAULT_MAX_PAYLOAD": ".engine", "UARTRx": ".uart", "UARTTx": ".uart"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Gateware that links a systolic array to a host over a UART.

- :mod:`.protocol`: the framed protocol's constants, CRC and frame coding (plain Python, shared
  with the host driver :mod:`hwgen.host`);
- :mod:`.uart`: 8N1 UART receiver and transmitter with a clock divider;
- :mod:`.engine`: :class:`HostLinkCore`, the protocol engine, on-chip buffers and the array,
  with the serial lines as ports (the simulation top; board tops in ``boards/`` add pins).

The protocol is documented in ``docs/protocol.md``.
"""

from .engine import DEFAULT_DEPTHS, DEFAULT_MAX_PAYLOAD, HostLinkCore
from .uart import UARTRx, UARTTx, divisor_for

__all__ = ["HostLinkCore", "UARTRx", "UARTTx", "divisor_for", "DEFAULT_DEPTHS",
           "DEFAULT_MAX_PAYLOAD"]

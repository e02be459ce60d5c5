"""What the host-link components pass each other: stream payloads as ``amaranth.lib.data``
structures, and the frame CRC as an ``amaranth.lib.crc`` processor.

The argument structures are the wire format itself: a field's bits are its bytes,
little-endian, in the order of ``docs/protocol.md`` (``tests/test_host_link_layouts.py``
checks them against :mod:`struct` packing).
"""

from amaranth.lib import crc, data

from . import protocol as P

__all__ = ["BufferArgs", "RunFlags", "RunArgs", "Args", "Request", "ResponseHeader",
           "BufferCommand", "StatusPayload", "ARG_BYTES", "frame_crc"]

#: Bytes of a request payload kept as command arguments (WRITE, READ, RUN: 5 each).
ARG_BYTES = 5


class BufferArgs(data.Struct):
    """Arguments of WRITE and READ: ``buf`` (1), ``addr`` (2), ``count`` (2)."""
    buf: 8
    addr: 16
    count: 16


class RunFlags(data.Struct):
    """The RUN ``flags`` byte (:data:`~.protocol.RUN_ACCUMULATE`,
    :data:`~.protocol.RUN_LOW`, the bit-serial planes in bits 4..7)."""
    accumulate: 1
    low: 1
    reserved: 2
    bits: 4


class RunArgs(data.Struct):
    """Arguments of RUN: ``tiles`` (2), ``tile_len`` (2), ``flags`` (1)."""
    tiles: 16
    tile_len: 16
    flags: RunFlags


class Args(data.Union):
    """The first :data:`ARG_BYTES` payload bytes of a request, as bytes or as the arguments
    of either kind of command."""
    bytes: data.ArrayLayout(8, ARG_BYTES)
    buffer: BufferArgs
    run: RunArgs


class Request(data.Struct):
    """A received request frame: ``status`` is :data:`~.protocol.ST_OK` for a whole frame
    with a good CRC, else :data:`~.protocol.ST_BAD_CRC`, :data:`~.protocol.ST_TIMEOUT` or
    :data:`~.protocol.ST_BAD_LENGTH` (length above the maximum payload)."""
    status: 8
    cmd: 8
    length: 16
    args: Args


class ResponseHeader(data.Struct):
    """What a response frame says besides its payload."""
    status: 8
    cmd: 8
    length: 16


class BufferCommand(data.Struct):
    """A checked WRITE (``write`` = 1: copy ``count`` staged words to buffer ``buf`` from word
    ``addr``) or READ (``write`` = 0: send ``count`` words of ``buf`` from ``addr``)."""
    write: 1
    buf: 2
    addr: 16
    count: 16


class StatusPayload(data.Struct):
    """The STATUS response payload (:data:`~.protocol.STATUS_PAYLOAD_BYTES` bytes); a RUN
    response payload is its last field, ``last_run_cycles``."""
    frames_ok: 16
    errors: 16
    last_error: 8
    last_run_status: 8
    last_run_cycles: 32


def frame_crc():
    """A new ``amaranth.lib.crc.Processor`` of the frame CRC (:data:`.protocol.CRC_ALGORITHM`),
    one byte per ``valid``."""
    return crc.Algorithm(**P.CRC_ALGORITHM)(data_width=8).create()

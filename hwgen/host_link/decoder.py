"""The command decoder: is a request well-formed for this board?

:class:`RequestDecoder` checks a whole, CRC-checked request's command, length and arguments
against the board (buffer depths, word sizes, maximum payload, the array's run-time
precision), combinationally, so that every check is made before anything is changed. What is
left for later is only the RUN shape (``tiles``·R and ``tiles``·``tile_len`` against the
buffers), which :class:`~.sequencer.RunSequencer` checks by repeated addition before it
starts.
"""

from amaranth.hdl import Const, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from . import protocol as P
from .layouts import ARG_BYTES, Request

__all__ = ["RequestDecoder"]


def _times(v, k):
    """``v * k`` for a constant ``k`` as a sum of shifts: yosys ``-dsp`` would put a ``$mul``
    by a constant into a DSP block, which the array's multipliers need."""
    terms = [v << i for i in range(k.bit_length()) if (k >> i) & 1]
    out = terms[0] if terms else Const(0)
    for t in terms[1:]:
        out = out + t
    return out


class RequestDecoder(wiring.Component):
    """The error status of a request, or ok (combinational).

    Parameters
    ----------
    spec : ArraySpec
        The board's array (:class:`~hwgen.arrayspec.ArraySpec`): its dataflow and which RUN
        precision flags it honours.
    word_bytes : dict
        Bytes per word of the ``weights``, ``acts`` and ``results`` buffers.
    depths : dict
        Words in each buffer.
    max_payload : int
        Largest payload, also the largest READ response.
    max_layers : int
        Version 2 (the network extension; ``depths`` then has ``bias``): the layers a
        LOAD_NET may have. 0: a version-1 board.

    Members
    -------
    request : In(Request)
        The request (its ``status`` is not looked at).
    status : Out(8)
        :data:`~.protocol.ST_OK`, :data:`~.protocol.ST_UNKNOWN_CMD`,
        :data:`~.protocol.ST_BAD_LENGTH` or :data:`~.protocol.ST_OUT_OF_RANGE`.
    reply_length : Out(16)
        READ: the bytes of its response (``count`` words); INFER: of the scores.
    net_loaded, net_k0, net_n_last : In
        Version 2: a table is loaded, its first layer's input rows and its last layer's
        output rows (:class:`~.network.NetSequencer`).
    """

    def __init__(self, spec, *, word_bytes, depths, max_payload, max_layers=0):
        self._spec = spec
        self._word_bytes = dict(word_bytes)
        self._depths = dict(depths)
        self._max_payload = max_payload
        self._max_layers = max_layers
        ports = {"request": In(Request), "status": Out(8), "reply_length": Out(16)}
        if max_layers:
            ports.update(net_loaded=In(1), net_k0=In(16), net_n_last=In(16))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        spec, WB, D = self._spec, self._word_bytes, self._depths
        req = self.request
        length, buf = req.length, req.args.buffer.buf
        addr, count = req.args.buffer.addr, req.args.buffer.count
        run = req.args.run
        net = bool(self._max_layers)

        def fail(code):
            m.d.comb += self.status.eq(code)

        m.d.comb += self.status.eq(P.ST_OK)
        with m.Switch(req.cmd):
            with m.Case(P.CMD_IDENTIFY, P.CMD_STATUS):
                with m.If(length != 0):
                    fail(P.ST_BAD_LENGTH)
            with m.Case(P.CMD_WRITE):
                nbytes = Mux(buf == P.BUF_WEIGHTS, _times(count, WB["weights"]),
                             _times(count, WB["acts"]))
                depth = Mux(buf == P.BUF_WEIGHTS, D["weights"], D["acts"])
                not_writable = buf > P.BUF_ACTS
                if net:
                    nbytes = Mux(buf == P.BUF_BIAS, _times(count, WB["results"]), nbytes)
                    depth = Mux(buf == P.BUF_BIAS, D["bias"], depth)
                    not_writable = (buf == P.BUF_RESULTS) | (buf > P.BUF_BIAS)
                with m.If(length < ARG_BYTES):
                    fail(P.ST_BAD_LENGTH)
                with m.Elif(not_writable):
                    fail(P.ST_OUT_OF_RANGE)
                with m.Elif(length != ARG_BYTES + nbytes):
                    fail(P.ST_BAD_LENGTH)
                with m.Elif((count == 0) | (addr + count > depth)):
                    fail(P.ST_OUT_OF_RANGE)
            with m.Case(P.CMD_READ):
                nbytes = Mux(buf == P.BUF_WEIGHTS, _times(count, WB["weights"]),
                             Mux(buf == P.BUF_ACTS, _times(count, WB["acts"]),
                                 _times(count, WB["results"])))
                depth = Mux(buf == P.BUF_WEIGHTS, D["weights"],
                            Mux(buf == P.BUF_ACTS, D["acts"], D["results"]))
                last_buf = P.BUF_RESULTS
                if net:
                    depth = Mux(buf == P.BUF_BIAS, D["bias"], depth)
                    last_buf = P.BUF_BIAS
                m.d.comb += self.reply_length.eq(nbytes)
                with m.If(length != ARG_BYTES):
                    fail(P.ST_BAD_LENGTH)
                with m.Elif((buf > last_buf) | (count == 0) | (addr + count > depth) |
                            (nbytes > self._max_payload)):
                    fail(P.ST_OUT_OF_RANGE)
            with m.Case(P.CMD_RUN):
                bits, low = run.flags.bits, run.flags.low
                # precision flags the array cannot honour: planes above W, or for other PEs
                bad_bits = (bits > spec.weight_bits) if spec.serial else (bits != 0)
                bad_low = 0 if spec.pe.kind == "dualprec" else low
                too_long = (run.tile_len > D["results"]) if spec.dataflow == "ws" else 0
                with m.If(length != ARG_BYTES):
                    fail(P.ST_BAD_LENGTH)
                with m.Elif((run.tiles == 0) | (run.tile_len == 0) | too_long | bad_bits |
                            bad_low):
                    fail(P.ST_OUT_OF_RANGE)
            if net:
                with m.Case(P.CMD_LOAD_NET):
                    n = req.args.bytes[0]
                    # (an empty payload never has length 1 + 24·n)
                    with m.If((n == 0) | (n > self._max_layers) |
                              (length != 1 + _times(n, P.LAYER_RECORD_BYTES))):
                        fail(P.ST_BAD_LENGTH)
                with m.Case(P.CMD_INFER):
                    m.d.comb += self.reply_length.eq(_times(self.net_n_last, WB["results"]))
                    with m.If(~self.net_loaded):
                        fail(P.ST_OUT_OF_RANGE)
                    with m.Elif(length != _times(self.net_k0, WB["acts"])):
                        fail(P.ST_BAD_LENGTH)
            with m.Default():
                fail(P.ST_UNKNOWN_CMD)
        return m

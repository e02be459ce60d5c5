"""The board-side accelerator: UART, framed-protocol engine, on-chip buffers and the array.

:class:`HostLinkCore` is everything a board top needs except pins and clock: two serial
lines in and out, one clock domain (``sync``). The protocol is :mod:`hwgen.host_link.protocol`
(documented in ``docs/protocol.md``); this module is its one hardware implementation.

How a frame is handled
----------------------
1. Receive: bytes go into a staging buffer (``max_payload`` bytes of block RAM), the CRC is
   computed on the fly, the first five payload bytes (the command's arguments) are also kept
   in registers. A gap of ``timeout_cycles`` inside a frame ends it with ``ST_TIMEOUT``; a
   length above ``max_payload`` is answered with ``ST_BAD_LENGTH`` once the line has been
   idle for ``timeout_cycles`` (the rest of the frame is dropped, so it cannot be mistaken
   for a new frame).
2. Check: CRC, then length and ranges, *before* anything is changed. A frame that fails a
   check changes nothing but the error counters.
3. Execute: WRITE copies whole words from the staging buffer into the weight or activation
   buffer (addresses checked: never outside a buffer); READ streams words of any buffer back;
   RUN streams the buffers through the array and captures its results; IDENTIFY and STATUS
   return constants and counters.
4. Respond: one response frame per request, always (errors included).

A RUN cannot hang the link: every run is preceded by a reset of the array, and a watchdog
aborts a run that makes no stream transfer for ``watchdog_cycles`` (``ST_RUN_TIMEOUT``).

RUN (``tiles`` T, ``tile_len`` L, ``flags``)
--------------------------------------------
``flags``: bit 0 ``RUN_ACCUMULATE`` (below); bit 1 ``RUN_LOW``, dual-precision PEs in low mode
for the whole run; bits 4..7 the planes a bit-serial PE uses (0 = all W). Precision flags a PE
cannot honour are answered ``ST_OUT_OF_RANGE``.

Weight-stationary: T weight tiles (T·R rows of the weight buffer, from address 0) and T·L
activation rows (from address 0; rows t·L..t·L+L-1 go with tile t, the last one flagged
``last``). The partial sums of tile 0 are zero (or, with ``RUN_ACCUMULATE``, result-buffer row
r: continuing an earlier run); those of tile t > 0 row r are result-buffer row r, written by
tile t-1 — the K-tile chain stays on chip and in the accumulator format, bit for bit. Result
row j goes to result-buffer row ``j mod L``: after the run, rows 0..L-1 hold the sums over all
T K-tiles. Needs T·R ≤ weight depth, T·L ≤ activation depth, L ≤ result depth.

Output-stationary: T output tiles; T·L rows of each of the weight and activation buffers
stream together (L = K per tile, ``last`` on each tile's final row); the T·R result rows go to
result-buffer rows 0..T·R-1. Needs T·L ≤ both input depths and T·R ≤ result depth.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, ResetInserter, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..arrays.systolic import SystolicArray
from . import protocol as P
from .uart import UARTRx, UARTTx, _check_divisor

__all__ = ["HostLinkCore", "crc16_step", "DEFAULT_DEPTHS", "DEFAULT_MAX_PAYLOAD",
           "VERSION"]

#: Gateware version reported by IDENTIFY (the protocol version of :mod:`.protocol`).
VERSION = P.PROTOCOL_VERSION

DEFAULT_DEPTHS = dict(weights=512, acts=512, results=256)
DEFAULT_MAX_PAYLOAD = 512


def crc16_step(m, crc, byte, name="crc"):
    """CRC-16/CCITT-FALSE of ``crc`` and one more ``byte``: a 16-bit signal driven from
    ``m``'s comb domain through 8 unrolled steps (each step a signal, so the expression stays
    linear in size)."""
    c = Signal(16, name=f"{name}_s0")
    m.d.comb += c.eq((crc ^ (byte << 8))[:16])
    for k in range(8):
        n = Signal(16, name=f"{name}_s{k + 1}")
        m.d.comb += n.eq((c << 1)[:16] ^ Mux(c[15], 0x1021, 0))
        c = n
    return c


def _times(v, k):
    """``v * k`` for a constant ``k`` as a sum of shifts: yosys ``-dsp`` would put a ``$mul``
    by a constant into a DSP block, which the array's multipliers need."""
    terms = [v << i for i in range(k.bit_length()) if (k >> i) & 1]
    out = terms[0] if terms else Const(0)
    for t in terms[1:]:
        out = out + t
    return out


def _bytes(bits):
    return (bits + 7) // 8


def _positive(what, v, lo=1, hi=None):
    if not isinstance(v, int) or isinstance(v, bool) or v < lo or (hi is not None and v > hi):
        rng = f"{lo}..{hi}" if hi is not None else f"at least {lo}"
        raise ValueError(f"{what} must be an integer {rng}, not {v!r}")
    return v


class HostLinkCore(wiring.Component):
    """A systolic array behind a UART and the hwgen host-link protocol.

    Parameters
    ----------
    rows, cols, pe, dataflow :
        The :class:`~hwgen.arrays.systolic.SystolicArray`.
    divisor : int
        UART clock cycles per bit.
    clk_hz : int
        Clock frequency (reported by IDENTIFY; the host derives timeouts from it).
    depths : dict
        Words in the ``weights``, ``acts`` and ``results`` buffers (1..65535 each).
    max_payload : int
        Largest request payload in bytes (the staging buffer), 16..65535.
    timeout_cycles : int
        Inter-byte timeout inside a frame (default: 64 byte times).
    watchdog_cycles : int
        A run making no transfer for this long is aborted (default 65536).
    mul_latency, add_latency : int
        The array's PE pipeline (weight-stationary float PEs; see
        :class:`~hwgen.arrays.systolic.SystolicArray`). The engine needs no change for it:
        the K-chain feedback waits for result rows by count, not by a fixed latency.

    Members
    -------
    rx : In(1)
        Serial line from the host.
    tx : Out(1)
        Serial line to the host.
    busy : Out(1)
        High while a RUN executes (for an LED).
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)
    busy: Out(1)

    def __init__(self, rows=2, cols=2, pe="int8", dataflow="ws", *, divisor, clk_hz,
                 depths=None, max_payload=DEFAULT_MAX_PAYLOAD, timeout_cycles=None,
                 watchdog_cycles=1 << 16, fifo_depth=4, mul_latency=0, add_latency=0):
        self._array = SystolicArray(rows, cols, pe, dataflow, fifo_depth=fifo_depth,
                                    mul_latency=mul_latency, add_latency=add_latency)
        self._divisor = _check_divisor(divisor)
        self._clk_hz = _positive("Clock frequency", int(clk_hz), 1, (1 << 32) - 1)
        depths = dict(DEFAULT_DEPTHS, **(depths or {}))
        for k in depths:
            if k not in DEFAULT_DEPTHS:
                raise ValueError(f"Buffer must be one of weights, acts, results, not {k!r}")
            _positive(f"Depth of the {k} buffer", depths[k], 1, 0xFFFF)
        self._depths = depths
        self._max_payload = _positive("Maximum payload", max_payload, 16, 0xFFFF)
        if timeout_cycles is None:
            timeout_cycles = 64 * 10 * divisor
        self._timeout = _positive("Timeout", timeout_cycles, 20 * divisor, (1 << 32) - 1)
        self._watchdog = _positive("Watchdog", watchdog_cycles, 64, (1 << 32) - 1)
        super().__init__()

    # -- facts -------------------------------------------------------------------------------
    array = property(lambda self: self._array)
    divisor = property(lambda self: self._divisor)
    clk_hz = property(lambda self: self._clk_hz)
    depths = property(lambda self: dict(self._depths))
    max_payload = property(lambda self: self._max_payload)
    timeout_cycles = property(lambda self: self._timeout)
    watchdog_cycles = property(lambda self: self._watchdog)

    @property
    def word_bits(self):
        """Bits per word of each buffer: a weight row, an activation row (R activations, no
        psum/last: those are made on chip), a result row (the array's ``results`` payload)."""
        arr = self._array
        return dict(weights=arr.weight_layout.size, acts=arr.act_layout["a"].shape.size,
                    results=arr.result_layout.size)

    @property
    def word_bytes(self):
        return {k: _bytes(v) for k, v in self.word_bits.items()}

    @property
    def info(self):
        """The :class:`~hwgen.host_link.protocol.DeviceInfo` IDENTIFY returns."""
        a = self._array
        return P.DeviceInfo(version=VERSION, rows=a.rows, cols=a.cols, dataflow=a.dataflow,
                            pe=a.pe.spec, word_bytes=self.word_bytes, depths=self.depths,
                            max_payload=self._max_payload, clk_hz=self._clk_hz,
                            divisor=self._divisor, timeout_cycles=self._timeout,
                            mul_latency=a.mul_latency, add_latency=a.add_latency)

    @property
    def module_name(self):
        return f"hostlink_{self._array.module_name}_d{self._divisor}"

    # -- hardware ------------------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        arr = self._array
        R, C = arr.rows, arr.cols
        ws = arr.dataflow == "ws"
        D = self._depths
        WB = self.word_bytes
        WBITS = self.word_bits
        maxp = self._max_payload

        # -- UART ----------------------------------------------------------------------------
        m.submodules.uart_rx = urx = UARTRx(self._divisor)
        m.submodules.uart_tx = utx = UARTTx(self._divisor)
        m.d.comb += [urx.rx.eq(self.rx), self.tx.eq(utx.tx)]
        rxb, rxv = urx.data, urx.valid

        # -- the array, reset before every run and after an aborted one -------------------------
        arr_rst = Signal()
        m.submodules.array = ResetInserter({"sync": arr_rst})(arr)

        # -- memories --------------------------------------------------------------------------
        m.submodules.stage = stage = Memory(shape=8, depth=maxp, init=[])
        st_w, st_r = stage.write_port(), stage.read_port()
        m.submodules.wmem = wmem = Memory(shape=WBITS["weights"], depth=D["weights"], init=[])
        m.submodules.amem = amem = Memory(shape=WBITS["acts"], depth=D["acts"], init=[])
        m.submodules.rmem = rmem = Memory(shape=WBITS["results"], depth=D["results"], init=[])
        w_wr, w_rd = wmem.write_port(), wmem.read_port()
        a_wr, a_rd = amem.write_port(), amem.read_port()
        r_wr, r_rd = rmem.write_port(), rmem.read_port()
        ident = P.identify_payload(self.info)
        m.submodules.rom = rom = Memory(shape=8, depth=len(ident), init=list(ident))
        rom_r = rom.read_port()

        # -- registers -------------------------------------------------------------------------
        cmd = Signal(8)
        length = Signal(16)
        idx = Signal(16)
        crc = Signal(16)
        args = Array(Signal(8, name=f"arg{i}") for i in range(5))
        status = Signal(8)
        timer = Signal(range(self._timeout + 1))
        rsp_len = Signal(16)
        rsp_src = Signal(2)           # 0 none, 1 ROM, 2 counters (STATUS/RUN), 3 buffer words
        SRC_ROM, SRC_SMALL, SRC_MEM = 1, 2, 3
        frames_ok = Signal(16)
        errors = Signal(16)
        last_error = Signal(8)
        last_run = Signal(8)
        run_cycles = Signal(32)

        buf = args[0]
        addr = Cat(args[1], args[2])
        count = Cat(args[3], args[4])
        tiles = Cat(args[0], args[1])
        tlen = Cat(args[2], args[3])
        flags = args[4]
        flags_bits = flags[P.RUN_BITS_SHIFT:P.RUN_BITS_SHIFT + 4]
        flags_low = flags[1]
        # precision flags the array cannot honour: planes above W, or for other PEs
        bad_prec = ((flags_bits > arr.weight_bits) if arr.serial else (flags_bits != 0)) | (
            0 if arr.pe.kind == "dualprec" else flags_low)

        # Buffer word access, shared by WRITE (copy), READ (response) and RUN (feeders).
        # ``word`` assembles a WRITE word (weights or activations); READ sends the bytes of
        # the read port's data directly (the address holds still for a whole word).
        maxwb = max(WB.values())
        word = Signal(8 * max(WB["weights"], WB["acts"]))
        bi = Signal(range(maxwb))          # byte within the word
        wcnt = Signal(16)                  # word counter
        mem_addr = Signal(17)
        m.d.comb += mem_addr.eq(addr + wcnt)
        last_bi = Array([Const(WB["weights"] - 1, bi.shape()), Const(WB["acts"] - 1, bi.shape()),
                         Const(WB["results"] - 1, bi.shape()), Const(0, bi.shape())])[buf[:2]]
        last_byte = bi == last_bi

        # CRC: one byte per cycle at most, from RX or TX.
        crc_byte = Signal(8)
        crc_upd = Signal()
        crc_init = Signal()
        with m.If(crc_init):
            m.d.sync += crc.eq(0xFFFF)
        with m.Elif(crc_upd):
            m.d.sync += crc.eq(crc16_step(m, crc, crc_byte, "crc_upd"))

        # Response byte being sent.
        tx_byte = Signal(8)
        tx_reg = Signal(8)                 # the next payload byte, fetched ahead
        m.d.comb += utx.data.payload.eq(tx_byte)

        # -- run control -----------------------------------------------------------------------
        running = Signal()
        m.d.comb += self.busy.eq(running)
        maxd = max(D.values())
        sum_l = Signal(range(maxd + 0x10000))      # ≤ depth + one 16-bit step
        sum_r = Signal(range(maxd + 0x10000))
        kcnt = Signal(16)
        acc_flag = Signal()
        total_w = sum_r if ws else sum_l
        total_a = sum_l
        total_res = sum_l if ws else sum_r
        idx_w = Signal(range(maxd + 1))
        idx_a = Signal(range(maxd + 1))
        r_a = Signal(range(maxd))
        first = Signal()
        nres = Signal(range(maxd + 1))
        r_res = Signal(range(maxd))
        wd = Signal(range(self._watchdog + 1))

        # weights feeder
        wv = Signal()
        w_adv = ~wv | arr.weights.ready
        w_can = idx_w < total_w
        m.d.comb += [arr.weights.valid.eq(wv & running), arr.weights.payload.eq(w_rd.data)]
        # activations feeder (with the partial sums read from the result buffer)
        av = Signal()
        last_q = Signal()
        pz_q = Signal()
        a_adv = ~av | arr.acts.ready
        fb_ok = (first | (nres + tlen > idx_a)) if ws else 1
        a_can = (idx_a < total_a) & fb_ok
        m.d.comb += arr.acts.valid.eq(av & running)
        m.d.comb += [arr.acts.payload.a.eq(a_rd.data), arr.acts.payload.last.eq(last_q)]
        # run-time precision, from the RUN flags: bit-serial planes (0 = all), low mode
        run_bits = Signal(4)
        run_low = Signal()
        if arr.serial:
            m.d.comb += arr.acts.payload.bits.eq(Mux(run_bits == 0, arr.weight_bits, run_bits))
        if arr.pe.kind == "dualprec":
            m.d.comb += arr.acts.payload.low.eq(run_low)
        if ws:
            rview = data.View(arr.result_layout, r_rd.data)
            if arr.pe.accumulate == "exact":
                psums = [Value.cast(rview[j].acc) for j in range(C)]
            else:
                psums = [Value.cast(rview[j]) for j in range(C)]
            m.d.comb += arr.acts.payload.psum.eq(Mux(pz_q, 0, Cat(*psums)))
        # results capture
        m.d.comb += arr.results.ready.eq(1)
        res_fire = arr.results.valid & running

        # read ports: feeders while running, READ responses otherwise. The weight and
        # activation buffers are written (WRITE) and read at one address, so they map to
        # single-port RAM (the UP5K's SPRAM) as well as to block RAM.
        rd_sel_addr = mem_addr[:16]
        w_addr = Signal(range(D["weights"]))
        a_addr = Signal(range(D["acts"]))
        m.d.comb += [
            w_addr.eq(Mux(running, idx_w, rd_sel_addr)),
            a_addr.eq(Mux(running, idx_a, rd_sel_addr)),
            w_rd.addr.eq(w_addr),
            a_rd.addr.eq(a_addr),
            r_rd.addr.eq(Mux(running, r_a if ws else 0, rd_sel_addr)),
            w_rd.en.eq((~running | w_adv) & ~w_wr.en),     # never read while writing:
            a_rd.en.eq((~running | a_adv) & ~a_wr.en),     # SPRAM's read-during-write
            r_rd.en.eq(~running | a_adv),
            st_r.addr.eq(idx),
            rom_r.addr.eq(idx),
        ]
        # write ports
        m.d.comb += [
            w_wr.addr.eq(w_addr), w_wr.data.eq(word),
            a_wr.addr.eq(a_addr), a_wr.data.eq(word),
            r_wr.addr.eq(r_res if ws else nres), r_wr.data.eq(arr.results.payload),
            r_wr.en.eq(res_fire),
            st_w.addr.eq(idx), st_w.data.eq(rxb),
        ]

        # -- the protocol state machine -----------------------------------------------------------
        in_frame = Signal()
        with m.If(in_frame):
            with m.If(rxv):
                m.d.sync += timer.eq(0)
            with m.Elif(timer != self._timeout):
                m.d.sync += timer.eq(timer + 1)
        with m.Else():
            m.d.sync += timer.eq(0)
        timed_out = in_frame & ~rxv & (timer == self._timeout)

        def fail(code, next_state="ERROR"):
            m.d.sync += status.eq(code)
            m.next = next_state

        def respond_ok(n, src):
            m.d.sync += [status.eq(P.ST_OK), rsp_len.eq(n), rsp_src.eq(src)]
            m.next = "TX_SYNC"

        with m.FSM(name="link"):
            # ---- receive ----
            with m.State("HUNT"):
                with m.If(rxv & (rxb == P.SYNC_REQUEST)):
                    m.d.comb += crc_init.eq(1)
                    m.d.sync += [cmd.eq(0), length.eq(0), idx.eq(0)]
                    m.next = "CMD"
            for state, nxt in (("CMD", "LEN0"), ("LEN0", "LEN1"), ("LEN1", None),
                               ("PAYLOAD", None), ("CRC0", "CRC1"), ("CRC1", None)):
                with m.State(state):
                    m.d.comb += in_frame.eq(1)
                    with m.If(timed_out):
                        fail(P.ST_TIMEOUT)
                    with m.Elif(rxv):
                        m.d.comb += [crc_upd.eq(1), crc_byte.eq(rxb)]
                        if state == "CMD":
                            m.d.sync += cmd.eq(rxb)
                        elif state == "LEN0":
                            m.d.sync += length[:8].eq(rxb)
                        elif state == "LEN1":
                            full = Cat(length[:8], rxb)
                            m.d.sync += length[8:].eq(rxb)
                            with m.If(full > maxp):
                                fail(P.ST_BAD_LENGTH, "DISCARD")
                            with m.Elif(full == 0):
                                m.next = "CRC0"
                            with m.Else():
                                m.next = "PAYLOAD"
                        elif state == "PAYLOAD":
                            m.d.comb += st_w.en.eq(1)
                            with m.If(idx < 5):
                                m.d.sync += args[idx[:3]].eq(rxb)
                            m.d.sync += idx.eq(idx + 1)
                            with m.If(idx + 1 == length):
                                m.next = "CRC0"
                        elif state == "CRC1":
                            m.next = "CHECK"
                        if nxt is not None:
                            m.next = nxt
            with m.State("CHECK"):
                # The CRC register now covers the whole frame (its own CRC included): 0 if good.
                with m.If(crc == 0):
                    m.next = "EXEC"
                with m.Else():
                    fail(P.ST_BAD_CRC)
            with m.State("DISCARD"):
                # The rest of an oversized frame: drop it until the line has been idle.
                m.d.comb += in_frame.eq(1)
                with m.If(timed_out):
                    m.next = "ERROR"

            # ---- check and execute ----
            with m.State("EXEC"):
                m.d.sync += [wcnt.eq(0), bi.eq(0), idx.eq(0)]
                with m.Switch(cmd):
                    with m.Case(P.CMD_IDENTIFY):
                        with m.If(length != 0):
                            fail(P.ST_BAD_LENGTH)
                        with m.Else():
                            respond_ok(len(ident), SRC_ROM)
                    with m.Case(P.CMD_STATUS):
                        with m.If(length != 0):
                            fail(P.ST_BAD_LENGTH)
                        with m.Else():
                            respond_ok(P.STATUS_PAYLOAD_BYTES, SRC_SMALL)
                    with m.Case(P.CMD_WRITE):
                        nbytes = Mux(buf == P.BUF_WEIGHTS, _times(count, WB["weights"]),
                                     _times(count, WB["acts"]))
                        depth = Mux(buf == P.BUF_WEIGHTS, D["weights"], D["acts"])
                        with m.If(length < 5):
                            fail(P.ST_BAD_LENGTH)
                        with m.Elif(buf > P.BUF_ACTS):
                            fail(P.ST_OUT_OF_RANGE)
                        with m.Elif(length != 5 + nbytes):
                            fail(P.ST_BAD_LENGTH)
                        with m.Elif((count == 0) | (addr + count > depth)):
                            fail(P.ST_OUT_OF_RANGE)
                        with m.Else():
                            m.d.sync += idx.eq(5)
                            m.next = "COPY_A"
                    with m.Case(P.CMD_READ):
                        nbytes = Mux(buf == P.BUF_WEIGHTS, _times(count, WB["weights"]),
                                     Mux(buf == P.BUF_ACTS, _times(count, WB["acts"]),
                                         _times(count, WB["results"])))
                        depth = Mux(buf == P.BUF_WEIGHTS, D["weights"],
                                    Mux(buf == P.BUF_ACTS, D["acts"], D["results"]))
                        with m.If(length != 5):
                            fail(P.ST_BAD_LENGTH)
                        with m.Elif((buf > P.BUF_RESULTS) | (count == 0) |
                                    (addr + count > depth) | (nbytes > maxp)):
                            fail(P.ST_OUT_OF_RANGE)
                        with m.Else():
                            respond_ok(nbytes, SRC_MEM)
                    with m.Case(P.CMD_RUN):
                        with m.If(length != 5):
                            fail(P.ST_BAD_LENGTH)
                        with m.Elif((tiles == 0) | (tlen == 0) |
                                    ((tlen > D["results"]) if ws else 0) | bad_prec):
                            fail(P.ST_OUT_OF_RANGE)
                        with m.Else():
                            m.d.sync += [sum_l.eq(0), sum_r.eq(0), kcnt.eq(0),
                                         acc_flag.eq(flags[0] if ws else 0),
                                         run_bits.eq(flags_bits), run_low.eq(flags_low)]
                            m.next = "RUN_CHECK"
                    with m.Default():
                        fail(P.ST_UNKNOWN_CMD)

            # WRITE: staging buffer → word register → weight/activation buffer.
            with m.State("COPY_A"):
                m.next = "COPY_B"          # the staging buffer's read takes one cycle
            with m.State("COPY_B"):
                m.d.sync += [word.word_select(bi, 8).eq(st_r.data), idx.eq(idx + 1)]
                with m.If(last_byte):
                    m.next = "COPY_W"
                with m.Else():
                    m.d.sync += bi.eq(bi + 1)
                    m.next = "COPY_A"
            with m.State("COPY_W"):
                m.d.comb += [w_wr.en.eq(buf == P.BUF_WEIGHTS), a_wr.en.eq(buf == P.BUF_ACTS)]
                m.d.sync += [bi.eq(0), wcnt.eq(wcnt + 1)]
                with m.If(wcnt + 1 == count):
                    respond_ok(0, 0)
                with m.Else():
                    m.next = "COPY_A"

            # RUN: range check (T·L and T·R by repeated addition, stopping at the first
            # overflow), reset the array, stream, capture, respond with the cycle count.
            with m.State("RUN_CHECK"):
                nl = sum_l + tlen
                nr = sum_r + R
                if ws:
                    bad = (nr > D["weights"]) | (nl > D["acts"])
                else:
                    bad = (nl > min(D["weights"], D["acts"])) | (nr > D["results"])
                with m.If(bad):
                    fail(P.ST_OUT_OF_RANGE)
                with m.Else():
                    m.d.sync += [sum_l.eq(nl), sum_r.eq(nr), kcnt.eq(kcnt + 1)]
                    with m.If(kcnt + 1 == tiles):
                        m.next = "RUN_START"
            with m.State("RUN_START"):
                m.d.comb += arr_rst.eq(1)
                m.d.sync += [idx_w.eq(0), idx_a.eq(0), r_a.eq(0), first.eq(1), nres.eq(0),
                             r_res.eq(0), run_cycles.eq(0), wd.eq(0), wv.eq(0), av.eq(0)]
                m.next = "RUNNING"
            with m.State("RUNNING"):
                m.d.comb += running.eq(1)
                with m.If(w_adv):
                    m.d.sync += wv.eq(w_can)
                    with m.If(w_can):
                        m.d.sync += idx_w.eq(idx_w + 1)
                with m.If(a_adv):
                    m.d.sync += av.eq(a_can)
                    with m.If(a_can):
                        m.d.sync += [idx_a.eq(idx_a + 1), last_q.eq(r_a + 1 == tlen),
                                     pz_q.eq(first & ~acc_flag)]
                        with m.If(r_a + 1 == tlen):
                            m.d.sync += [r_a.eq(0), first.eq(0)]
                        with m.Else():
                            m.d.sync += r_a.eq(r_a + 1)
                with m.If(res_fire):
                    m.d.sync += nres.eq(nres + 1)
                    with m.If(r_res + 1 == tlen):
                        m.d.sync += r_res.eq(0)
                    with m.Else():
                        m.d.sync += r_res.eq(r_res + 1)
                progress = ((arr.weights.valid & arr.weights.ready) |
                            (arr.acts.valid & arr.acts.ready) | res_fire)
                with m.If(progress):
                    m.d.sync += wd.eq(0)
                with m.Else():
                    m.d.sync += wd.eq(wd + 1)
                with m.If(nres == total_res):
                    m.d.sync += [last_run.eq(P.ST_OK)]
                    respond_ok(P.RUN_PAYLOAD_BYTES, SRC_SMALL)
                with m.Elif(wd == self._watchdog):
                    m.d.sync += [last_run.eq(P.ST_RUN_TIMEOUT)]
                    m.d.sync += [status.eq(P.ST_RUN_TIMEOUT), rsp_len.eq(P.RUN_PAYLOAD_BYTES),
                                 rsp_src.eq(SRC_SMALL), errors.eq(errors + 1),
                                 last_error.eq(P.ST_RUN_TIMEOUT)]
                    m.next = "RUN_ABORT"
                with m.Else():
                    m.d.sync += run_cycles.eq(run_cycles + 1)
            with m.State("RUN_ABORT"):
                m.d.comb += arr_rst.eq(1)
                m.next = "TX_SYNC"

            with m.State("ERROR"):
                m.d.sync += [rsp_len.eq(0), rsp_src.eq(0), errors.eq(errors + 1),
                             last_error.eq(status)]
                m.next = "TX_SYNC"

            # ---- respond ----
            def send(value, nxt, crc=True):
                m.d.comb += [utx.data.valid.eq(1), tx_byte.eq(value)]
                with m.If(utx.data.ready):
                    if crc:
                        m.d.comb += [crc_upd.eq(1), crc_byte.eq(value)]
                    m.next = nxt

            with m.State("TX_SYNC"):
                m.d.comb += [utx.data.valid.eq(1), tx_byte.eq(P.SYNC_RESPONSE)]
                with m.If(utx.data.ready):
                    m.d.comb += crc_init.eq(1)
                    m.next = "TX_STATUS"
            with m.State("TX_STATUS"):
                send(status, "TX_CMD")
            with m.State("TX_CMD"):
                send(cmd, "TX_LEN0")
            with m.State("TX_LEN0"):
                send(rsp_len[:8], "TX_LEN1")
            with m.State("TX_LEN1"):
                m.d.sync += [idx.eq(0), bi.eq(0), wcnt.eq(0)]
                send(rsp_len[8:], "TX_LEN1_NEXT")
            with m.State("TX_LEN1_NEXT"):
                with m.If(rsp_len == 0):
                    m.next = "TX_CRC0"
                with m.Else():
                    m.next = "TX_FETCH"
            with m.State("TX_FETCH"):
                m.next = "TX_LOAD"     # ROM and buffer reads take one cycle
            with m.State("TX_LOAD"):
                with m.Switch(rsp_src):
                    with m.Case(SRC_ROM):
                        m.d.sync += tx_reg.eq(rom_r.data)
                    with m.Case(SRC_SMALL):
                        # STATUS: the counters (unchanged while answering; frames_ok counts
                        # this frame only once it is sent). RUN: its cycle count.
                        fields = Cat(frames_ok, errors, last_error, last_run, run_cycles)
                        at = idx[:4] + Mux(cmd == P.CMD_RUN, P.STATUS_PAYLOAD_BYTES - 4, 0)
                        m.d.sync += tx_reg.eq(Array(fields[8 * i:8 * i + 8] for i in range(
                            P.STATUS_PAYLOAD_BYTES))[at])
                    with m.Case(SRC_MEM):
                        byte = {k: Array(Cat(port.data, Const(0, 8 * WB[k] - WBITS[k]))
                                         [8 * i:8 * i + 8] for i in range(WB[k]))[bi]
                                for k, port in (("weights", w_rd), ("acts", a_rd),
                                                ("results", r_rd))}
                        m.d.sync += tx_reg.eq(Mux(buf == P.BUF_WEIGHTS, byte["weights"],
                                                  Mux(buf == P.BUF_ACTS, byte["acts"],
                                                      byte["results"])))
                m.next = "TX_SEND"
            with m.State("TX_SEND"):
                m.d.comb += [utx.data.valid.eq(1), tx_byte.eq(tx_reg)]
                with m.If(utx.data.ready):
                    m.d.comb += [crc_upd.eq(1), crc_byte.eq(tx_reg)]
                    m.d.sync += idx.eq(idx + 1)
                    with m.If(last_byte):
                        m.d.sync += [bi.eq(0), wcnt.eq(wcnt + 1)]
                    with m.Else():
                        m.d.sync += bi.eq(bi + 1)
                    with m.If(idx + 1 == rsp_len):
                        m.next = "TX_CRC0"
                    with m.Else():
                        m.next = "TX_FETCH"
            with m.State("TX_CRC0"):
                send(crc[8:], "TX_CRC1", crc=False)
            with m.State("TX_CRC1"):
                send(crc[:8], "HUNT", crc=False)
                with m.If(utx.data.ready & (status == P.ST_OK)):
                    m.d.sync += frames_ok.eq(frames_ok + 1)
        return m


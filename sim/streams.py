"""Reusable cocotb helpers for Amaranth streams (``amaranth.lib.stream``) in generated Verilog.

An Amaranth stream member ``name`` flattens to three ports: ``<name>__payload`` (one vector; a
struct payload has its first field in the low bits), ``<name>__valid`` and ``<name>__ready``.

The handshake rule used by every helper here, consistently:

* testbench outputs (``valid``/``payload`` of a driver, ``ready`` of a monitor) are written
  right after a rising edge of ``clk``;
* ``valid`` and ``ready`` are then sampled in the ``ReadOnly`` phase of the *same* cycle, i.e.
  the settled values that the *next* rising edge will see;
* a transfer happens exactly on a rising edge where both were 1 just before it. The driver
  then moves to its next item and the monitor records the payload it sampled.

This avoids the classic off-by-one of sampling right at ``RisingEdge`` (where a simulator may
show pre- or post-edge values) and works when the DUT's ``ready`` depends combinationally on
its ``valid`` (or its ``valid`` on its ``ready``), since ``ReadOnly`` comes after every write
of the cycle. A driver never drops ``valid`` or changes ``payload`` while an item waits for
``ready`` (the Amaranth stream rule), so nothing is dropped or duplicated.

Typical use in a cocotb test::

    from sim.streams import StreamDriver, StreamMonitor, reset, start_clock

    @cocotb.test()
    async def run(dut):
        start_clock(dut)
        src = StreamDriver(dut, "i", idle_prob=0.3, seed=1)   # valid held low 30% of cycles
        snk = StreamMonitor(dut, "o", backpressure=0.3, seed=2)  # ready held low 30%
        await reset(dut)
        for x in items:
            src.append(pack_struct({"a": 3, "b": -1}, [("a", 8), ("b", 8, True)]))
        results = await snk.wait_for(len(items), timeout_cycles=10_000)
        await src.wait_idle()

Queue items after ``reset`` (a driver with nothing queued holds ``valid`` low, but an item
queued during reset could be taken by a unit whose ``ready`` is high in reset). A driver owns
its ``valid``/``payload`` ports and a monitor its ``ready`` port: nothing else may write them
(each writes only when a value changes). Build them outside the ``ReadOnly`` phase.

``send(payload)`` instead of ``append`` waits until that one item has been transferred.
``StreamMonitor.transfers`` keeps ``(cycle, payload)`` for every transfer, with ``cycle`` the
count of rising edges since the monitor started (use it to measure cycles per result).
"""

import random
from collections import deque

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import Event, ReadOnly, RisingEdge

__all__ = ["StreamDriver", "StreamMonitor", "reset", "start_clock", "pack_struct",
           "unpack_struct", "to_signed", "exchange", "compare_results"]


def start_clock(dut, period_ns=10, clk_name="clk"):
    """Start a free-running clock on ``dut.<clk_name>`` (period in ns) and return its task."""
    return Clock(getattr(dut, clk_name), period_ns, unit="ns").start()


async def reset(dut, cycles=2, clk_name="clk", rst_name="rst"):
    """Hold ``dut.<rst_name>`` high for ``cycles`` rising edges of ``dut.<clk_name>``, then low.

    Returns after the edge following release, so the DUT is out of reset and the testbench is
    positioned right after a rising edge (where drivers write).
    """
    clk = getattr(dut, clk_name)
    rst = getattr(dut, rst_name)
    rst.value = 1
    for _ in range(cycles):
        await RisingEdge(clk)
    rst.value = 0
    await RisingEdge(clk)


def to_signed(value, width):
    """Read the ``width``-bit pattern ``value`` as two's complement."""
    value &= (1 << width) - 1
    return value - (1 << width) if value >> (width - 1) & 1 else value


_FIELD_CACHE: dict = {}


def _fields(layout):
    """:func:`_field_spec`, remembered per layout object (packing is on the hot path)."""
    hit = _FIELD_CACHE.get(id(layout))
    if hit is None or hit[0] is not layout:
        hit = _FIELD_CACHE[id(layout)] = (layout, _field_spec(layout))
    return hit[1]


def _field_spec(layout):
    """Normalize a layout to a list of ``(name, offset, width, signed)``, low bits first.

    Accepted layouts: an Amaranth ``data.StructLayout`` (duck-typed: iterating it gives
    ``(name, field)`` with ``field.offset``/``field.width``/``field.shape``); a dict
    ``{name: width}`` in order; or a sequence of ``(name, width)`` or ``(name, width, signed)``.
    Widths are in bits; the first field sits in the low bits.
    """
    out = []
    if hasattr(layout, "members") and hasattr(layout, "size"):
        for name, field in layout:
            signed = bool(getattr(field.shape, "signed", False))
            if hasattr(field.shape, "as_shape"):  # e.g. an enum or a nested layout
                signed = False
            out.append((name, field.offset, field.width, signed))
        return out
    items = layout.items() if isinstance(layout, dict) else layout
    offset = 0
    for item in items:
        name, width, *rest = item
        signed = bool(rest[0]) if rest else False
        out.append((name, offset, int(width), signed))
        offset += int(width)
    return out


def pack_struct(fields, layout):
    """Pack ``fields`` (a dict ``{name: int}``) into one integer, first layout field lowest.

    Negative values are stored in two's complement within their field width. A list or tuple
    value fills an array field (e.g. a ``data.ArrayLayout`` member): the field's width is split
    evenly over the elements, element 0 lowest. A field missing from ``fields`` packs as 0; a
    name not in the layout raises ``KeyError``.
    """
    spec = _fields(layout)
    for name in fields:
        if not any(name == n for n, *_ in spec):
            raise KeyError(f"Field {name!r} is not in the layout "
                           f"({sorted(n for n, *_ in spec)})")
    word = 0
    for name, offset, width, _ in spec:
        value = fields.get(name, 0)
        if isinstance(value, (list, tuple)) or getattr(value, "ndim", 0) > 0:
            value = list(value)
            if not value or width % len(value):
                raise ValueError(f"Field {name!r} ({width} bits) cannot hold {len(value)} "
                                 f"equal elements")
            ew = width // len(value)
            mask = (1 << ew) - 1
            value = sum((int(v) & mask) << (k * ew) for k, v in enumerate(value))
        word |= (int(value) & ((1 << width) - 1)) << offset
    return word


def unpack_struct(word, layout):
    """Split the integer ``word`` into a dict ``{name: int}`` by ``layout`` (see
    :func:`pack_struct`); fields marked signed are read as two's complement."""
    out = {}
    for name, offset, width, signed in _fields(layout):
        v = (int(word) >> offset) & ((1 << width) - 1)
        out[name] = to_signed(v, width) if signed else v
    return out


def _idle_now(handle):
    """Drive 0 at once where the phase allows it (not in ReadOnly; the background loop then
    drives it right after the next edge anyway)."""
    try:
        handle.value = 0
    except RuntimeError:
        pass


class _Port:
    def __init__(self, dut, name, clk):
        self.dut = dut
        self.name = name
        self.clk = clk if clk is not None else dut.clk
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.payload = getattr(dut, f"{name}__payload", None)


class StreamDriver:
    """Drives a stream *into* the DUT (the testbench is the source).

    Parameters
    ----------
    dut : cocotb handle
        The top level.
    name : str
        Stream name: ports ``<name>__payload``, ``<name>__valid``, ``<name>__ready``.
    clk : cocotb handle or None
        Clock (default ``dut.clk``).
    idle_prob : float
        Probability, per cycle, that ``valid`` is held low although an item is queued (random
        idle cycles). Never applied while an item waits for ``ready``.
    seed : int or None
        Seed of the driver's own ``random.Random``.

    Members
    -------
    sent : int
        Items transferred so far.
    transfers : list of (int, int)
        ``(cycle, payload)`` per transfer, ``cycle`` counted as in :class:`StreamMonitor`
        (rising edges since construction), so a driver and a monitor built in the same cycle
        give directly comparable cycle numbers.
    cycle : int
        Rising edges seen so far.

    ``append(payload, side={"rm": 3})`` queues an integer payload (and values of other DUT
    inputs written together with it, held until the next item); ``await send(payload)`` queues
    it and waits
    until it is transferred; ``await wait_idle()`` waits until the queue is drained. The
    background coroutine starts on construction and writes ``valid = 0`` immediately.
    """

    def __init__(self, dut, name, clk=None, *, idle_prob=0.0, seed=None):
        if not 0.0 <= idle_prob < 1.0:
            raise ValueError(f"Idle probability must be in [0, 1), not {idle_prob!r}")
        self._port = _Port(dut, name, clk)
        self._dut = dut
        self.idle_prob = idle_prob
        self._rng = random.Random(seed)
        self._queue = deque()
        self.sent = 0
        self.transfers = []
        self.cycle = 0
        self._drained = Event()
        _idle_now(self._port.valid)
        self._task = cocotb.start_soon(self._run())

    def append(self, payload, event=None, side=None):
        """Queue ``payload`` (an int); ``event`` (a cocotb ``Event``) is set on transfer;
        ``side`` (``{port name: int}``) is written together with the payload."""
        self._queue.append((int(payload), event, dict(side or {})))

    async def send(self, payload):
        """Queue ``payload`` and return once it has been transferred."""
        ev = Event()
        self.append(payload, ev)
        await ev.wait()

    def idle(self):
        """True when nothing is queued or in flight."""
        return not self._queue and self._current is None

    async def wait_idle(self):
        """Wait until every queued item has been transferred."""
        while not self.idle():
            self._drained.clear()
            await self._drained.wait()

    _current = None

    async def _run(self):
        p = self._port
        valid = payload = None          # last values written: write only on change
        while True:
            await RisingEdge(p.clk)
            self.cycle += 1
            # -- just after an edge: decide and write this cycle's outputs
            if self._current is None and self._queue:
                if self._rng.random() >= self.idle_prob:
                    self._current = self._queue.popleft()
            if self._current is not None:
                if p.payload is not None and payload != self._current[0]:
                    payload = self._current[0]
                    p.payload.value = payload
                for port, v in self._current[2].items():
                    getattr(self._dut, port).value = v
                if valid != 1:
                    valid = p.valid.value = 1
            else:
                if valid != 0:
                    valid = p.valid.value = 0
                continue
            # -- settled values, seen by the next edge
            await ReadOnly()
            if int(p.ready.value):
                payload_sent, ev, _ = self._current
                self._current = None
                self.sent += 1
                self.transfers.append((self.cycle, payload_sent))
                if ev is not None:
                    ev.set()
                if not self._queue:
                    self._drained.set()


class StreamMonitor:
    """Sinks a stream *out of* the DUT (the testbench is the sink) and collects payloads.

    Parameters
    ----------
    dut : cocotb handle
        The top level.
    name : str
        Stream name: ports ``<name>__payload``, ``<name>__valid``, ``<name>__ready``.
    clk : cocotb handle or None
        Clock (default ``dut.clk``).
    backpressure : float
        Probability, per cycle, that ``ready`` is held low (random back-pressure).
    seed : int or None
        Seed of the monitor's own ``random.Random``.
    callback : callable(payload) or None
        Called with each transferred payload (an int).

    Members
    -------
    items : list of int
        Every transferred payload, in order (exactly one entry per transfer).
    transfers : list of (int, int)
        ``(cycle, payload)`` per transfer; ``cycle`` counts rising edges since construction.
    cycle : int
        Rising edges seen so far.

    ``await get()`` pops the oldest not-yet-read payload (waiting if none);
    ``await wait_for(n, timeout_cycles)`` waits until ``n`` items in total were collected and
    returns ``items[:n]`` (raises ``TimeoutError`` after ``timeout_cycles`` edges).
    """

    def __init__(self, dut, name, clk=None, *, backpressure=0.0, seed=None, callback=None):
        if not 0.0 <= backpressure < 1.0:
            raise ValueError(f"Back-pressure probability must be in [0, 1), not "
                             f"{backpressure!r}")
        self._port = _Port(dut, name, clk)
        self.backpressure = backpressure
        self._rng = random.Random(seed)
        self.callback = callback
        self.items = []
        self.transfers = []
        self.cycle = 0
        self._read = 0
        self._waiting = None
        self._new = Event()
        _idle_now(self._port.ready)
        self._task = cocotb.start_soon(self._run())

    async def _run(self):
        p = self._port
        written = None                  # last value written to ready: write only on change
        while True:
            await RisingEdge(p.clk)
            self.cycle += 1
            ready = self._rng.random() >= self.backpressure
            if ready != written:
                p.ready.value = int(ready)
                written = ready
            if self._waiting is not None and self.cycle >= self._waiting[1]:
                self._waiting[2].set()              # timeout: wait_for raises
            if not ready:
                continue
            await ReadOnly()
            if int(p.valid.value):
                payload = int(p.payload.value) if p.payload is not None else 0
                self.items.append(payload)
                self.transfers.append((self.cycle, payload))
                if self.callback is not None:
                    self.callback(payload)
                self._new.set()
                if self._waiting is not None and len(self.items) >= self._waiting[0]:
                    self._waiting[2].set()

    async def get(self):
        """The oldest payload not yet returned by ``get`` (waits for one)."""
        while self._read >= len(self.items):
            self._new.clear()
            await self._new.wait()
        self._read += 1
        return self.items[self._read - 1]

    async def wait_for(self, n, timeout_cycles=100_000):
        """Wait until ``n`` payloads in total have been collected; return the first ``n``.

        Raises ``TimeoutError`` when fewer have arrived ``timeout_cycles`` edges from now.
        """
        if len(self.items) < n:
            ev = Event()
            self._waiting = (n, self.cycle + timeout_cycles, ev)
            try:
                await ev.wait()
            finally:
                self._waiting = None
            if len(self.items) < n:
                raise TimeoutError(f"{self._port.name}: {len(self.items)} of {n} items after "
                                   f"{timeout_cycles} cycles")
        return self.items[:n]


async def settle(dut, drivers, budget=20_000, busy="busy"):
    """Wait until every driver in ``drivers`` has sent its queue and the DUT's ``busy`` output
    is low, for at most ``budget`` clock cycles.

    Returns ``True`` when settled, ``False`` on timeout (the caller counts it as a failure;
    unlike :meth:`StreamDriver.wait_idle` this never hangs on a DUT that stops accepting).
    """
    flag = getattr(dut, busy) if busy else None
    for _ in range(budget):
        await RisingEdge(dut.clk)
        await ReadOnly()
        if all(d.idle() for d in drivers) and (flag is None or not int(flag.value)):
            return True
    return False


async def exchange(dut, payloads, n_results, *, seed, idle=0.3, backpressure=0.4,
                   timeout_per_item=20, quiet_cycles=20, src="i", snk="o"):
    """The whole life of a one-stream-in, one-stream-out unit under test: start the clock,
    reset, send ``payloads`` (ints, or ``(int, side)`` pairs: see :class:`StreamDriver`) with
    the source idling at random (probability ``idle``) and the sink stalling at random
    (``backpressure``), wait for ``n_results`` results, then
    ``quiet_cycles`` more in which nothing may arrive. Returns every payload received (a
    surplus shows up as a longer list; a shortfall raises ``TimeoutError``).
    """
    start_clock(dut)
    driver = StreamDriver(dut, src, idle_prob=idle, seed=seed)
    monitor = StreamMonitor(dut, snk, backpressure=backpressure, seed=seed + 1)
    await reset(dut)
    for x in payloads:              # an int, or (int, {side port: value})
        if isinstance(x, tuple):
            driver.append(x[0], side=x[1])
        else:
            driver.append(x)
    await monitor.wait_for(n_results, timeout_cycles=timeout_per_item * len(payloads) + 1000)
    await driver.wait_idle()
    for _ in range(quiet_cycles):
        await RisingEdge(dut.clk)
    return list(monitor.items)


def compare_results(got, expected, describe=lambda g, e: f"got {g}, expected {e}"):
    """Mismatch messages (``result k: ...``) between two sequences, preceded by a count
    mismatch when their lengths differ (a lost or duplicated result)."""
    bad = [f"result {k}: {describe(g, e)}" for k, (g, e) in enumerate(zip(got, expected))
           if g != e]
    if len(got) != len(expected):
        bad.insert(0, f"{len(got)} results arrived for {len(expected)} expected")
    return bad

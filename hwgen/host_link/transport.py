"""Transports of the host driver (plain Python, no Amaranth): what :class:`hwgen.host.Accelerator`
talks through besides a serial port. A transport has ``write(data)``, ``read(n, timeout)`` (up
to ``n`` bytes, fewer when ``timeout`` seconds pass), ``discard_input()`` and ``close()``.
"""

__all__ = ["CountingTransport"]


class CountingTransport:
    """Another transport, counting the bytes written (``sent``) and read (``received``)
    through it."""

    def __init__(self, inner):
        self.inner, self.sent, self.received = inner, 0, 0

    def write(self, data):
        self.sent += len(data)
        self.inner.write(data)

    def read(self, n, timeout):
        data = self.inner.read(n, timeout)
        self.received += len(data)
        return data

    def discard_input(self):
        self.inner.discard_input()

    def close(self):
        self.inner.close()

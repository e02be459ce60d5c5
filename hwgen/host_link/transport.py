"""Transports of the host driver (plain Python, no Amaranth): what :class:`hwgen.host.Accelerator`
talks through besides a serial port. A transport has ``write(data)``, ``read(n, timeout)`` (up
to ``n`` bytes, fewer when ``timeout`` seconds pass), ``discard_input()`` and ``close()``.
"""

from typing import TYPE_CHECKING

__all__ = ["CountingTransport"]

if TYPE_CHECKING:
    from typing import Protocol

    class Transport(Protocol):
        """What a transport has (for type checkers only: any object with these methods)."""

        def write(self, data: bytes, /) -> None: ...

        def read(self, n: int, timeout: float, /) -> bytes: ...

        def discard_input(self) -> None: ...

        def close(self) -> None: ...


class CountingTransport:
    """Another transport, counting the bytes written (``sent``) and read (``received``)
    through it."""

    def __init__(self, inner: "Transport") -> None:
        self.inner, self.sent, self.received = inner, 0, 0

    def write(self, data: bytes) -> None:
        self.sent += len(data)
        self.inner.write(data)

    def read(self, n: int, timeout: float) -> bytes:
        data = self.inner.read(n, timeout)
        self.received += len(data)
        return data

    def discard_input(self) -> None:
        self.inner.discard_input()

    def close(self) -> None:
        self.inner.close()

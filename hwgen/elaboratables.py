"""Amaranth's "created but never used" warning, for objects hwgen makes on purpose without
elaborating them.

Amaranth warns (``UnusedElaboratable``) about every elaboratable that is garbage-collected
without having been elaborated. hwgen makes some on purpose: to read their parameters (a
board top checked before a build, a unit whose ports the CLI prints, the multiplier whose cut
table a MAC borrows) or as the remains of a constructor that refused its arguments. This
module is the one place that tells Amaranth so (its private ``_MustUse__silence`` flag).
"""

from contextlib import contextmanager

__all__ = ["not_built", "refused_quietly"]


def not_built(*objs):
    """Mark ``objs`` as made for their parameters only; return the first."""
    for obj in objs:
        obj._MustUse__silence = True
    return objs[0] if objs else None


@contextmanager
def refused_quietly(obj):
    """For a constructor's body: if it raises, ``obj`` (half made) is not reported as
    unused on top of the error."""
    try:
        yield obj
    except Exception:
        not_built(obj)
        raise

"""Small helpers shared by the integer and run-time-precision units."""

__all__ = ["check_int", "signed_width", "adder_tree", "MAX_LANES", "MAX_ACT_BITS",
           "MAX_ACC_BITS", "GUARD_BITS"]

MAX_LANES = 256
MAX_ACT_BITS = 24
MAX_ACC_BITS = 62
#: Default headroom of an accumulator over one operation: groups of up to 256 operations
#: never wrap.
GUARD_BITS = 8


def check_int(what, value, lo, hi, extra=""):
    """``value`` if it is an integer in ``[lo, hi]``; else TypeError/ValueError naming it."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{what} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{what} must be between {lo} and {hi}{extra}, not {value!r}")
    return value


def signed_width(lo, hi):
    """Bits of the smallest two's-complement shape holding every integer in ``[lo, hi]``."""
    n = 1
    while not -(1 << (n - 1)) <= lo <= hi <= (1 << (n - 1)) - 1:
        n += 1
    return n


def adder_tree(terms):
    """Balanced sum of Amaranth values (widths grow one bit per level)."""
    terms = list(terms)
    while len(terms) > 1:
        nxt = [terms[i] + terms[i + 1] for i in range(0, len(terms) - 1, 2)]
        if len(terms) % 2:
            nxt.append(terms[-1])
        terms = nxt
    return terms[0]

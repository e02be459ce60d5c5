"""The FMA window's product lead (:meth:`hwgen.units.FloatFMA._product_lead`, the ``lead``
of :func:`hwgen.units.ffma.fma_window`) against every product of significands, and the
window it gives. The RTL is checked bit for bit by ``rtl_tests/test_ffma.py`` (every e2m1
and e3m2 triple, whose windows it narrows too)."""

import pytest

from hwgen.formats import parse_format
from hwgen.units import FloatFMA
from hwgen.units.ffma import fma_window
from hwgen.units.floatraw import exp_range


def _significands(fmt):
    """``(significand, subnormal)`` of every nonzero finite encoding's magnitude."""
    f = parse_format(fmt)
    p = f.precision
    out = [((1 << (p - 1)) | m, False) for m in range(1 << f.man_bits)]
    if f.subnormals:
        out += [(m, True) for m in range(1, 1 << f.man_bits)]
    return out


@pytest.mark.parametrize("fmt", ["e2m1", "e3m2", "e4m3", "e5m2", "e5m2_ftz", "bf16"])
def test_lead_is_the_lowest_leading_one(fmt):
    """The lowest leading one over the products that can meet a jammed addend: every product
    of two nonzero significands, except two subnormals' where no addend lies below them."""
    f = parse_format(fmt)
    lo = exp_range(f)[0]
    skip_both = lo >= 2 * lo           # the addend's lowest LSB at or above such a product's
    sig = _significands(fmt)
    lowest = min((x * y).bit_length() - 1 for x, sx in sig for y, sy in sig
                 if not (sx and sy and skip_both))
    assert FloatFMA(fmt)._product_lead() == lowest


def test_mixed_addend_below_the_products():
    """An fp16 addend's LSB lies below e4m3 subnormal products: both operands' zeros
    count (lead 0, the window of any product)."""
    u = FloatFMA("e4m3", c_fmt="fp16", out_fmt="fp16")
    assert u._product_lead() == 0
    assert u._window().L == 14          # fp16's precision + 3


def test_window_narrows_with_the_lead():
    """bf16: the product's leading one at least 7 places up, so 4 bits below it, not 11."""
    f = parse_format("bf16")
    p_range = FloatFMA("bf16")._product_range()
    any_product = fma_window(16, p_range, f, f)
    led = fma_window(16, p_range, f, f, lead=7)
    assert (any_product.L, led.L) == (11, 4)
    assert any_product.top - led.top == 7 and FloatFMA("bf16")._window() == led


@pytest.mark.parametrize("lead", [-1, 16, 2.5])
def test_bad_lead(lead):
    f = parse_format("bf16")
    with pytest.raises(ValueError, match=r"^Product lead must be an integer in 0\.\.15"):
        fma_window(16, (-266, 238), f, f, lead=lead)

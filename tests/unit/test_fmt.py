"""harness/fmt.py: the one NaN-safe number formatting every report and message uses."""

import math

from hypothesis import given
from hypothesis import strategies as st

from harness.fmt import NA, num, number, pct, points, pp, signed


def test_worked_values() -> None:
    assert pct(0.853) == "85.3"           # 100 x 0.853, one decimal
    assert pp(0.021) == "+2.1"            # 100 x 0.021, signed
    assert pp(-0.0049) == "-0.5"          # -0.49 rounds to -0.5
    assert points(0.021) == "+2.1 pp"
    assert signed(0.0213) == "+0.021"
    assert number(0.000123, ".3g") == "0.000123"
    assert number(4.26, ".1f", suffix=" months") == "4.3 months"


def test_missing_nan_bool_and_text_print_na_without_the_suffix() -> None:
    for bad in (None, math.nan, True, "0.5", [0.5], {}):
        assert pct(bad) == NA
        assert points(bad) == NA          # not "n/a pp"
        assert math.isnan(num(bad))


@given(st.one_of(st.none(), st.booleans(), st.text(), st.floats(allow_nan=True),
                 st.integers(min_value=-10**12, max_value=10**12)))
def test_never_raises_and_na_exactly_when_not_a_number(value: object) -> None:
    out = pp(value)
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    assert (out == NA) == (not is_number or math.isnan(float(value)))  # type: ignore[arg-type]

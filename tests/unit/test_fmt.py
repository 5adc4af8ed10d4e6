"""harness/fmt.py: the one NaN-safe number formatting every report and message uses."""

import math

from hypothesis import given
from hypothesis import strategies as st

from harness.fmt import NA, interval, num, number, p_value, pct, points, pp, signed


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


def test_interval_and_p_value_worked_values() -> None:
    # [0.05, 0.35] as shares -> "[5.0, 35.0]"; as points -> "[+5.0, +35.0]".
    assert interval(0.05, 0.35) == "[5.0, 35.0]"
    assert interval(0.05, 0.35, pp) == "[+5.0, +35.0]"
    # Either end missing or NaN: no half interval, one n/a.
    for low, high in ((None, 0.3), (0.1, math.nan), (math.nan, math.nan), ("0.1", 0.2)):
        assert interval(low, high) == NA
    assert p_value(0.0213) == "0.021" and p_value(0.0004) == "<0.001"
    assert p_value(None) == NA and p_value(math.nan) == NA


def test_verdict_and_html_quote_p_values_the_same_way() -> None:
    # The verdict's sentence and the report's table both read harness.fmt.p_value.
    from harness.analysis.verdict import _p

    assert (_p(0.003), _p(0.0001), _p(math.nan)) == ("p=0.003", "p<0.001", "p n/a")

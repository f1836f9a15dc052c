"""One way to write each figure: the edge amounts, token sizes and shares every renderer
shows through tokentrail.fmt."""

from __future__ import annotations

import pytest

from tokentrail import fmt


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "unpriced"),
        (0.0, "$0.00"),
        (0.0002, "<$0.01"),
        (0.004999, "<$0.01"),
        (0.00999, "<$0.01"),
        (0.01, "$0.01"),
        (0.014, "$0.01"),
        (0.015, "$0.01"),  # binary 0.015 is just under; rounds down like every renderer
        (0.5, "$0.50"),
        (2.999, "$3.00"),
        (1234.5, "$1,234.50"),
        (1_000_000, "$1,000,000.00"),
        (-1.06, "-$1.06"),
        (-0.001, "-<$0.01"),
    ],
)
def test_money_keeps_small_amounts_visible(value: float | None, text: str) -> None:
    assert fmt.money(value) == text


def test_a_row_cost_names_unpriced_requests_and_never_shows_them_as_zero() -> None:
    assert fmt.cost({"cost_usd": 0.1, "unpriced_requests": 33}) == "$0.10 + 33 unpriced"
    assert fmt.cost({"cost_usd": None, "unpriced_requests": 33}) == "unpriced"
    assert fmt.cost({"cost_usd": None, "unpriced_requests": 0}) == "-"
    assert fmt.cost({"cost_usd": 0.0002}) == "<$0.01"


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.6, "~$0.60"), (0.0002, "<$0.01"), (0.0, "$0.00"), (None, "unpriced")],
)
def test_a_saving_is_approximate_but_never_a_false_zero(value: float | None, text: str) -> None:
    assert fmt.saving(value) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (None, "-"),
        (0, "0"),
        (418, "418"),
        (999, "999"),
        (1000, "1.0k"),
        (5299, "5.3k"),
        (9949, "9.9k"),
        (9960, "10k"),
        (13_412, "13k"),
        (382_943, "383k"),
        (999_499, "999k"),
        (999_500, "1.0M"),
        (2_719_384, "2.7M"),
        (27_000_000, "27M"),
        (999_600_000, "1.0G"),
        (12_345_678_901, "12G"),
    ],
)
def test_tokens_read_the_same_way_at_every_size(n: int | None, text: str) -> None:
    assert fmt.tokens(n) == text


def test_output_marks_a_lower_bound() -> None:
    assert fmt.output({"output_tokens": 5299, "output_lower_bound_requests": 2}) == "≥5.3k"
    assert fmt.output({"output_tokens": 5299}) == "5.3k"


@pytest.mark.parametrize(
    ("fraction", "text"),
    [(None, "n/a"), (0.0, "0%"), (0.001, "<1%"), (0.3, "30%"), (0.5, "50%"), (1.5, "150%")],
)
def test_one_percent_style(fraction: float | None, text: str) -> None:
    assert fmt.percent(fraction) == text


def test_shares_and_confidence_are_percentages() -> None:
    assert fmt.share(1, 4) == "25%"
    assert fmt.share(1, 0) == "n/a" and fmt.share(1, None) == "n/a"
    assert fmt.confidence(0.9) == "90%" and fmt.confidence(None) == "n/a"
    assert fmt.count(1, "request") == "1 request" and fmt.count(44, "request") == "44 requests"

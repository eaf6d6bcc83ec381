"""The --checks grammar: what parses, what each threshold means, and the errors for what does not."""

import pytest

from common.errors import InputError
from results.checks import DEFAULT_CHECKS, METRICS, parse_checks


def test_default_checks_parse_to_their_canonical_text():
    checks = parse_checks(DEFAULT_CHECKS)
    assert [c.text for c in checks] == ["mAP:-0.5pt", "median:5%", "size:0"]
    assert [c.mode for c in checks] == ["points", "relative", "absolute"]


def test_every_metric_has_a_form_and_names_are_case_insensitive():
    text = (
        "map:1pt, MAP50:-2pt, ar100:5%, Median:3%, p90:+10%, init:50, size:1024, gzip:2%, memory:20, "
        "Energy:10%, drain:1, throttle:-30"
    )
    checks = parse_checks(text)
    assert [c.metric.name for c in checks] == list(METRICS)
    assert checks[0].text == "mAP:-1pt" and checks[5].text == "init:50"


@pytest.mark.parametrize(
    ("text", "base", "cand", "exceeded"),
    [
        ("mAP:-0.5pt", 0.300, 0.295, False),  # exactly at the threshold passes
        ("mAP:-0.5pt", 0.300, 0.294, True),
        ("mAP:2%", 0.300, 0.2925, True),  # relative: -2.5 %
        ("median:5%", 10.0, 10.5, False),
        ("median:5%", 10.0, 10.51, True),
        ("median:5%", 10.0, 5.0, False),  # faster is never a regression
        ("init:50", 100.0, 151.0, True),  # absolute ms
        ("size:0", 1000, 1000, False),
        ("size:0", 1000, 1001, True),
        ("memory:10%", 0.0, 1.0, True),  # growth from zero is infinite relative growth
    ],
)
def test_threshold_semantics(text, base, cand, exceeded):
    (check,) = parse_checks(text)
    assert check.exceeded(base, cand) is exceeded


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("median", "'median'"),  # no threshold
        ("median:5x", "'median:5x'"),  # unknown unit
        ("median:five%", "'median:five%'"),
        ("mAP:-0.5pt,median5%", "'median5%'"),  # the bad token is named, not the whole list
        ("latency:5%", "'latency'"),  # unknown metric; the allowed ones are listed
        ("size:1pt", "'pt' is for accuracy"),
        ("mAP:0.5", "accuracy thresholds need 'pt' or '%'"),
        ("median:-5%", "must be '+' for median"),
        ("mAP:+1pt", "must be '-' for mAP"),
        ("median:5%,Median:6%", "median given more than once"),
        ("", "empty token"),
        ("mAP:-0.5pt,,size:0", "empty token"),
    ],
)
def test_malformed_checks_name_the_token_and_the_allowed_forms(text, names):
    with pytest.raises(InputError) as raised:
        parse_checks(text)
    message = str(raised.value)
    assert message.startswith("--checks")
    assert names in message
    if "cannot read" in message or "empty token" in message:
        assert "Npt" in message and "N%" in message
    if "latency" in text:
        assert "mAP, mAP50, AR100, median, p90, init, size, gzip, memory" in message

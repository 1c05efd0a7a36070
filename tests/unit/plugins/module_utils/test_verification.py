"""Asking again while an answer may still change (issue 22, item 4)."""
import pytest

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    ApiError, TransportError,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._verification import (
    Verification, ask_again, pauses, refused_now,
)


@pytest.mark.parametrize("window, expected", [
    (0, []), (None, []), (0.1, [0.1]), (1, [0.25, 0.5, 0.25]),
    (10, [0.25, 0.5, 1, 2, 4, 2.25]),
])
def test_pauses_double_and_stay_within_the_window(window, expected):
    assert pauses(window) == pytest.approx(expected)
    assert sum(pauses(window)) == pytest.approx(window or 0)


class Answers:
    """``ask`` that raises the given errors in turn, then returns ``"ok"``."""

    def __init__(self, *errors):
        self.errors = list(errors)
        self.asked = 0

    def __call__(self):
        self.asked += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def refusal(status=401):
    return ApiError("refused", status=status)


def test_a_transient_refusal_is_asked_again_with_the_pauses():
    slept = []
    ask = Answers(refusal(), refusal(403))
    assert ask_again(ask, 10, refused_now, slept.append) == "ok"
    assert ask.asked == 3 and slept == [0.25, 0.5]


def test_the_last_refusal_counts_once_the_window_is_spent():
    slept = []
    ask = Answers(*[refusal() for _unused in range(20)])
    with pytest.raises(ApiError):
        ask_again(ask, 1, refused_now, slept.append)
    assert ask.asked == 4 and sum(slept) == pytest.approx(1)


@pytest.mark.parametrize("error", [ApiError("server", status=500), TransportError("down"),
                                   ApiError("gone", status=404)])
def test_an_answer_that_is_not_transient_is_raised_at_once(error):
    slept = []
    ask = Answers(error)
    with pytest.raises(ApiError):
        ask_again(ask, 10, refused_now, slept.append)
    assert ask.asked == 1 and slept == []


def test_a_window_of_zero_asks_once():
    ask = Answers(refusal())
    with pytest.raises(ApiError):
        ask_again(ask, 0, refused_now, lambda seconds: None)
    assert ask.asked == 1


def test_verification_outcomes():
    assert Verification("works").ok and not Verification("works").refused
    assert Verification("refused", "no").refused
    assert Verification("unusable here", "ip").unusable_here
    inconclusive = Verification("inconclusive", "500")
    assert not (inconclusive.ok or inconclusive.refused or inconclusive.unusable_here)

"""Unit tests of the rate-limit headers and the request budget (issue 22 item 5): every header
style the platforms and their gateways send, absurd values bounded, pacing before a 429."""
import math

import pytest

from ansible_collections.tokenops.tokens.plugins.module_utils._rate_limits import (
    RequestBudget, hinted_wait, read_hints,
)

NOW = 1_700_000_000.0
INF = float("inf")


@pytest.mark.parametrize("headers, wait", [
    ({"Retry-After": "7"}, 7.0),
    ({"retry-after": "1.5"}, 1.5),
    ({"Retry-After": "Tue, 14 Nov 2023 22:13:30 GMT"}, 10.0),        # RFC 9110 IMF-fixdate
    ({"Retry-After": "Tuesday, 14-Nov-23 22:13:30 GMT"}, 10.0),      # RFC 850 form
    ({"X-RateLimit-Reset": "0.25"}, 0.25),                            # TFE: seconds from now
    ({"X-RateLimit-Reset": "1700000003"}, 3.0),                       # GitHub: a Unix time
    ({"X-RateLimit-Reset": "1700000004000"}, 4.0),                    # a Unix time in ms
    ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2"}, 2.0),
    ({"RateLimit-Remaining": "0", "RateLimit-Reset": "5"}, 5.0),      # IETF drafts 00-06
    ({"RateLimit": "limit=10, remaining=0, reset=6"}, 6.0),           # IETF draft 07
    ({"Ratelimit": '"default";r=0;t=30'}, 30.0),                      # draft 08 on, Cloudflare
    ({"RateLimit": '"burst";r=0;t=3, "daily";r=100;t=600'}, 3.0),
])
def test_each_header_style_gives_the_wait(headers, wait):
    assert hinted_wait(headers, NOW) == pytest.approx(wait)


def test_retry_after_wins_over_a_reset():
    assert hinted_wait({"Retry-After": "2", "X-RateLimit-Reset": "9"}, NOW) == 2.0


def test_a_reset_with_requests_remaining_is_no_wait():
    assert hinted_wait({"X-RateLimit-Remaining": "5", "X-RateLimit-Reset": "9"}, NOW) is None


@pytest.mark.parametrize("value", [
    "-5", "nan", "NaN", "inf", "-inf", "1e400", "", "soon", "Fri, 31 Dec 99999 23:59:59 GMT",
    "Mon, 99 Foo 2020 99:99:99 GMT", "0x10", "\x00",
])
def test_absurd_retry_after_values_are_ignored_never_raise(value):
    assert hinted_wait({"Retry-After": value}, NOW) is None


@pytest.mark.parametrize("headers", [
    {"Retry-After": "99999999999"}, {"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"},
    {"X-RateLimit-Reset": "999999999"},                 # 31 years of seconds
    {"X-RateLimit-Reset": "99999999999999999"},         # an epoch in ms, far away
])
def test_waits_longer_than_a_day_are_infinite_so_the_client_gives_up(headers):
    assert hinted_wait(headers, NOW) == INF


def test_a_reset_in_the_past_is_no_wait():
    assert hinted_wait({"X-RateLimit-Reset": "1600000000"}, NOW) == 0.0
    assert hinted_wait({"Retry-After": "Thu, 01 Jan 1970 00:00:10 GMT"}, NOW) == 0.0


@pytest.mark.parametrize("headers, limit, window", [
    ({"X-RateLimit-Limit": "30"}, 30, None),                              # TFE (per second)
    ({"RateLimit-Limit": "100", "RateLimit-Policy": "100;w=60"}, 100, 60.0),
    ({"RateLimit": "limit=10, remaining=3, reset=4"}, 10, None),
    ({"Ratelimit-Policy": '"burst";q=100;w=60, "daily";q=1000;w=86400'}, 100, 60.0),
    ({"Ratelimit-Policy": '"daily";q=1000;w=86400'}, None, None),
    ({"Ratelimit-Policy": '"burst";q=10;w=1, "minute";q=100;w=60'}, 100, 60.0),
    ({"X-RateLimit-Limit": "-3"}, None, None),
    ({"X-RateLimit-Limit": "nan"}, None, None),
    ({"Ratelimit-Policy": '"x";q=0;w=0'}, None, None),
])
def test_limits_and_policies_pick_the_lowest_rate(headers, limit, window):
    hints = read_hints(headers, NOW)
    assert (hints.limit, hints.window) == (limit, window)


def test_the_lowest_remainder_is_kept_with_its_reset():
    hints = read_hints({"X-RateLimit-Remaining": "9", "X-RateLimit-Reset": "1",
                        "RateLimit": '"a";r=2;t=7'}, NOW)
    assert (hints.remaining, hints.reset) == (2, 7.0)


def test_garbage_in_every_field_never_raises():
    garbage = ['"', ";;;", "=,=,", "a=b=c", '"x";q=;w=', "\udcff", "1" * 5000]
    for value in garbage:
        for name in ("Retry-After", "X-RateLimit-Reset", "X-RateLimit-Limit",
                     "X-RateLimit-Remaining", "RateLimit", "RateLimit-Policy",
                     "RateLimit-Reset"):
            hints = read_hints({name: value}, NOW)
            for field in ("retry_after", "reset", "window"):
                number = getattr(hints, field)
                assert number is None or number >= 0 and not math.isnan(number)


# -- the budget ---------------------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_a_stated_limit_below_ours_replaces_it():
    clock = Clock()
    budget = RequestBudget(25, 1.0, clock=clock, sleep=clock.sleep)
    budget.learn(read_hints({"X-RateLimit-Limit": "5"}, NOW))
    assert (budget.requests, budget.seconds) == (5, 1.0)
    budget.learn(read_hints({"X-RateLimit-Limit": "30"}, NOW))   # never loosened
    assert budget.requests == 5
    for dummy in range(5):
        budget.release(budget.take())
    assert clock.slept == []
    budget.take()
    assert clock.slept == [1.0]


def test_a_module_budget_counts_nothing_until_the_platform_says():
    clock = Clock()
    budget = RequestBudget(None, 1.0, clock=clock, sleep=clock.sleep)
    for dummy in range(100):
        budget.release(budget.take())
    assert clock.slept == []


def test_the_stated_remainder_is_spent_then_waited_out_before_any_429():
    clock = Clock()
    budget = RequestBudget(None, 1.0, clock=clock, sleep=clock.sleep)
    place = budget.take()
    budget.learn(read_hints({"X-RateLimit-Remaining": "2", "X-RateLimit-Reset": "10"}, NOW))
    budget.release(place)
    budget.release(budget.take())
    budget.release(budget.take())
    assert clock.slept == []
    budget.take()
    assert clock.slept == [10.0]


def test_a_429_pauses_every_thread_and_halves_an_unstated_limit():
    clock = Clock()
    budget = RequestBudget(20, 1.0, clock=clock, sleep=clock.sleep)
    places = [budget.take() for dummy in range(8)]
    budget.pause(3.0)
    assert budget.requests == 4            # half of what was in flight when the 429 came
    for place in places:
        budget.release(place)
    budget.take()
    assert clock.slept == [3.0]


def test_no_budget_wait_is_longer_than_its_longest_wait():
    clock = Clock()
    budget = RequestBudget(None, 1.0, clock=clock, sleep=clock.sleep, longest_wait=5.0)
    budget.pause(float("inf"))
    budget.take()
    assert sum(clock.slept) == 5.0

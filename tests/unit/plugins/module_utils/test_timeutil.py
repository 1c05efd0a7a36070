"""Durations, timestamps and the rotation decision."""
import datetime

import pytest

from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    InputError, RotationPolicy, is_due, parse_duration, parse_timestamp, requested_expiry,
)

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
DAY = datetime.timedelta(days=1)


@pytest.mark.parametrize("text, seconds", [
    ("90d", 90 * 86400), ("12h", 43200), ("30m", 1800), ("2w", 1209600), ("45s", 45),
    ("1d12h", 129600), ("1y", 365 * 86400), ("3600", 3600), (3600, 3600), (" 7D ", 604800), ("0", 0),
])
def test_durations(text, seconds):
    assert parse_duration(text, "max_age") == seconds


@pytest.mark.parametrize("text", ["90x", "d90", "", "ninety days", "-5d", "-1", "1.5.3", True])
def test_bad_durations_name_the_option(text):
    with pytest.raises(InputError, match="^max_age: "):
        parse_duration(text, "max_age")


@pytest.mark.parametrize("text, expected", [
    ("2027-01-31T00:00:00Z", datetime.datetime(2027, 1, 31, tzinfo=UTC)),
    ("2027-01-31T00:00:00", datetime.datetime(2027, 1, 31, tzinfo=UTC)),
    ("2027-01-31T02:30:00+02:30", datetime.datetime(2027, 1, 31, tzinfo=UTC)),
    ("2027-01-31T00:00:00.123Z", datetime.datetime(2027, 1, 31, 0, 0, 0, 123000, tzinfo=UTC)),
    ("2027-01-31T00:00:00.123456789Z", datetime.datetime(2027, 1, 31, 0, 0, 0, 123456, tzinfo=UTC)),
    ("2027-01-31", datetime.datetime(2027, 1, 31, tzinfo=UTC)),
    ("2027-01-31T05:00:00-0100", datetime.datetime(2027, 1, 31, 6, tzinfo=UTC)),
])
def test_timestamps(text, expected):
    assert parse_timestamp(text, "expires_at") == expected


@pytest.mark.parametrize("text", ["tomorrow", "2027-13-01T00:00:00Z", "2027-02-30", "31/01/2027"])
def test_bad_timestamps_name_the_option(text):
    with pytest.raises(InputError, match="^expires_at: "):
        parse_timestamp(text, "expires_at")


def test_requested_expiry_relative_absolute_past_and_too_far():
    assert requested_expiry({"expires_in": "30d"}, NOW) == NOW + 30 * DAY
    assert requested_expiry({"expires_at": "2027-01-01T00:00:00Z"}, NOW) == \
        datetime.datetime(2027, 1, 1, tzinfo=UTC)
    assert requested_expiry({}, NOW) is None
    with pytest.raises(InputError, match="^expires_at: .* in the past"):
        requested_expiry({"expires_at": "2020-01-01T00:00:00Z"}, NOW)
    with pytest.raises(InputError, match="^expires_in: .* too far ahead; .* at most 2y"):
        requested_expiry({"expires_in": "3y"}, NOW, max_ahead=730 * 86400)


def test_rotation_never_and_always():
    assert RotationPolicy("never").decide(NOW - 400 * DAY, NOW - DAY, NOW)[0] is False
    assert RotationPolicy("always").decide(NOW, None, NOW) == (True, "rotate is always")


def test_rotation_due_by_age_expiry_window_and_expired():
    policy = RotationPolicy("due", max_age="30d", renew_before="7d")
    assert policy.decide(NOW - 10 * DAY, None, NOW)[0] is False
    due, reason = policy.decide(NOW - 40 * DAY, None, NOW)
    assert due and "40 days" in reason and "30d" in reason
    due, reason = policy.decide(NOW - DAY, NOW + 3 * DAY, NOW)
    assert due and "renew_before" in reason
    due, reason = policy.decide(NOW - DAY, NOW - 1 * DAY, NOW)
    assert due and "expired" in reason
    assert policy.decide(NOW - DAY, NOW + 30 * DAY, NOW)[0] is False


def test_rotation_due_boundary_is_inclusive():
    assert is_due(NOW - 30 * DAY, None, NOW, max_age=30 * 86400)[0] is True
    assert is_due(NOW - 30 * DAY + datetime.timedelta(seconds=1), None, NOW,
                  max_age=30 * 86400)[0] is False


def test_due_needs_a_threshold_and_bad_choices_are_named():
    with pytest.raises(InputError, match="^rotate: .*max_age or renew_before"):
        RotationPolicy("due")
    with pytest.raises(InputError, match="^rotate: "):
        RotationPolicy("sometimes")
    with pytest.raises(InputError, match="^renew_before: "):
        RotationPolicy("due", renew_before="-3d")


# -- issue 13: a platform time in a shape the module does not read -----------------------------

GO_TIME = "2026-01-02 15:04:05.123 +0000 UTC"


def test_a_platform_time_in_an_unread_shape_is_unknown_and_reported_by_field():
    from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
        forget_unreadable_times, parse_optional_timestamp, platform_time)
    assert parse_optional_timestamp(GO_TIME) is None
    assert platform_time(GO_TIME) == GO_TIME
    assert platform_time("2026-01-02T15:04:05.123Z") == "2026-01-02T15:04:05Z"
    warnings = []
    token = {"id": "t-1", "created_at": GO_TIME, "expires_at": "2027-01-02T00:00:00Z",
             "api_keys": [{"prefix": "ab", "created_at": GO_TIME}], "name": GO_TIME}
    readable = forget_unreadable_times(token, warnings.append)
    assert readable["created_at"] is None and readable["api_keys"][0]["created_at"] is None
    assert readable["expires_at"] == "2027-01-02T00:00:00Z" and readable["name"] == GO_TIME
    assert [w.split(" is ")[0] for w in warnings] == ["token t-1: created_at",
                                                      "token t-1 api_keys: created_at"]
    assert token["created_at"] == GO_TIME, "the input is not changed"


def test_an_unread_shape_in_an_option_is_still_an_input_error():
    with pytest.raises(InputError, match="^expires_at: "):
        parse_timestamp(GO_TIME, "expires_at")


# -- issue 22: times that cannot be right, and expiries compared with a tolerance -------------

@pytest.mark.parametrize("value, past, problem", [
    ("2026-11-22T11:00:00Z", True, None),
    ("2026-11-22T12:04:00Z", True, None),                  # within the clock skew
    ("2099-01-01T00:00:00Z", True, "in the future"),
    ("2099-01-01T00:00:00Z", False, None),                 # an expiry may be far ahead
    ("99999-01-01T00:00:00Z", True, "out of range"),
    ("0000-01-01T00:00:00Z", False, "out of range"),
    ("9999-12-31T23:59:59-01:00", False, "out of range"),  # past year 9999 once in UTC
    ("10000000000000", False, "out of range"),
    (GO_TIME, True, "unreadable"),
    ("", True, None), (None, True, None),
])
def test_time_problem(value, past, problem):
    from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import time_problem
    assert time_problem(value, NOW, past) == problem


def test_an_offset_past_year_9999_is_an_input_error_not_a_crash():
    with pytest.raises(InputError, match="^expires_at: .*out of range"):
        parse_timestamp("9999-12-31T23:59:59-01:00", "expires_at")


@pytest.mark.parametrize("seconds", [10 ** 13, -10 ** 13, 1e300, "soon", True])
def test_epoch_seconds_beyond_any_date_are_no_time_and_reported_as_text(seconds):
    from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
        epoch_time, from_epoch)
    assert from_epoch(seconds) is None
    assert epoch_time(seconds) in (None, str(seconds))
    assert epoch_time(1700000000) == "2023-11-14T22:13:20Z" and epoch_time(0) is None


def test_a_past_moment_in_the_future_is_forgotten_with_a_warning_and_the_age_is_unknown():
    from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
        age_seconds, forget_unreadable_times, unknown_age)
    token = {"id": "t-1", "created_at": "2099-01-01T00:00:00Z",
             "expires_at": "2099-01-01T00:00:00Z", "last_used_at": "99999-01-01T00:00:00Z"}
    warnings = []
    cleaned = forget_unreadable_times(token, warnings.append, NOW)
    assert cleaned["created_at"] is None and cleaned["last_used_at"] is None
    assert cleaned["expires_at"] == "2099-01-01T00:00:00Z"
    assert [w.split(" is ")[0] for w in warnings] == ["token t-1: created_at",
                                                      "token t-1: last_used_at"]
    assert "in the future" in warnings[0] and "no moment a date can hold" in warnings[1]
    assert unknown_age(token, ("created_at",), NOW) == \
        "created_at '2099-01-01T00:00:00Z' is in the future"
    assert unknown_age({"created_at": GO_TIME}, ("created_at",), NOW) is None
    assert unknown_age({"modified_at": None, "created_at": "2026-01-01T00:00:00Z"},
                       ("modified_at", "created_at"), NOW) is None
    assert age_seconds(datetime.datetime(2099, 1, 1, tzinfo=UTC), NOW) is None


def test_an_unknown_age_is_due_under_max_age_and_never_not_due_for_ever():
    future = datetime.datetime(2099, 1, 1, tzinfo=UTC)
    due, reason = is_due(future, None, NOW, max_age=90 * 86400)
    assert due and reason.startswith("age unknown: issued at 2099-01-01T00:00:00Z")
    due, reason = is_due(None, NOW + 300 * DAY, NOW, 90 * 86400, None, "created_at is odd")
    assert due and reason == "age unknown: created_at is odd; rotating now starts a known age"
    due, reason = is_due(None, NOW + 300 * DAY, NOW, None, 14 * 86400, "created_at is odd")
    assert not due and "age unknown" in reason
    assert is_due(NOW - DAY, NOW - DAY / 2, NOW, 90 * 86400, None, "x")[0], "expired first"
    assert RotationPolicy("due", "90d").decide(future, None, NOW)[0]


@pytest.mark.parametrize("params, created, expires, as_asked", [
    ({"expires_in": "90d"}, NOW - 10 * DAY, NOW + 80 * DAY, True),
    ({"expires_in": "90d"}, NOW - 10 * DAY, NOW + 80 * DAY + datetime.timedelta(minutes=4), True),
    ({"expires_in": "90d"}, NOW - 10 * DAY, NOW + 70 * DAY, False),
    ({"expires_in": "90d"}, None, NOW + 90 * DAY, True),
    ({"expires_in": "90d"}, NOW, None, False),
    ({"expires_at": "2027-01-31T00:00:00Z"}, NOW,
     datetime.datetime(2027, 1, 31, 0, 2, tzinfo=UTC), True),
    ({"expires_at": "2027-01-31T00:00:00Z"}, NOW, datetime.datetime(2027, 2, 1, tzinfo=UTC),
     False),
    ({}, NOW, None, True),
])
def test_a_requested_expiry_is_compared_within_the_clock_skew(params, created, expires, as_asked):
    from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
        expiry_as_asked)
    assert expiry_as_asked(params, created, expires, NOW) is as_asked

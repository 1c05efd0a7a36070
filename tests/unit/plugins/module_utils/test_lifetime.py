"""A platform's lifetime cap: due-ness, requested and chosen expiries, unreadable policies."""
import datetime

import pytest

from ansible_collections.tokenops.tokens.plugins.module_utils._client import ApiError
from ansible_collections.tokenops.tokens.plugins.module_utils._lifetime import (
    MARGIN, LifetimeCap, due_under_cap, read_cap,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import InputError

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
DAY = datetime.timedelta(days=1)
CAP = LifetimeCap("the policy of acme", max_seconds=90 * 86400)


def test_a_token_that_never_expires_is_beyond_any_cap():
    assert CAP.breach(NOW - DAY, None).startswith("never expires, and the policy of acme caps "
                                                  "token lifetime at 90d")


@pytest.mark.parametrize("created, expires, beyond", [
    (NOW - 10 * DAY, NOW + 355 * DAY, True),       # lifetime 365 days
    (NOW - 300 * DAY, NOW + 60 * DAY, True),       # total lifetime counts, not what remains
    (NOW, NOW + 90 * DAY, False),
    (NOW, NOW + 90 * DAY + datetime.timedelta(seconds=60), False),   # within the tolerance
    (NOW - DAY, NOW + 30 * DAY, False),
])
def test_breach_is_judged_on_the_total_lifetime(created, expires, beyond):
    assert bool(CAP.breach(created, expires)) is beyond


def test_no_cap_or_an_unreadable_one_makes_nothing_due():
    for cap in (LifetimeCap("none"), LifetimeCap("p", unreadable="403"), None):
        assert due_under_cap(cap, NOW - DAY, None, False, "not due") == (False, "not due")
    assert due_under_cap(CAP, NOW - DAY, None, False, "not due")[0] is True
    assert due_under_cap(CAP, NOW - DAY, None, True, "rotate is always") == (
        True, "rotate is always")


def test_an_asked_expiry_beyond_the_cap_names_the_option():
    with pytest.raises(InputError, match=r"^expires_in: .* beyond the cap of 90d set by the "
                                         r"policy of acme"):
        CAP.requested(NOW, NOW + 120 * DAY, "expires_in")
    assert CAP.requested(NOW, NOW + 30 * DAY, "expires_in") == NOW + 30 * DAY
    # right at the cap: pulled a few minutes in, so a server clock a little behind accepts it
    assert CAP.requested(NOW, NOW + 90 * DAY, "expires_in") == \
        NOW + 90 * DAY - datetime.timedelta(seconds=MARGIN)


def test_a_chosen_expiry_is_cut_to_the_cap_with_a_warning():
    assert CAP.computed(NOW, NOW + 10 * DAY, "copied") == (NOW + 10 * DAY, None)
    for chosen in (None, NOW + 365 * DAY):
        expiry, warning = CAP.computed(NOW, chosen, "the copied lifetime")
        assert expiry == NOW + 90 * DAY - datetime.timedelta(seconds=MARGIN)
        assert warning.startswith("the copied lifetime (") and "the new token expires at" in warning
    assert LifetimeCap("none").computed(NOW, None, "x") == (None, None)


class Memo:
    def __init__(self):
        self.memo = {}


def test_a_cap_is_read_once_per_scope_and_a_refusal_is_unreadable_not_none():
    client, reads = Memo(), []

    def read():
        reads.append(1)
        return 3600
    assert read_cap(client, "acme", "p", read).max_seconds == 3600
    assert read_cap(client, "acme", "p", read).max_seconds == 3600
    assert len(reads) == 1

    def refused():
        raise ApiError("GET /x failed with HTTP 403: Forbidden", status=403)
    cap = read_cap(client, "other", "the policy of other", refused)
    assert cap.max_seconds is None and cap.unreadable.endswith("HTTP 403: Forbidden")
    assert cap.result()["readable"] is False
    assert "could not be read" in cap.unreadable_warning()

    def broken():
        raise ApiError("GET /x failed with HTTP 500", status=500)
    with pytest.raises(ApiError):
        read_cap(client, "third", "p", broken)

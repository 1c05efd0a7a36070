"""The finish step revokes only what the issue step recorded (issue 23, item 1)."""
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_engine import (
    not_recorded,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_journal import (
    fingerprint,
)

ENTRY = {"step": "issued", "previous_id": "old", "token_id": "new", "superseded": ["left"]}
OUTCOME = {"previous": {"id": "old"}, "token": {"id": "new"}, "superseded": ["left"]}


def test_an_outcome_that_matches_the_journal_is_taken():
    assert not_recorded(ENTRY, OUTCOME) is None
    assert not_recorded(ENTRY, dict(OUTCOME, superseded=[])) is None


def test_an_outcome_that_names_other_tokens_is_refused():
    assert not_recorded(None, OUTCOME) == 'no rotation of this token is open in the journal'
    assert not_recorded(ENTRY, dict(OUTCOME, previous={"id": "victim"})) == \
        'it names previous token victim, the journal old'
    assert not_recorded(ENTRY, dict(OUTCOME, token={"id": "other"})) == \
        'it names new token other, the journal new'
    assert not_recorded(ENTRY, dict(OUTCOME, superseded=["left", "victim"])) == \
        'it names superseded tokens victim that the journal does not'


def test_a_fingerprint_is_stable_and_never_the_secret():
    secret = "pul-0123456789abcdef0123456789abcdef01234567"
    assert fingerprint(secret) == fingerprint(secret) != fingerprint(secret + "x")
    assert secret not in fingerprint(secret) and len(fingerprint(secret)) == 32

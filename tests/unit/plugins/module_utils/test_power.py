"""The successor's power, compared once for every platform (``_power``), against a fake adapter."""
import pytest

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    AmbiguousWriteError, TokenOpsError,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._power import (
    PowerMismatch, differences, issue_successor,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._token_state import TokenAdapter


class Client:
    def __init__(self):
        self.memo, self.remembered = {}, []

    def remember_secret(self, secret):
        self.remembered.append(secret)


class Fake(TokenAdapter):
    """Issues ``issued``; the platform shows ``shown`` when read back."""

    def __init__(self, shown, overlaps=True, remove_fails=False):
        super(Fake, self).__init__(Client(), {})
        self.shown, self.overlaps, self.remove_fails = shown, overlaps, remove_fails
        self.removed = []

    def power_of(self, token):
        return dict(admin=bool(token.get('admin')), role_id=token.get('role_id'))

    def issue_replacement(self, current):
        return dict(id='new', admin=current['admin'], role_id=current['role_id']), 'secret'

    def read_back(self, token):
        return self.shown

    def remove_successor(self, token):
        if self.remove_fails:
            raise TokenOpsError('HTTP 500')
        self.removed.append(token['id'])


CURRENT = dict(id='old', admin=True, role_id='role-1')


def test_equal_power_passes_with_the_token_as_read_back():
    adapter = Fake(dict(id='new', admin=True, role_id='role-1', created_by='alice'))
    token, secret = issue_successor(adapter, CURRENT)
    assert (token['created_by'], secret) == ('alice', 'secret')
    assert adapter.client.remembered == ['secret'] and adapter.removed == []


def test_a_difference_removes_the_successor_and_says_what_differed():
    adapter = Fake(dict(id='new', admin=False, role_id=None))
    with pytest.raises(PowerMismatch) as failure:
        issue_successor(adapter, CURRENT)
    assert "admin: true asked, false read back" in str(failure.value)
    assert "role_id: 'role-1' asked, none read back" in str(failure.value)
    assert "previous token was kept" in str(failure.value)
    assert adapter.removed == ['new']


def test_a_successor_not_there_when_read_back_counts_as_different():
    adapter = Fake({})
    with pytest.raises(PowerMismatch, match="is not there when read back"):
        issue_successor(adapter, CURRENT)


def test_a_failed_removal_is_ambiguous_so_the_journal_keeps_the_rotation():
    with pytest.raises(AmbiguousWriteError, match="removing it failed"):
        issue_successor(Fake(dict(id='new', admin=False, role_id=None), remove_fails=True),
                        CURRENT)


def test_in_place_a_difference_is_a_warning_and_the_secret_is_kept():
    adapter = Fake(dict(id='new', admin=False, role_id='role-1'), overlaps=False)
    token, secret = issue_successor(adapter, CURRENT)
    assert secret == 'secret' and adapter.removed == []
    assert "does not carry the power asked for: admin: true asked" in adapter.notes[0]


def test_adapters_without_power_or_read_back_are_not_compared():
    class Plain(Fake):
        def power_of(self, token):
            return {}
    adapter = Plain(None)
    assert issue_successor(adapter, CURRENT)[1] == 'secret'
    assert issue_successor(Fake(None), CURRENT)[1] == 'secret'     # read_back None: same token


def test_differences_lists_each_field_once():
    assert differences({'a': 1, 'b': 'x'}, {'a': 1, 'b': 'y', 'c': True}) == [
        "b: 'x' asked, 'y' read back", "c: none asked, true read back"]

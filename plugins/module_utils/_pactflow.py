# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""PactFlow API tokens: the read-only and the read-write token of the calling principal.

PactFlow provisions exactly these two tokens for every user and system account; they cannot be
created or deleted, only regenerated in place (same uuid, new value, the old value dead at
once). ``GET /settings/tokens`` lists the caller's tokens with their values, so an existing
token is imported with its secret. The only type marker is the ``description`` text.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    AmbiguousWriteError, AuthenticationError, TokenOpsError, UnreadableAnswerError,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._lost_writes import settle
from ansible_collections.tokenops.tokens.plugins.module_utils._module import (
    management_argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import InputError
from ansible_collections.tokenops.tokens.plugins.module_utils._token_state import TokenAdapter

READ_ONLY = 'read-only'
READ_WRITE = 'read-write'
TYPES = (READ_ONLY, READ_WRITE)
#: the descriptions PactFlow gives its two tokens (api/pactflow.md, section 2)
DESCRIPTIONS = {READ_ONLY: 'Read only token (developer)', READ_WRITE: 'Read/write token (CI)'}
TOKENS_PATH = ('settings', 'tokens')

CANNOT_DELETE = ('PactFlow cannot delete API tokens: every user and system account always has '
                 'its read-only and read-write token, which can only be regenerated')
CANNOT_BE_DUE = ('rotate: "due" is not possible on PactFlow: the API exposes no creation date '
                 'or expiry of a token, so its age is unknown; use rotate: always on your own '
                 'schedule, or never')


def argument_spec():
    """The options of ``pactflow_token``; the rotation role validates its items with them too."""
    spec = management_argument_spec(expiry=False)
    spec.update(
        type=dict(type='str', required=True, choices=list(TYPES)),
        allow_self_rotation=dict(type='bool', default=False),
    )
    return spec


MUTUALLY_EXCLUSIVE = []


def info_argument_spec():
    """The options of ``pactflow_token_info`` beyond the shared ``_info`` ones (none of them
    chooses what is listed: PactFlow lists the tokens of the principal ``api_token`` belongs to)."""
    return dict(
        type=dict(type='str', choices=list(TYPES)),
        include_values=dict(type='bool', default=False),
    )


def token_type(raw):
    """``read-only``, ``read-write`` or None (unrecognised), from the token's description.

    The exact descriptions PactFlow documents come first; otherwise the leading words decide,
    whatever the case, punctuation or spacing (``Read-only token``, ``READ/WRITE token``).
    """
    description = raw.get('description') if isinstance(raw, dict) else None
    if not isinstance(description, str):
        return None
    for kind, known in DESCRIPTIONS.items():
        if description == known:
            return kind
    words = re.sub(r'[^a-z]+', ' ', description.lower()).split()
    if words[:2] == ['read', 'only'] or words[:1] == ['readonly']:
        return READ_ONLY
    if words[:2] == ['read', 'write'] or words[:3] == ['read', 'and', 'write'] \
            or words[:1] == ['readwrite']:
        return READ_WRITE
    return None


def token_metadata(raw):
    """The public, snake_case metadata of a listed token (never its value).

    PactFlow reports no creation, expiry or last-use time, so those are null; undocumented
    fields the platform may add are ignored.
    """
    return dict(id=raw.get('uuid'), type=token_type(raw), description=raw.get('description'),
                created_at=None, expires_at=None)


def list_tokens(client):
    """Every token of the principal ``client`` authenticates as (one request: no paging)."""
    body = client.get(TOKENS_PATH)
    items = None
    if isinstance(body, dict):
        items = (body.get('_embedded') or {}).get('items')
        if items is None:
            items = body.get('tokens')    # the shape of another client's fixtures; tolerated
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise UnreadableAnswerError(client.named(
            'GET /settings/tokens answered without its list of objects (_embedded.items); '
            'nothing was decided from it'), method='GET', path='/settings/tokens',
            platform=client.platform)
    for item in items:
        if item.get('value'):
            item['value'] = client.remember_secret(item['value'])
    return items


def describe_listing(listing):
    shown = ['%r (id %s)' % (raw.get('description'), raw.get('uuid')) for raw in listing]
    return ', '.join(shown) or 'no tokens'


def select(listing, kind):
    """The one token of ``kind`` in ``listing``; anything else is an error, never a guess."""
    matches = [raw for raw in listing if token_type(raw) == kind]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise TokenOpsError(
            'type: %d tokens in the list look like the %s token (ids %s); PactFlow tells its '
            'tokens apart only by description, so the module will not pick one'
            % (len(matches), kind, ', '.join(sorted(str(m.get('uuid')) for m in matches))))
    raise TokenOpsError(
        'type: the principal that api_token belongs to has no %s token that the module '
        'recognises (PactFlow lists %s). PactFlow marks a token\'s type only by its description, '
        'expected %r; a Viewer has no read-write token'
        % (kind, describe_listing(listing), DESCRIPTIONS[kind]))


def check_options(params):
    """What the argument spec cannot say; raises ``InputError`` before any request."""
    if params.get('type') not in TYPES:
        raise InputError('type: must be read-only or read-write; got %r' % (params.get('type'),))
    if params.get('rotate') == 'due':
        raise InputError(CANNOT_BE_DUE)


class PactFlowTokenAdapter(TokenAdapter):
    can_delete = False
    cannot_delete_reason = CANNOT_DELETE
    rotation_effect = ('in place: PactFlow regenerates the value under the same id and the '
                       'previous value stops working at once, with no grace period')
    overlaps = False
    verify_path = TOKENS_PATH

    def __init__(self, client, params, now=None):
        super(PactFlowTokenAdapter, self).__init__(client, params, now)
        # Checked here already: rotate "due" would otherwise first be reported as lacking max_age.
        check_options(params)
        self.kind = params['type']
        self.credential = params.get('api_token')
        self.values = {}            # token id -> value, as listed
        self.types = {}             # token id -> read-only, read-write or None
        self.unrecognised = []

    def validate(self):
        check_options(self.params)

    # -- reading --------------------------------------------------------------------------------
    def scope_key(self):
        return TOKENS_PATH          # the tokens of the credential's own principal

    def list_scope(self):
        return list_tokens(self.client)

    def find_in(self, listing):
        raw = select(listing, self.kind)
        self.values = dict((item.get('uuid'), item.get('value') or None) for item in listing)
        self.types = dict((item.get('uuid'), token_type(item)) for item in listing)
        self.unrecognised = [item for item in listing if token_type(item) is None]
        return token_metadata(raw)

    def readable_secret(self, current):
        """The listed value, except for the token in ``api_token``: Ansible would mask that one in
        the result (it is a ``no_log`` option's value), and the caller has it already."""
        listed = self.values.get(current['id'])
        return None if listed == self.credential else listed

    def is_credential(self, current):
        """True when ``current`` is the token in ``api_token``, False when it is not, None when
        the list shows no values to tell."""
        value = self.values.get(current['id'])
        if value:
            return value == self.credential
        if any(other == self.credential for other in self.values.values() if other):
            return False
        return None

    def _credential_type(self):
        for token_id, value in self.values.items():
            if value and value == self.credential:
                return self.types.get(token_id)
        return None

    def warnings(self, current):
        messages = []
        if self.unrecognised:
            messages.append('the token list also holds %d token(s) whose description the module '
                            'does not recognise (%s); they were left alone'
                            % (len(self.unrecognised), describe_listing(self.unrecognised)))
        if not self.values.get(current['id']):
            messages.append('PactFlow did not return the value of the %s token %s, so no secret '
                            'is returned; rotate: always regenerates it, after which the current '
                            'value stops working' % (self.kind, current['id']))
        if self.params.get('max_age') is not None or self.params.get('renew_before') is not None:
            messages.append('max_age and renew_before are ignored: PactFlow reports no age or '
                            'expiry of a token')
        self_rotation = self.params.get('rotate') == 'always' and self.params.get(
            'allow_self_rotation')
        if self_rotation and self.is_credential(current) is not False:
            messages.append('the %s token %s is (or may be) the credential in api_token: '
                            'regenerating it makes that credential stop working at once; later '
                            'tasks must authenticate with the returned secret'
                            % (self.kind, current['id']))
        return messages

    def check_rotation(self, current):
        if self._credential_type() == READ_ONLY:
            raise InputError('api_token: is the read-only token; PactFlow refuses every request '
                             'other than GET made with a read-only token, so it cannot '
                             'regenerate any token, not even itself. Use the read-write token '
                             'as api_token')
        mine = self.is_credential(current)
        if mine is not False and not self.params.get('allow_self_rotation'):
            if mine:
                why = 'it is the credential in api_token'
            else:
                why = ('PactFlow listed no token values, so the module cannot tell whether it is '
                       'the credential in api_token')
            raise InputError(
                'rotate: refusing to regenerate the %s token %s: %s, and regenerating it would '
                'lock this play out at once. Call the module with the other token as api_token, '
                'or set allow_self_rotation: true and use the returned secret in later tasks'
                % (self.kind, current['id'], why))

    # -- writing --------------------------------------------------------------------------------
    def issue_replacement(self, current):
        """Regenerate ``current`` in place; return ``(token, secret)``."""
        self.check_rotation(current)
        token_id = current['id']
        previous = self.values.get(token_id)
        mine = self.is_credential(current)
        try:
            answer = self._regenerate(token_id)
        except AmbiguousWriteError as exc:
            secret = self._value_after_lost_answer(current, previous, mine, exc)
        else:
            secret = self.client.remember_secret(
                answer.get('value') if isinstance(answer, dict) else None)
            if not secret:
                secret = self._listed_new_value(current, previous, mine)
        if mine is None:
            # The list showed no values: the old credential tells by whether it still works.
            mine = not self.credential_still_works()
        if mine:
            self._use_credential(secret)
        self.values[token_id] = secret
        return dict(current), secret

    def _regenerate(self, token_id):
        """``POST /settings/tokens/{uuid}/regenerate`` without a body (the contract's Assume:
        any 2xx, the new value in the answer)."""
        try:
            return self.client.post(TOKENS_PATH + (token_id, 'regenerate'))
        except AuthenticationError as exc:
            raise AuthenticationError(
                '%s. PactFlow also answers 401 when a read-only token tries to regenerate a '
                'token (it refuses every request but GET made with one)' % exc,
                status=exc.status, method=exc.method, path=exc.path,
                platform_message=exc.platform_message, request_id=exc.request_id)

    def _value_after_lost_answer(self, current, previous, mine, exc):
        """After a regenerate without a clear answer: look at the list, which shows the value.

        A changed value means the regenerate happened and the list holds the new one; the same
        value means nothing happened, so regenerating once more cannot lose anything (PactFlow
        regenerates in place: a second request creates no second token).
        """
        if mine:
            raise TokenOpsError(
                '%s. If it did, the credential in api_token (this very token) no longer works and '
                'the new value can only be copied from PactFlow\'s settings page (API Tokens)'
                % exc)
        if not previous:
            raise exc       # the list shows no values: nothing to compare with
        # Once the server is done with the lost regenerate: one it makes after the look would
        # end the value this one returns.
        settle(self.client, exc)
        listed = self._listed_value(current['id'])
        if listed is None:
            raise exc
        if listed != previous:
            return listed
        answer = self._regenerate(current['id'])
        secret = self.client.remember_secret(
            answer.get('value') if isinstance(answer, dict) else None)
        return secret or self._listed_new_value(current, previous, mine)

    def _listed_new_value(self, current, previous, mine):
        """The regenerate answered without a value: the list may show it."""
        listed = None if mine is not False else self._listed_value(current['id'])
        if listed and listed != previous:
            return listed
        raise TokenOpsError('PactFlow regenerated the %s token %s but returned no value; the '
                            'previous value no longer works. Copy the new one from PactFlow\'s '
                            'settings page (API Tokens), or re-run with rotate: always'
                            % (self.kind, current['id']))

    def _listed_value(self, token_id):
        for raw in list_tokens(self.client):
            if raw.get('uuid') == token_id:
                return raw.get('value') or None
        return None

    def _use_credential(self, secret):
        """The token regenerated was the client's own credential: carry on with the new value,
        as PactFlow's Terraform provider does."""
        self.credential = secret
        self.client.use_credential(secret)

    def retire(self, previous):
        """Nothing to do: the previous value stopped working when it was regenerated."""

    def delete(self, current):
        raise TokenOpsError(CANNOT_DELETE)


ROTATION_ADAPTER = PactFlowTokenAdapter

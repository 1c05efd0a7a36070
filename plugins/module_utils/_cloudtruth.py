# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""CloudTruth service accounts and their API keys.

A service account is found by its user's name over every page of ``/api/v1/serviceaccounts/``
(there is no name filter); entries whose ``user`` is null have no name and never match.
``description`` and ``owner`` change through the account, ``role`` through its membership, and
the name cannot change. A new key comes from a rekey, which replaces the key in place. The
rekey always sends an explicit future ``expire_at`` for the previous key (``keep_previous_for``,
one hour unless set), because the one public schema of its answer has no key in it and
``expire_at: null`` may mean "never expires": the consumer's key keeps working until a new key
has been received. Only ``keep_previous_for: 0`` (an immediate cut-over) sends null. The account
is read back after every rekey to report what happened to the previous key.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

try:
    from urllib.parse import unquote, urlsplit
except ImportError:  # pragma: no cover
    from urllib import unquote  # type: ignore
    from urlparse import urlsplit  # type: ignore

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    AmbiguousWriteError, TokenOpsError,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._lost_writes import settle
from ansible_collections.tokenops.tokens.plugins.module_utils._module import (
    management_argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._paging import iter_next_links
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    InputError, RotationPolicy, describe_seconds, isoformat, parse_duration, platform_time,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._token_state import TokenAdapter
from ansible_collections.tokenops.tokens.plugins.module_utils._verification import IdentityUnknown

#: the largest page asked for; Django REST framework caps it at the server's own maximum
PAGE_SIZE = 1000
NAME_MAX = 128
ROLES = ('owner', 'admin', 'contrib', 'viewer')
DEFAULT_ROLE = 'viewer'
#: the shortest overlap window: a shorter one could end before the rekey request arrives
MIN_KEEP_PREVIOUS = 60
#: the overlap window when keep_previous_for is not set: the previous key works this long
DEFAULT_KEEP_PREVIOUS = '1h'
ACCOUNTS = ('api', 'v1', 'serviceaccounts')
MEMBERSHIPS = ('api', 'v1', 'memberships')
USERS = ('api', 'v1', 'users')
CURRENT_USER = USERS + ('current',)
MUTUALLY_EXCLUSIVE = []


def argument_spec():
    """The options of ``cloudtruth_service_account``; the rotation role validates its items with
    them too. CloudTruth keys have no expiry of their own, so there is no expires_in/at."""
    spec = management_argument_spec(expiry=False)
    spec.update(
        name=dict(type='str', required=True),
        description=dict(type='str'),
        owner=dict(type='str'),
        role=dict(type='str', choices=list(ROLES)),
        keep_previous_for=dict(type='str'),
    )
    return spec


def info_argument_spec():
    """The options of ``cloudtruth_service_account_info`` beyond the shared ``_info`` ones (a
    filter: CloudTruth lists the service accounts of the key's organization)."""
    return dict(name=dict(type='str'))


def user_id_of(value):
    """The user id in an owner or user reference: ``auth0|x`` from ``.../users/auth0%7Cx/``, a
    bare id as it is, None for a URL that names no user."""
    if not value:
        return None
    if '://' not in value and not value.startswith('/'):
        return value
    segments = [s for s in urlsplit(value).path.split('/') if s]
    if 'users' in segments[:-1]:
        return unquote(segments[segments.index('users') + 1])
    return None


def key_metadata(raw):
    """One API key's public metadata: its visible prefix, never the key."""
    return dict(
        prefix=raw.get('prefix'),
        created_at=platform_time(raw.get('created')),
        expires_at=platform_time(raw.get('expiry_date')),
        revoked=bool(raw.get('revoked')),
        expired=bool(raw.get('has_expired')),
    )


def newest_key(keys):
    """The key ``rotate: due`` measures: the newest one not revoked (else the newest); of keys
    issued in the same second, the one listed last (CloudTruth lists keys oldest first)."""
    candidates = [k for k in keys if not k['revoked']] or keys
    dated = [(k['created_at'], position) for position, k in enumerate(candidates)
             if k.get('created_at')]
    return candidates[max(dated)[1]] if dated else None


def account_metadata(raw):
    """The public, snake_case metadata of a service account (a list entry or a GET/PATCH body).

    ``created_at`` is the account's; ``key_created_at`` and ``expires_at`` are its newest key's.
    Servers older than 2024 send no ``keys``: then the account's creation is the key's.
    """
    user = raw.get('user') or {}
    keys = [key_metadata(k) for k in raw.get('keys') or []]
    newest = newest_key(keys)
    created_at = platform_time(raw.get('created_at'))
    return dict(
        id=raw.get('id'),
        name=user.get('name'),
        description=raw.get('description') or '',
        owner=user_id_of(raw.get('owner')),
        role=(user.get('role') or '').lower() or None,
        membership_id=user.get('membership_id'),
        email=user.get('email'),
        created_at=created_at,
        modified_at=platform_time(raw.get('modified_at')),
        last_used_at=platform_time(raw.get('last_used_at')),
        key_created_at=newest['created_at'] if newest else created_at,
        expires_at=newest['expires_at'] if newest else None,
        live_keys=(sum(1 for k in keys if not k['revoked'] and not k['expired'])
                   if 'keys' in raw else None),
        api_keys=keys,
    )


def list_accounts(client):
    """Every service account the credential may see, raw, all pages."""
    return iter_next_links(client, ACCOUNTS, page_size=PAGE_SIZE)


def listed_user_name(raw):
    """Index key of a listed service account (``TokenAdapter.listing_index``)."""
    return ((raw.get('user') or {}).get('name'),)


def keep_previous_seconds(params):
    """The overlap window in seconds (one hour when not set), or None for ``0``: "the previous
    key stops at once"."""
    value = params.get('keep_previous_for')
    if value is None:
        value = DEFAULT_KEEP_PREVIOUS
    if str(value).strip().startswith('-'):
        raise InputError('keep_previous_for: a duration cannot be negative, got %r' % (value,))
    seconds = parse_duration(value, 'keep_previous_for')
    if seconds == 0:
        return None
    if seconds < MIN_KEEP_PREVIOUS:
        raise InputError('keep_previous_for: at least %s, or 0 for "stop at once"; got %r'
                         % (describe_seconds(MIN_KEEP_PREVIOUS), value))
    return seconds


class CloudTruthServiceAccountAdapter(TokenAdapter):
    rotation_effect = ('rekeyed in place: the previous API key stops working at the end of '
                       'keep_previous_for (one hour unless set; 0 stops it at once)')
    #: A rekey replaces the key in place: no request can end the previous key later (CloudTruth
    #: has no per-key endpoint), so the only overlap is the rekey's own keep_previous_for window.
    overlaps = False
    verify_path = CURRENT_USER
    issued_fields = ('key_created_at', 'created_at')

    @property
    def in_place(self):
        """Only ``keep_previous_for: 0`` ends the previous key at the rekey."""
        return keep_previous_seconds(self.params) is None

    def __init__(self, client, params, now=None):
        super(CloudTruthServiceAccountAdapter, self).__init__(client, params, now)
        self.keep_previous = None
        self.owner = None
        self._caller = None

    # -- checks before any request ------------------------------------------------------------
    def validate(self):
        params = self.params
        name = params.get('name')
        if not name or not name.strip():
            raise InputError('name: required, the service account\'s name')
        if name != name.strip():
            raise InputError('name: must not start or end with white space; got %r' % name)
        if len(name) > NAME_MAX:
            raise InputError('name: at most %d characters (CloudTruth\'s limit), got %d'
                             % (NAME_MAX, len(name)))
        owner = params.get('owner')
        if owner:
            self.owner = user_id_of(owner.strip())
            if not self.owner or any(c.isspace() for c in self.owner):
                raise InputError('owner: give the owner\'s CloudTruth user id (such as '
                                 'auth0|61949e36c0baff006a6d1aea) or its API URL ending in '
                                 '/users/<id>/; got %r' % owner)
        self.keep_previous = keep_previous_seconds(params)

    # -- reading --------------------------------------------------------------------------------
    def scope_key(self):
        return ACCOUNTS

    def list_scope(self):
        return list(list_accounts(self.client))

    def listing_index(self):
        return listed_user_name, self.params['name']

    def find_in(self, listing):
        name = self.params['name']
        matches = [raw for raw in listing if (raw.get('user') or {}).get('name') == name]
        if len(matches) > 1:
            raise TokenOpsError('name: %d service accounts are called %r (ids %s); CloudTruth does '
                                'not keep names unique and this module will not guess: delete '
                                'the extra one in CloudTruth'
                                % (len(matches), name, ', '.join(sorted(m.get('id') or '?'
                                                                        for m in matches))))
        return account_metadata(matches[0]) if matches else None

    def _desired(self):
        """``{field: value}`` of what the user asked for, normalised like ``account_metadata``."""
        params = self.params
        desired = {}
        if params.get('description') is not None:
            desired['description'] = params['description']
        if params.get('owner') is not None:
            desired['owner'] = self.owner
        if params.get('role') is not None:
            desired['role'] = params['role'].lower()
        return desired

    def changes(self, current):
        # A server from 2021 sends no role: unknown is not a difference that needs a write.
        unknown = ('role',) if current.get('role') is None else ()
        return dict((field, value) for field, value in self._desired().items()
                    if current.get(field) != value and field not in unknown)

    def _due(self, current):
        policy = RotationPolicy.from_params(self.params)
        return policy.decide(self.secret_issued_at(current), self.expires_at(current),
                             self.now)[0]

    def warnings(self, current):
        messages = []
        expires = self.expires_at(current)
        if expires is not None and expires <= self.now:
            messages.append('the API key of service account %s expired at %s; use rotate: due or '
                            'always to issue a new one' % (current['name'], current['expires_at']))
        elif current.get('live_keys') == 0:
            messages.append('service account %s has no working API key; use rotate: always to '
                            'issue one' % current['name'])
        if self.keep_previous is None and self._due(current):
            messages.append('the rekey of service account %s stops its previous API key at once '
                            '(keep_previous_for: 0); a consumer that has not received the new key '
                            'is locked out until it does' % current['name'])
        if self.params.get('role') is not None and current.get('role') is None:
            messages.append('CloudTruth did not report the role of service account %s (servers '
                            'from 2021 do not), so role was not compared or changed'
                            % current['name'])
        windows = sorted(k['expires_at'] for k in current.get('api_keys') or []
                         if not k['revoked'] and not k['expired'] and k.get('expires_at'))
        if windows and (current.get('live_keys') or 0) > 1:
            messages.append('service account %s has %d working API keys; the older ones stop at '
                            '%s (the window of an earlier rekey). If its newest key never reached '
                            'its consumers, run with rotate: always before then'
                            % (current['name'], current['live_keys'], windows[0]))
        return messages

    def planned(self, current=None, changes=None):
        now = isoformat(self.now)
        new_key = dict(prefix=None, created_at=now, expires_at=None, revoked=False,
                       expired=False)
        if current is None:
            desired = self._desired()
            return dict(id=None, name=self.params['name'],
                        description=desired.get('description', ''),
                        owner=desired.get('owner'), role=desired.get('role', DEFAULT_ROLE),
                        membership_id=None, email=None, created_at=now, modified_at=now,
                        last_used_at=None, key_created_at=now, expires_at=None, live_keys=1,
                        api_keys=[new_key])
        token = dict(current)
        token.update(changes or {})
        if self._due(current):
            token['api_keys'] = [self._retired(key) for key in current.get('api_keys') or []]
            token['api_keys'].append(new_key)
            live = [k for k in token['api_keys'] if not k['revoked'] and not k['expired']]
            token.update(key_created_at=now, expires_at=None, modified_at=now,
                         live_keys=len(live) if current.get('live_keys') is not None else None)
        return token

    def _retired(self, key):
        """A key as a rekey leaves it: revoked now, or expiring at the end of the window."""
        key = dict(key)
        if key['revoked'] or key['expired']:
            return key
        if self.keep_previous is None:
            key['revoked'] = True
        else:
            window_end = isoformat(self._window_end())
            if key['expires_at'] is None or key['expires_at'] > window_end:
                key['expires_at'] = window_end
        return key

    def _window_end(self):
        return self.now + datetime.timedelta(seconds=self.keep_previous)

    def _caller_id(self):
        if self._caller is None:
            self._caller = self.ask_identity('cloudtruth_caller',
                                             lambda: self.client.get(CURRENT_USER).get('id'))
        return self._caller

    def check_rotation(self, current):
        """A rekey without a window would stop the very key the module calls with."""
        if self.keep_previous is not None:
            return
        try:
            caller = self._caller_id()
        except IdentityUnknown as exc:
            raise InputError('keep_previous_for: refusing to rekey service account %s without a '
                             'window: %s, so it may be the key in api_token, and a rekey without '
                             'a window would stop it at once. Run again later, or give '
                             'keep_previous_for' % (current['name'], exc))
        if caller != current['id']:
            return
        raise InputError('keep_previous_for: must not be 0 to rekey service account %s, because '
                         'api_token is its own key: without a window the rekey stops api_token '
                         'at once and locks out everything that uses it until the new key '
                         'arrives' % current['name'])

    # -- writing --------------------------------------------------------------------------------
    def _user_url(self, user_id):
        """The form CloudTruth itself uses for a user reference (Assumption: also for ``owner``)."""
        return self.client.url_for(USERS + (user_id,))

    def _key_from(self, answer, what, advice, created=None):
        secret = self.client.remember_secret(
            answer.get('apikey') if isinstance(answer, dict) else None, created=created)
        if not secret:
            raise TokenOpsError('%s: the server did not return the new key (its answer has no '
                                'apikey), so there is no key to hand on; %s' % (what, advice))
        return secret

    def create(self):
        desired = self._desired()
        body = {'name': self.params['name'],
                'role': desired.get('role', DEFAULT_ROLE).upper()}
        if 'description' in desired:
            body['description'] = desired['description']
        if desired.get('owner'):
            body['owner'] = self._user_url(desired['owner'])
        answer = self.client.post(ACCOUNTS, body)
        created = account_metadata(answer) if isinstance(answer, dict) and answer.get('id') \
            else None
        secret = self._key_from(answer, 'create of service account %s' % body['name'],
                                'delete the account (state: absent) and create it again',
                                created=created)
        return account_metadata(answer), secret

    def update(self, current, changes):
        token = current
        body = {}
        if 'description' in changes:
            body['description'] = changes['description']
        if 'owner' in changes:
            body['owner'] = self._user_url(changes['owner']) if changes['owner'] else None
        if body:
            answer = self.client.patch(ACCOUNTS + (current['id'],), body)
            token = account_metadata(answer) if answer.get('id') else dict(current, **changes)
        if 'role' in changes:
            token = dict(token, **self._set_role(current, changes['role']))
        return token

    def _set_role(self, current, role):
        """``role`` and ``membership_id`` after changing the account's membership."""
        if current.get('membership_id'):
            answer = self.client.patch(MEMBERSHIPS + (current['membership_id'],),
                                       {'role': role.upper()})
        else:
            # Accounts made before 2023 may have no membership: give them one.
            answer = self.client.post(MEMBERSHIPS, {'user': self._user_url(current['id']),
                                                    'role': role.upper()})
        return dict(role=(answer.get('role') or role).lower(),
                    membership_id=answer.get('id') or current.get('membership_id'))

    def issue_replacement(self, current):
        """Rekey: a new key for the same account; the previous one stops at the end of
        keep_previous_for (or at once for 0). The account is read back afterwards to tell what
        became of the previous key. Returns ``(token, secret)``."""
        expire_at = None if self.keep_previous is None else isoformat(self._window_end())
        path = ACCOUNTS + (current['id'], 'rekey')
        try:
            answer = self.client.post(path, {'expire_at': expire_at})
        except AmbiguousWriteError as exc:
            if self._rekey_happened(current, exc):
                raise
            answer = self.client.post(path, {'expire_at': expire_at})
        # What became of the previous key is read first: a new key no header can carry is refused
        # below, and the refusal says whether the previous one still works.
        body = self.client.get(ACCOUNTS + (current['id'],), allow_not_found=True)
        fate = self.previous_fate = self._previous_key_fate(current, body)
        secret = self.client.remember_secret(
            answer.get('apikey') if isinstance(answer, dict) else None)
        if not secret:
            raise TokenOpsError(
                'rekey of service account %s: the server did not return the new key (its answer '
                'has no apikey), so there is no key to hand on; %s. Run again with rotate: '
                'always before then to issue a key you receive' % (current['name'], fate))
        if self.keep_previous is None and 'does not expire' in fate:
            self.notes.append('the rekey of service account %s asked for an immediate cut-over '
                              '(keep_previous_for: 0), but %s: this server '
                              'reads expire_at: null as "never"' % (current['name'], fate))
        token = account_metadata(body) if body else dict(current)
        if 'keys' in answer and (answer.get('user') or {}).get('name') and not body:
            token = account_metadata(answer)
        return token, secret

    def power_of(self, token):
        """What a service account's keys may do is its role in the organization."""
        return dict(role=token.get('role'))

    def read_back(self, token):
        """The account as read after the rekey (``issue_replacement`` reads it)."""
        return token

    def _previous_key_fate(self, current, body=None):
        """What became of the previous key(s), from the account read back after the rekey, in
        words; what was asked for when the server lists no keys. A key is named by its public
        prefix, the part CloudTruth shows of it (never the secret)."""
        asked = ('the previous key should have stopped working at once'
                 if self.keep_previous is None
                 else 'the previous key should work until %s'
                 % isoformat(self._window_end()))
        if not body or 'keys' not in body:
            return '%s (this server lists no keys to confirm it)' % asked
        previous = set(k['prefix'] for k in current.get('api_keys') or []
                       if not k['revoked'] and not k['expired'])
        fates = []
        for key in (key_metadata(k) for k in body['keys']):
            if key['prefix'] not in previous:
                continue
            named = 'the previous key (public prefix %s)' % key['prefix']
            if key['revoked'] or key['expired']:
                fates.append('%s stopped working' % named)
            elif key['expires_at']:
                fates.append('%s works until %s' % (named, key['expires_at']))
            else:
                fates.append('%s still works and does not expire' % named)
        return '; '.join(fates) or asked

    def _rekey_happened(self, current, exc):
        """After a rekey without a clear answer: False only when a look shows no new key (made
        once the server is done with the lost rekey, ``_lost_writes``)."""
        settle(self.client, exc)
        body = self.client.get(ACCOUNTS + (current['id'],), allow_not_found=True)
        if body is None or 'keys' not in body:
            return True
        known = set(k.get('prefix') for k in current.get('api_keys') or [])
        fresh = sorted(k.get('prefix') or '?' for k in body['keys']
                       if k.get('prefix') not in known)
        if not fresh:
            return False
        # Still ambiguous for the caller: a secret was issued that nobody holds, so the rotation
        # role keeps its journal entry and the next run rekeys again and delivers.
        raise AmbiguousWriteError(
            '%s. The rekey did happen (new key with public prefix %s) but its answer, the only '
            'copy of the key, was lost; %s. Run again with rotate: always to issue a key you can '
            'use' % (exc, ', '.join(fresh), self._previous_key_fate(current, body)))

    def retire(self, previous):
        """Nothing to do: the rekey already set when the previous key stops (never delete the
        account, which holds the new key too)."""

    def delete(self, current):
        self.client.delete(ACCOUNTS + (current['id'],))

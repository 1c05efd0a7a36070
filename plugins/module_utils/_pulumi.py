# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""Pulumi Cloud access tokens: personal, organization and team.

Pulumi has no read-one and no update endpoint: a token is found by listing (``filter=all``, so
expired tokens count) and its expiry is fixed at creation. Organization and team token names
are reserved forever, even after deletion, so a rotated token cannot take its predecessor's
name: the n-th generation of a token named ``ci`` is called ``ci--n`` (the first is plain
``ci``), and lookups match the name and every generation of it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import re

from ansible_collections.tokenops.tokens.plugins.module_utils._client import ApiError
from ansible_collections.tokenops.tokens.plugins.module_utils._generations import (
    GenerationRotation, check_base, generation_keys, generation_name, generation_of, newest,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._lifetime import read_cap
from ansible_collections.tokenops.tokens.plugins.module_utils._module import (
    management_argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._paging import iter_continuation
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    InputError, epoch_time, expiry_as_asked, from_epoch, isoformat, parse_optional_timestamp,
    platform_time, requested_expiry,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._token_state import (
    TokenAdapter, listed_id,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._verification import IdentityUnknown

TWO_YEARS = 2 * 365 * 86400
NAME_MAX = 40
_NAME = re.compile(r'^[A-Za-z0-9_-]+$')
#: attempts at a free generation name (a 409 creates nothing, so each is safe to follow): one
#: by one for the first few, then in growing steps, so a name with a long history of deleted
#: generations is passed in a few requests
NAME_ATTEMPTS = 24
STEPS_ONE_BY_ONE = 4
#: options that exclude each other (expires_in/expires_at are added by build_module)
MUTUALLY_EXCLUSIVE = []


def argument_spec():
    """The options of ``pulumi_token``; the rotation role validates its items with them too."""
    spec = management_argument_spec()
    spec.update(
        kind=dict(type='str', default='personal', choices=['personal', 'organization', 'team']),
        organization=dict(type='str'),
        team=dict(type='str'),
        description=dict(type='str'),
        name=dict(type='str'),
        admin=dict(type='bool'),
        role_id=dict(type='str'),
        token_id=dict(type='str'),
        allow_self_rotation=dict(type='bool', default=False),
    )
    return spec


def info_argument_spec():
    """The options of ``pulumi_token_info`` beyond the shared ``_info`` ones: ``kind``,
    ``organization`` and ``team`` choose the listing (``scope_from_params``), the others filter it."""
    return dict(
        kind=dict(type='str', default='personal', choices=['personal', 'organization', 'team']),
        organization=dict(type='str'),
        team=dict(type='str'),
        description=dict(type='str'),
        name=dict(type='str'),
    )


def token_metadata(raw):
    """The public, snake_case metadata of a listed token."""
    return dict(
        id=raw.get('id'),
        name=raw.get('name') or None,
        description=raw.get('description'),
        type=raw.get('type'),
        admin=bool(raw.get('admin')),
        created_by=raw.get('createdBy'),
        role=raw.get('role'),
        role_id=(raw.get('role') or {}).get('id') or None,
        created_at=platform_time(raw.get('created')),
        expires_at=epoch_time(raw.get('expires')),
        last_used_at=epoch_time(raw.get('lastUsed')),
    )


def expiry_cap(client, organization):
    """The organization's ``LifetimeCap``: ``maxAccessTokenExpiryDays`` (0 or absent: none)."""
    def read():
        body = client.get(('api', 'orgs', organization, 'metadata'))
        limit = body.get('maxAccessTokenExpiryDays') if isinstance(body, dict) else None
        return int(limit) * 86400 if isinstance(limit, int) and limit > 0 else None
    return read_cap(client, ('pulumi', organization), 'the access token expiry policy of '
                    'organization %s (maxAccessTokenExpiryDays)' % organization, read)


def listed_description(raw):
    """Index key of a listed personal token (``TokenAdapter.listing_index``)."""
    return (raw.get('description'),)


def listed_name_generations(raw):
    """Index keys of a listed organization or team token: its name's identities."""
    return generation_keys(raw.get('name'))


class PulumiScope:
    """Where a kind of token lives: its list/create path and its delete path."""

    def __init__(self, kind, organization=None, team=None):
        self.kind = kind
        if kind == 'personal':
            self.path = ('api', 'user', 'tokens')
        elif kind == 'organization':
            self.path = ('api', 'orgs', organization, 'tokens')
        else:
            self.path = ('api', 'orgs', organization, 'teams', team, 'tokens')

    def list(self, client, newest_first=False):
        params = {'filter': 'all'}
        if newest_first:
            params.update(sortBy='created', sortDirection='desc')
        return iter_continuation(client, self.path, params)

    def token_path(self, token_id):
        return self.path + (token_id,)


def scope_from_params(params):
    """The scope the options describe, after checking the options each kind needs."""
    kind = params.get('kind') or 'personal'
    if kind in ('organization', 'team') and not params.get('organization'):
        raise InputError('organization: required when kind is %s' % kind)
    if kind == 'team' and not params.get('team'):
        raise InputError('team: required when kind is team')
    if kind == 'personal' and params.get('team'):
        raise InputError('team: only used when kind is team')
    return PulumiScope(kind, params.get('organization'), params.get('team'))


class PulumiTokenAdapter(GenerationRotation, TokenAdapter):
    rotation_effect = ('overlapping: the new token is created first, then the previous one is '
                       'deleted, so the previous secret works until the new one exists')
    overlaps = True
    verify_path = ('api', 'user')

    def __init__(self, client, params, now=None):
        super(PulumiTokenAdapter, self).__init__(client, params, now)
        self.scope = scope_from_params(params)
        self.kind = self.scope.kind
        self.expiry = None
        self.leftovers = []
        self.matched_ids = set()

    # -- checks before any request ------------------------------------------------------------
    def validate(self):
        params = self.params
        self.expiry = requested_expiry(params, self.now, max_ahead=TWO_YEARS)
        if self.kind == 'personal':
            if params.get('name'):
                raise InputError('name: personal tokens have no name; identify them by '
                                 'description or token_id')
            if params.get('admin'):
                raise InputError('admin: only organization tokens can be admin tokens')
            if params.get('role_id') is not None:
                raise InputError('role_id: only organization tokens have a role of their own')
            if params.get('description') is None and not params.get('token_id'):
                raise InputError('description: required for a personal token (or give '
                                 'token_id)')
            return
        name = params.get('name')
        if not name and not params.get('token_id'):
            raise InputError('name: required for %s tokens (or give token_id)' % self.kind)
        if params.get('admin') and self.kind != 'organization':
            raise InputError('admin: only organization tokens can be admin tokens')
        if params.get('role_id') is not None and self.kind != 'organization':
            raise InputError('role_id: only organization tokens have a role of their own; a team '
                             'token acts with the roles of its team')
        if params.get('role_id') is not None and not params['role_id'].strip():
            raise InputError('role_id: must not be empty; leave it out for the organization\'s '
                             'default member role')
        if name:
            if not _NAME.match(name):
                raise InputError('name: may contain only letters, digits, "-" and "_"; got %r'
                                 % name)
            check_base('name', name)
            if len(name) > NAME_MAX - 4:
                raise InputError('name: at most %d characters, so that rotated generations '
                                 '(%s--N) fit the platform\'s %d' % (NAME_MAX - 4, name[:8],
                                                                     NAME_MAX))

    # -- reading --------------------------------------------------------------------------------
    def scope_key(self):
        return self.scope.path

    def list_scope(self):
        return list(self.scope.list(self.client))

    def _matches(self, listing=None):
        params = self.params
        found = []
        for raw in self.scope.list(self.client) if listing is None else listing:
            if raw.get('type') == 'refresh':
                continue    # agent refresh tokens are never managed here
            if params.get('token_id'):
                if raw.get('id') == params['token_id']:
                    found.append(raw)
            elif self.kind == 'personal':
                if raw.get('description') == params['description']:
                    found.append(raw)
            elif generation_of(raw.get('name'), params['name']) is not None:
                found.append(raw)
        return found

    def listing_index(self):
        if self.params.get('token_id'):
            return listed_id, self.params['token_id']
        if self.kind == 'personal':
            return listed_description, self.params['description']
        return listed_name_generations, self.params['name']

    def find_in(self, listing):
        matches = self._matches(listing)
        self.matched_ids = set(m['id'] for m in matches)
        if not matches:
            return None
        if self.kind == 'personal' and not self.params.get('token_id'):
            return self._single_live(matches)
        base = self.params.get('name') or matches[0].get('name')
        latest, older = newest(matches, base, lambda raw: raw.get('name'))
        self.leftovers = [m['id'] for m in older]
        return token_metadata(latest)

    def _single_live(self, matches):
        live = [m for m in matches if not self._expired(m)]
        if len(live) > 1:
            raise InputError('description: %d live personal tokens have the description %r '
                             '(ids %s); give token_id to pick one'
                             % (len(live), self.params['description'],
                                ', '.join(sorted(m['id'] for m in live))))
        if live:
            return token_metadata(live[0])
        return token_metadata(max(matches, key=lambda m: m.get('created') or ''))

    def _expired(self, raw):
        expires = from_epoch(raw.get('expires'))
        return expires is not None and expires <= self.now

    def warnings(self, current):
        messages = []
        if self.leftovers:
            messages.append('older generations of token %s still exist (ids %s): an earlier '
                            'rotation did not finish; they are deleted on the next rotation'
                            % (current['name'], ', '.join(sorted(self.leftovers))))
        expires = parse_optional_timestamp(current.get('expires_at'))
        if expires is not None and expires <= self.now:
            messages.append('token %s expired at %s; use rotate: due or always to replace it'
                            % (current['id'], current['expires_at']))
        for option, field in (('admin', 'admin'), ('role_id', 'role_id')):
            wanted = self.params.get(option)
            if wanted is not None and wanted != current.get(field):
                messages.append('%s: token %s has %s %s, and Pulumi cannot change it; a rotated '
                                'token keeps its predecessor\'s (delete the token and create it '
                                'again to change it)' % (option, current['id'], field,
                                                         current.get(field)))
        if self.expiry is not None and not expiry_as_asked(
                self.params, parse_optional_timestamp(current.get('created_at')),
                parse_optional_timestamp(current.get('expires_at')), self.now):
            messages.append('expires_in/expires_at differ from the existing token\'s expiry (%s); '
                            'Pulumi cannot change an expiry, so it applies only to the next '
                            'token issued (use rotate to issue one)'
                            % (current.get('expires_at') or 'never'))
        return messages

    def planned(self, current=None, changes=None):
        if current is not None:
            token = dict(current)
            token.update(id=None, created_at=isoformat(self.now),
                         expires_at=isoformat(self._expiry_for(current)), last_used_at=None)
            token.update(self.successor_power(current))
            if self.kind != 'personal':
                token['name'] = self._name_for(self._generation_number(current) + 1)
            return token
        return dict(id=None, name=self._name_for(1) if self.kind != 'personal' else None,
                    description=self.params.get('description'), type=self._type(),
                    admin=bool(self.params.get('admin')), role_id=self.params.get('role_id'),
                    created_at=isoformat(self.now), expires_at=isoformat(self._expiry_for(None)),
                    last_used_at=None)

    def _type(self):
        return {'personal': 'personal', 'organization': 'organization', 'team': 'team'}[self.kind]

    def _generation_number(self, token):
        return generation_of(token.get('name'), self.params.get('name') or token.get('name')) or 1

    def _name_for(self, generation):
        return generation_name(self.params.get('name'), generation)

    def _expiry_for(self, previous):
        """Requested expiry, else the previous token's lifetime again, else none; within the
        organization's cap (a requested one beyond it fails, a chosen one is cut to it)."""
        cap = self.lifetime_cap()
        option = 'expires_at' if self.params.get('expires_at') is not None else 'expires_in'
        if self.expiry is not None:
            return cap.requested(self.now, self.expiry, option) if cap else self.expiry
        expiry, what = None, 'no expiry asked for, a new token never expires'
        if previous is not None:
            what = 'the lifetime of token %s, copied to its successor,' % previous.get('id')
            created = parse_optional_timestamp(previous.get('created_at'))
            expires = parse_optional_timestamp(previous.get('expires_at'))
            if created is not None and expires is not None:
                expiry = self.now + min(expires - created,
                                        datetime.timedelta(seconds=TWO_YEARS))
        if cap is None:
            return expiry
        expiry, warning = cap.computed(self.now, expiry, what)
        if warning and warning not in self.notes:
            self.notes.append(warning)
        return expiry

    def lifetime_cap(self):
        """The expiry cap of the organization the token is used against: its own (organization
        and team tokens), or for a personal token the ``organization`` option's."""
        organization = self.params.get('organization')
        if not organization or self.client is None:
            return None
        return expiry_cap(self.client, organization)

    # -- power ----------------------------------------------------------------------------------
    def power_of(self, token):
        power = dict(description=token.get('description') or '')
        if self.kind != 'personal':
            power.update(admin=bool(token.get('admin')), role_id=token.get('role_id') or None)
        return power

    def successor_power(self, current):
        """The predecessor's admin flag and role; its description unless one is given."""
        power = self.power_of(current)
        if self.params.get('description') is not None:
            power['description'] = self.params['description']
        return power

    def check_path(self):
        """Where a new secret is checked: ``/api/user`` for a personal token (it spans
        organizations). An organization or team token is checked against its organization with
        "List teams" (``GET /api/orgs/{org}/teams``, allowed to team, organization and admin
        tokens by the permission table of pulumi/docs content/docs/pulumi-cloud/access-management/
        access-tokens.md): the organization's access token expiry policy guards every request
        against the organization and not ``/api/user`` (the 2026-07-27 blog "Enforce Access
        Token Expiry Policies"), so a successor over the cap is refused there (403), as its
        consumers will find it, and not let through."""
        if self.kind == 'personal':
            return self.verify_path
        return ('api', 'orgs', self.params['organization'], 'teams')

    def verify(self, secret):
        return self.client.credential_works(self.check_path(), secret)

    def read_back(self, token):
        """The new token from a fresh listing (Pulumi has no read of one token), newest first
        (``sortBy``/``sortDirection``, pulumi-cloud-sdk's list parameters), so that it is on the
        first page; a server that ignores the order is read on to the end."""
        for raw in self.scope.list(self.client, newest_first=True):
            if raw.get('id') == token.get('id'):
                return token_metadata(raw)
        return {}

    def _caller_info(self):
        """``tokenInfo`` of ``/api/user`` for an organization or team token in api_token (its
        name, organization and team), None for a user's token; remembered per client once
        conclusive (``ask_identity``)."""
        return self.ask_identity('pulumi_token_info',
                                 lambda: self.client.get(self.verify_path).get('tokenInfo'))

    def check_rotation(self, current):
        """Before any write: a rotation Pulumi forbids the credential, an expiry beyond the
        organization's cap, then self lock-out."""
        self._refuse_forbidden(current, 'rotate')
        self._expiry_for(current)
        super(PulumiTokenAdapter, self).check_rotation(current)

    def check_delete(self, current):
        self._refuse_forbidden(current, 'delete')
        super(PulumiTokenAdapter, self).check_delete(current)

    def _refuse_forbidden(self, current, verb):
        """``InputError`` when Pulumi forbids the credential to create or delete this kind."""
        if self.kind == 'personal':
            return
        try:
            info = self._caller_info()
        except IdentityUnknown:
            return      # Pulumi itself refuses a forbidden create, before it writes anything
        option = 'rotate' if verb == 'rotate' else 'state'
        if info and self.kind == 'organization' and not info.get('team'):
            raise InputError(
                '%s: api_token is the organization token %r, and Pulumi lets no organization '
                'token create or delete organization tokens, admin ones included (an admin '
                'organization token may do what an organization admin does "except for the '
                'creation or deletion of other organization tokens": pulumi.com/docs/'
                'administration/access-identity/access-tokens); %s token %s with an '
                'organization admin\'s personal token' % (option, info.get('name'), verb,
                                                          current['id']))
        if info and self.kind == 'team' and info.get('team'):
            raise InputError(
                '%s: api_token is the team token %r, and Pulumi lets team tokens create or '
                'delete no tokens (only organization admins, team admins and admin organization '
                'tokens may); %s token %s with one of those'
                % (option, info.get('name'), verb, current['id']))

    def caller_may_be(self, current):
        """Organization and team tokens: ``tokenInfo`` of ``/api/user`` names the token in
        api_token. A personal token cannot be told apart from the user's others (None)."""
        if self.kind == 'personal':
            return None
        info = self._caller_info()
        if not info or info.get('organization') != self.params.get('organization') \
                or (info.get('team') or None) != (self.params.get('team') or None):
            return False
        return info.get('name') == current.get('name')

    # -- writing --------------------------------------------------------------------------------
    def create(self, previous=None):
        """A new token as the options ask, or (``previous`` given) a successor with the power
        of ``previous`` (``successor_power``)."""
        expiry = self._expiry_for(previous)
        if previous is not None:
            power = self.successor_power(previous)
        else:
            power = dict(description=self.params.get('description') or '',
                         admin=bool(self.params.get('admin')),
                         role_id=self.params.get('role_id') or None)
        body = {'description': power['description'],
                'expires': int((expiry - datetime.datetime(1970, 1, 1, tzinfo=expiry.tzinfo))
                               .total_seconds()) if expiry else 0}
        if self.kind == 'organization':
            body['admin'] = power['admin']
            if power['role_id']:
                body['roleID'] = power['role_id']
        if self.kind == 'personal':
            return self._post(body, expiry)
        generation = self._generation_number(previous) + 1 if previous else 1
        for attempt in range(NAME_ATTEMPTS):
            body['name'] = self._name_for(generation)
            try:
                return self._post(body, expiry)
            except ApiError as exc:
                # 409: the name was used before (names stay reserved after deletion, so a
                # first create after state: absent meets it too) and nothing was created: a
                # later generation's name is safe to try.
                if exc.status != 409:
                    raise
            generation += 1 if attempt < STEPS_ONE_BY_ONE else 2 ** (attempt - STEPS_ONE_BY_ONE)
        raise InputError('name: %d generation names of %r up to %s were all taken (Pulumi keeps '
                         'organization and team token names reserved after deletion); choose '
                         'another name' % (NAME_ATTEMPTS, self.params.get('name'), body['name']))

    def _post(self, body, expiry):
        answer = self.client.post(self.scope.path, body)
        token = dict(id=answer.get('id'), name=body.get('name'),
                     description=body['description'], type=self._type(),
                     admin=bool(body.get('admin')), created_by=None, role=None,
                     role_id=body.get('roleID'),
                     created_at=isoformat(self.now), expires_at=isoformat(expiry),
                     last_used_at=None)
        secret = self.client.remember_secret(answer.get('tokenValue'),
                                             created=token if token['id'] else None)
        if not secret:
            raise ApiError('the platform created token %s but returned no tokenValue'
                           % answer.get('id'))
        return token, secret

    def _delete(self, token_id):
        """Delete one token; one that is already gone counts as deleted.

        Pulumi answers a team-token delete of an id that no longer exists with 400 ("the
        requested token is not a team token"), not 404: it is taken as gone only when a fresh
        listing no longer shows the id.
        """
        try:
            self.client.delete(self.scope.token_path(token_id))
        except ApiError as exc:
            if exc.status != 400 or self.kind != 'team':
                raise
            if any(raw.get('id') == token_id for raw in self.scope.list(self.client)):
                raise

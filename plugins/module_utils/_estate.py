# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The token estate: every token a credential can see, as one record per token, and what its
times say about it (expired, expiring, never expires, unused, never used).

The listings are the ``_info`` modules' own (their argument specs, clients and listing
functions); the record is the ``tokenops_token`` variable of the inventory plugin
``tokenops.tokens.tokens`` and the shape the rotation role's hygiene and metrics read. A record
never holds a secret: it is built from token metadata, which never does.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import re

from ansible_collections.tokenops.tokens.plugins.module_utils import (
    _cloudflare, _cloudflare_options, _cloudtruth, _pactflow, _pulumi, _tfe,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._generations import (
    base_of, generation_of,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._module import (
    connection_argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    UTC, parse_optional_timestamp,
)

#: each platform's ``_info`` options that choose what is listed (its other options filter)
SCOPE_OPTIONS = {
    'pactflow': (),
    'tfe': ('organization', 'team'),
    'cloudflare': ('account_id',),
    'pulumi': ('kind', 'organization', 'team'),
    'cloudtruth': (),
}
INFO_SPECS = {
    'pactflow': _pactflow.info_argument_spec,
    'tfe': _tfe.info_options,
    'cloudflare': _cloudflare.info_argument_spec,
    'pulumi': _pulumi.info_argument_spec,
    'cloudtruth': _cloudtruth.info_argument_spec,
}
PLATFORMS = tuple(sorted(SCOPE_OPTIONS))
#: PactFlow says nothing of a token's creation, expiry or use (api/pactflow.md, section 3): its
#: tokens are in no group that one of those times decides
TIMELESS = frozenset(['pactflow'])
#: the fields of a record (``tokenops_token`` adds ``DERIVED``)
FIELDS = ('platform', 'api_url', 'scope', 'kind', 'id', 'name', 'description', 'status',
          'owner', 'generation', 'created_at', 'issued_at', 'expires_at', 'last_used_at')
#: what ``assess`` adds (``status`` where the platform gives none: ``active`` or ``expired``)
DERIVED = ('status', 'age_days', 'expires_in_days', 'never_expires')
#: what the times say about a token, in the order groups and reports show them
FLAGS = ('expired', 'expiring', 'never_expires', 'unused', 'never_used')
DAY = 86400


def connection_spec(platform):
    """The options of one connection: the ``_info`` module's connection options (with their
    environment fallbacks) and those of its options that choose the scope. A listing verifies
    no secret, so ``max_verify_wait`` is not one of them."""
    spec = connection_argument_spec(platform)
    spec.pop('max_verify_wait', None)
    info = INFO_SPECS[platform]()
    spec.update((name, dict(info[name])) for name in SCOPE_OPTIONS[platform])
    return spec


def check_scope(platform, params):
    """What the argument spec cannot check of the scope options; raises ``InputError`` before
    any request."""
    if platform == 'tfe' and params.get('team'):
        _tfe.check_team(params['team'])
    elif platform == 'cloudflare':
        _cloudflare_options.check_account_id(params.get('account_id') or None)
    elif platform == 'pulumi':
        _pulumi.scope_from_params(params)


def list_tokens(platform, client, params):
    """The metadata of every token of the scope ``params`` choose, as the ``_info`` module
    lists it (every page, no filter). Never a secret."""
    if platform == 'pactflow':
        return [_pactflow.token_metadata(raw) for raw in _pactflow.list_tokens(client)]
    if platform == 'tfe':
        return list(_tfe.team_tokens(client, dict(params, description=None)))
    if platform == 'cloudflare':
        account_id = params.get('account_id') or None
        return [_cloudflare.token_metadata(raw, account_id)
                for raw in _cloudflare.list_tokens(client, account_id)]
    if platform == 'pulumi':
        return [_pulumi.token_metadata(raw)
                for raw in _pulumi.scope_from_params(params).list(client)]
    return [_cloudtruth.account_metadata(raw) for raw in _cloudtruth.list_accounts(client)]


def metadata_of(platform, raw, params):
    """The metadata of one token as a scope's raw listing (``TokenAdapter.list_scope``) holds it."""
    if platform == 'pactflow':
        return _pactflow.token_metadata(raw)
    if platform == 'tfe':
        return _tfe.token_metadata(raw)
    if platform == 'cloudflare':
        return _cloudflare.token_metadata(raw, params.get('account_id') or None)
    if platform == 'pulumi':
        return _pulumi.token_metadata(raw)
    return _cloudtruth.account_metadata(raw)


def scope_of(platform, params, token):
    """Where a token lives within its platform, as text: ``user`` (the credential's own
    tokens), ``account/<id>`` (Cloudflare), ``<organization>``, ``<organization>/<team>`` (TFE:
    the team's id; Pulumi: its name), ``organization`` (CloudTruth: the key's organization)."""
    if platform == 'tfe':
        # a token not found yet has no team id: its item's team (name or id) stands in
        return '%s/%s' % (params.get('organization') or '',
                          token.get('team_id') or params.get('team') or '')
    if platform == 'cloudflare':
        account_id = params.get('account_id') or token.get('account_id')
        return 'account/%s' % account_id if account_id else 'user'
    if platform == 'pulumi':
        kind = params.get('kind') or 'personal'
        if kind == 'personal':
            return 'user'
        if kind == 'organization':
            return params.get('organization')
        return '%s/%s' % (params.get('organization'), params.get('team'))
    if platform == 'cloudtruth':
        return 'organization'
    return 'user'


def _generation(identity):
    return generation_of(identity, base_of(identity)) or 1 if identity else 1


def record(platform, params, token, api_url):
    """The estate's record of one token's metadata (``list_tokens``, ``metadata_of``)."""
    name, kind, owner, status = token.get('name'), None, None, token.get('status')
    identity = None
    issued_at = token.get('created_at')
    if platform == 'pactflow':
        name, kind = token.get('type'), token.get('type') or 'unrecognised'
    elif platform == 'tfe':
        kind = 'legacy' if token.get('legacy') else 'described'
        name = identity = token.get('description')
        owner = (token.get('created_by') or {}).get('id')
    elif platform == 'cloudflare':
        kind = 'account' if token.get('account_id') else 'user'
        identity = name
        issued_at = token.get('modified_at') or token.get('created_at')
    elif platform == 'pulumi':
        kind, owner = token.get('type'), token.get('created_by')
        identity = name if kind in ('organization', 'team') else None
    else:
        kind, owner = 'service_account', token.get('owner')
        issued_at = token.get('key_created_at') or token.get('created_at')
        if token.get('live_keys') == 0:
            status = 'revoked'      # no key that is neither revoked nor expired
    return dict(
        platform=platform, api_url=api_url, scope=scope_of(platform, params, token), kind=kind,
        id=token.get('id'), name=name, description=token.get('description'),
        status=status, owner=owner, generation=_generation(identity),
        created_at=token.get('created_at'), issued_at=issued_at,
        expires_at=token.get('expires_at'), last_used_at=token.get('last_used_at'))


def moment_of(text):
    """``parse_optional_timestamp`` with a fast path for the ISO 8601 shape the metadata
    holds (``2026-11-22T10:15:30Z``): a run's hygiene reads four times of every listed token."""
    if text and text[-1:] == 'Z' and len(text) == 20:
        try:
            return datetime.datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
        except ValueError:
            pass
    return parse_optional_timestamp(text)


def _whole_days(delta):
    return int(delta.total_seconds() // DAY)


def assess(rec, now, expiring_within, unused_for):
    """``(derived, flags)``: ``age_days`` (of the current secret), ``expires_in_days`` and
    ``never_expires`` (None where the platform does not say), ``status``, and the set of ``FLAGS``
    that hold. ``expiring_within`` and ``unused_for`` are seconds. A token never used has been
    idle since its current secret was issued."""
    timeless = rec['platform'] in TIMELESS
    issued = moment_of(rec.get('issued_at'))
    created = moment_of(rec.get('created_at'))
    expires = moment_of(rec.get('expires_at'))
    used = moment_of(rec.get('last_used_at'))
    derived = dict(age_days=None if issued is None else _whole_days(now - issued),
                   expires_in_days=None if expires is None else _whole_days(expires - now),
                   never_expires=None if timeless else expires is None)
    flags = set()
    if rec.get('status') == 'expired' or (expires is not None and expires <= now):
        flags.add('expired')
    elif expires is not None and expires - now <= datetime.timedelta(seconds=expiring_within):
        flags.add('expiring')
    derived['status'] = rec.get('status') or ('expired' if 'expired' in flags else 'active')
    if derived['never_expires']:
        flags.add('never_expires')
    if not timeless:
        idle_since = used or issued or created
        if used is None:
            flags.add('never_used')
        if idle_since is not None and now - idle_since >= datetime.timedelta(seconds=unused_for):
            flags.add('unused')
    return derived, flags


def token_variable(rec, derived):
    """The ``tokenops_token`` variable: the record and its derived fields."""
    variable = dict((key, rec.get(key)) for key in FIELDS)
    variable.update(derived)
    return variable


_UNSAFE = re.compile(r'[^A-Za-z0-9_.-]+')


def _slug(text, limit=60):
    return _UNSAFE.sub('_', text or '').strip('_.-')[:limit].rstrip('_.-')


def host_name(rec):
    """A stable, readable inventory name: ``<platform>_<name>_<id>`` (the name, description or
    kind, with anything but letters, digits, ``_``, ``.`` and ``-`` replaced by ``_``). The id
    keeps it unique and stable; it changes only when the token's name or id does."""
    words = _slug(rec.get('name') or rec.get('description') or rec.get('kind'))
    parts = [rec['platform']] + ([words] if words else []) + [_slug(rec.get('id'), 80) or 'no-id']
    return '_'.join(parts)

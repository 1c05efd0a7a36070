# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The options of ``cloudflare_token`` checked before any request is sent, and the permission
groups a policy names resolved to the ids of Cloudflare's catalogue.

Every check raises ``InputError`` naming the option. The adapter (``_cloudflare``) reads the
catalogue; which of its groups a name means is decided here.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import re

from ansible_collections.tokenops.tokens.plugins.module_utils._cloudflare_power import EXPOSED
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    InputError, is_due, isoformat, parse_duration, parse_timestamp, requested_expiry,
)

NAME_MAX = 120
HEX32 = re.compile(r'^[0-9a-fA-F]{32}$')

USER_SCOPE = 'com.cloudflare.api.user'
ACCOUNT_SCOPE = 'com.cloudflare.api.account'
ZONE_SCOPE = 'com.cloudflare.api.account.zone'
R2_SCOPE = 'com.cloudflare.edge.r2.bucket'
#: resource-key prefixes and the permission-group scope they grant in (longest prefix first)
RESOURCE_SCOPES = ((ZONE_SCOPE, ZONE_SCOPE), (ACCOUNT_SCOPE, ACCOUNT_SCOPE),
                   (USER_SCOPE, USER_SCOPE), (R2_SCOPE, R2_SCOPE))


def check_account_id(account_id):
    if account_id is not None and not HEX32.match(account_id):
        raise InputError('account_id: expected the 32-character hexadecimal account id, got %r'
                         % (account_id,))


def check_options(params, overlaps, now):
    """Check the options of ``cloudflare_token`` (``overlaps``: ``rotation: replace``); return
    ``(not_before, expiry)`` as datetimes, each None when not asked for."""
    check_account_id(params.get('account_id') or None)
    token_id, name = params.get('token_id'), params.get('name')
    if token_id is not None and not HEX32.match(token_id):
        raise InputError('token_id: expected a 32-character hexadecimal token id, got %r'
                         % (token_id,))
    if name is not None:
        if not name.strip():
            raise InputError('name: must not be empty')
        if len(name) > NAME_MAX:
            raise InputError('name: at most %d characters (Cloudflare\'s limit), got %d'
                             % (NAME_MAX, len(name)))
    if not name and not token_id:
        raise InputError('name: required to find or create the token (or give token_id)')
    if token_id and overlaps:
        raise InputError('rotation: replace gives the token a new id, so token_id would no '
                         'longer find it; identify the token by name, or use rotation: roll')
    for index, item in enumerate(params.get('policies') or []):
        where = 'policies[%d]' % index
        groups = item.get('permission_groups') or []
        if not groups or not all(isinstance(g, str) and g.strip() for g in groups):
            raise InputError('%s.permission_groups: give at least one permission group, by '
                             'id or by name' % where)
        _check_resources(item.get('resources'), where + '.resources')
    if params.get('policies') is not None and not params['policies']:
        raise InputError('policies: give at least one policy, or leave policies out to keep '
                         'the token\'s own')
    _check_condition(params.get('condition'))
    not_before = None
    if params.get('not_before') is not None:
        not_before = parse_timestamp(params['not_before'], 'not_before')
    expiry = requested_expiry(params, now)
    if expiry is not None and not_before is not None and expiry <= not_before:
        option = 'expires_at' if params.get('expires_at') is not None else 'expires_in'
        raise InputError('%s: the token would expire (%s) before it becomes valid '
                         '(not_before %s)' % (option, isoformat(expiry), isoformat(not_before)))
    return not_before, expiry


def check_rotation(params, current, expiry, now):
    """Refuse to rotate ``current`` (metadata) where the new secret could not work, or where
    every run would rotate again; ``expiry``: the one the token has once rotated."""
    if current.get('status') == EXPOSED:
        raise InputError('rotate: token %s was revoked by Cloudflare because its secret was '
                         'exposed, and a roll cannot revive it; delete it (state: absent) and '
                         'create a new one' % current['id'])
    if expiry is not None and expiry <= now:
        raise InputError('expires_in: token %s expired at %s and a roll keeps the expiry, so '
                         'the new secret would not work; give expires_in or expires_at to '
                         'extend it' % (current['id'], current.get('expires_at')))
    renew_before = params.get('renew_before')
    if params.get('rotate') == 'due' and renew_before is not None and expiry is not None:
        due, dummy = is_due(None, expiry, now, None, parse_duration(renew_before, 'renew_before'))
        if due:
            raise InputError('expires_in: token %s expires at %s, within renew_before, and a '
                             'roll keeps the expiry, so every run would roll again; give '
                             'expires_in or expires_at to move it' % (current['id'],
                                                                      isoformat(expiry)))


def _check_condition(condition):
    if condition is None or condition.get('request_ip') is None:
        return
    rule = condition['request_ip']
    _check_cidrs(rule.get('in'), 'condition.request_ip.in')
    _check_cidrs(rule.get('not_in'), 'condition.request_ip.not_in')
    if not rule.get('in') and not rule.get('not_in'):
        raise InputError('condition: request_ip without any address in "in" or "not_in" '
                         'would lock the token out from everywhere; give at least one CIDR '
                         'range, or condition: {} for no IP condition')


def _check_cidrs(values, where):
    for value in values or []:
        try:
            ipaddress.ip_network((value or '').strip(), strict=False)
        except ValueError:
            raise InputError('%s: %r is not an IP address or CIDR range (such as 192.0.2.0/24 '
                             'or 2001:db8::/32)' % (where, value))


def _check_resources(resources, where):
    if not isinstance(resources, dict) or not resources:
        raise InputError('%s: required, a non-empty mapping of resource keys to "*", such as '
                         '{"com.cloudflare.api.account.zone.*": "*"}' % where)
    for key, value in resources.items():
        if isinstance(value, dict):
            if not value or not all(isinstance(v, str) for v in value.values()):
                raise InputError('%s.%s: a nested mapping must map resource keys to strings'
                                 % (where, key))
        elif not isinstance(value, str):
            raise InputError('%s.%s: must be a string such as "*" or a mapping of resource '
                             'keys' % (where, key))


def resource_scopes(resources):
    """The permission-group scopes the resource keys of a policy grant in."""
    leaves = []
    for key, value in (resources or {}).items():
        leaves.extend(value if isinstance(value, dict) else [key])
    scopes = set()
    for leaf in leaves:
        for prefix, scope in RESOURCE_SCOPES:
            if leaf == prefix or leaf.startswith(prefix + '.'):
                scopes.add(scope)
                break
    return scopes


def resolve_policies(policies, catalogue, kind):
    """The ``policies`` option with every permission group as ``{id, name}``. ``catalogue()``
    returns the permission groups of the ``kind`` (``user`` or ``account``) of token, and is
    called only when a group is given by name."""
    resolved = []
    for index, item in enumerate(policies):
        scopes = resource_scopes(item['resources'])
        groups = [_resolve_group(value.strip(), scopes, catalogue, kind,
                                 'policies[%d].permission_groups' % index)
                  for value in item['permission_groups']]
        resolved.append(dict(effect=item.get('effect') or 'allow',
                             permission_groups=groups, resources=item['resources']))
    return resolved


def _resolve_group(value, scopes, catalogue, kind, where):
    """``{id, name}`` of a permission group given by id or name."""
    if HEX32.match(value):
        return dict(id=value.lower(), name=None)
    candidates = [g for g in catalogue() if g.get('name') == value]
    if not candidates:
        similar = sorted(set(g.get('name') for g in catalogue()
                             if (g.get('name') or '').lower() == value.lower()))
        hint = ' (did you mean %s?)' % ', '.join(repr(s) for s in similar) if similar else ''
        raise InputError('%s: no %s permission group is named %r%s; names are matched '
                         'exactly, or give the id' % (where, kind, value, hint))
    if len(candidates) > 1:
        narrowed = [g for g in candidates if set(g.get('scopes') or []) & scopes]
        if len(narrowed) == 1:
            candidates = narrowed
        else:
            raise InputError(
                '%s: %r names %d permission groups (%s) and the policy\'s resources do not '
                'tell which one is meant; give its id' % (
                    where, value, len(candidates),
                    ', '.join('%s at %s' % (g.get('id'), '/'.join(g.get('scopes') or []))
                              for g in candidates)))
    return dict(id=candidates[0].get('id'), name=candidates[0].get('name'))

# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""What a Cloudflare token may do, and where and when: its policies, IP condition, status and
dates, normalised so that equal compares equal.

``_cloudflare`` reads tokens off the wire into metadata; this module compares metadata: the
changes the user's options ask of a token, the power a successor must carry (``_power``), and
why a token cannot authenticate by design (disabled, ``not_before`` ahead).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import json

from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    isoformat, parse_optional_timestamp,
)

#: the statuses a user may set; a token in another (expired, revoked) keeps it
SETTABLE_STATUSES = ('active', 'disabled')
EXPOSED = 'revoked (exposed)'
#: statuses of a token that can never authenticate again, or not until someone enables it: a
#: namesake in one of them never hides a live token of the same name
DEAD_STATUSES = ('expired', EXPOSED, 'disabled')


def normal_cidr(value):
    """The canonical text of an address or CIDR range; unparsable text is kept as it is."""
    try:
        return str(ipaddress.ip_network(value.strip(), strict=False))
    except (ValueError, AttributeError):
        return value


def normal_condition(raw):
    """``{request_ip: {in: [...], not_in: [...]}}`` with sorted canonical CIDRs, or None.

    Reads the legacy ``request.ip`` key too; empty lists are dropped.
    """
    if not isinstance(raw, dict):
        return None
    rule = raw.get('request_ip')
    if rule is None:
        rule = raw.get('request.ip')
    if not isinstance(rule, dict):
        return None
    lists = {}
    for key in ('in', 'not_in'):
        values = sorted(set(normal_cidr(v) for v in rule.get(key) or []))
        if values:
            lists[key] = values
    return {'request_ip': lists} if lists else None


def _policy_key(item):
    """What makes two policies the same: effect, permission-group ids and resources."""
    return (item.get('effect') or 'allow',
            tuple(sorted(set(g.get('id') for g in item.get('permission_groups') or []))),
            json.dumps(item.get('resources') or {}, sort_keys=True))


def normal_policies(raw_policies, names=None):
    """Policies sorted by their key, without server-assigned ids; groups sorted by id.

    ``names`` maps permission-group ids to names for groups that come without one.
    """
    policies = []
    for raw in raw_policies or []:
        groups = []
        for group in sorted(raw.get('permission_groups') or [], key=lambda g: g.get('id') or ''):
            item = dict(id=group.get('id'),
                        name=group.get('name') or (names or {}).get(group.get('id')))
            meta = group.get('meta')
            if isinstance(meta, dict) and 'key' in meta and 'value' in meta:
                item['meta'] = dict(key=meta['key'], value=meta['value'])
            groups.append(item)
        policies.append(dict(effect=raw.get('effect') or 'allow', permission_groups=groups,
                             resources=raw.get('resources') or {}))
    return sorted(policies, key=_policy_key)


def policies_equal(left, right):
    """Policies compared as sets of (effect, permission-group ids, resources)."""
    return set(_policy_key(p) for p in left or []) == set(_policy_key(p) for p in right or [])


def desired_condition(params):
    """``(given, normalised condition)`` of the ``condition`` option: ``condition: {}`` asks for
    none."""
    condition = params.get('condition')
    if condition is None:
        return False, None
    rule = condition.get('request_ip')
    if rule is None:
        return True, None
    return True, normal_condition({'request_ip': rule})


def changes_asked(params, current, policies, expiry, not_before):
    """``{field: value}`` the options ask of ``current`` (metadata) that it lacks; ``policies``
    are the option's, resolved and normalised (None: not given), ``expiry`` and ``not_before``
    the requested datetimes."""
    changes = {}
    if params.get('name') and params['name'] != current.get('name'):
        changes['name'] = params['name']
    if policies is not None and not policies_equal(policies, current.get('policies')):
        changes['policies'] = policies
    given, condition = desired_condition(params)
    if given and condition != current.get('condition'):
        changes['condition'] = condition
    if params.get('expires_at') is not None and isoformat(expiry) != current.get('expires_at'):
        changes['expires_at'] = isoformat(expiry)
    if not_before is not None and isoformat(not_before) != current.get('not_before'):
        changes['not_before'] = isoformat(not_before)
    status = params.get('status')
    if status and current.get('status') in SETTABLE_STATUSES \
            and status != current.get('status'):
        changes['status'] = status
    return changes


def token_power(token):
    """Policies (effect, permission-group ids, resources), IP condition, whether it is
    disabled, and the dates between which it works (``TokenAdapter.power_of``)."""
    policies = token.get('policies') or []
    return dict(policies=sorted('%s %s on %s' % _policy_key(p) for p in policies),
                condition=normal_condition(token.get('condition')),
                status='disabled' if token.get('status') == 'disabled' else 'active',
                not_before=token.get('not_before'), expires_at=token.get('expires_at'))


def expired(expires_at, now):
    """Whether ``expires_at`` (ISO text or None) has passed."""
    moment = parse_optional_timestamp(expires_at)
    return moment is not None and moment <= now


def cannot_authenticate(status, expires_at, now):
    """Expired, revoked as exposed, or disabled (``TokenAdapter.cannot_authenticate``)."""
    return status in DEAD_STATUSES or expired(expires_at, now)


def unmet_wishes(params, current, expiry, now):
    """What the options ask of ``current`` (metadata) that this run will not do, as sentences
    (``TokenAdapter.warnings``); ``expiry``: the requested one."""
    messages = []
    status = current.get('status')
    if status == EXPOSED:
        messages.append('token %s was revoked by Cloudflare because its secret was exposed; '
                        'it cannot work again: delete it (state: absent) and create a new one'
                        % current['id'])
    elif status == 'expired' or expired(current.get('expires_at'), now):
        messages.append('token %s expired at %s; give expires_in or expires_at with rotate '
                        'to extend it and roll a new secret'
                        % (current['id'], current.get('expires_at')))
    if params.get('status') and status not in SETTABLE_STATUSES:
        messages.append('status: token %s is %s, which cannot be changed to %s'
                        % (current['id'], status, params['status']))
    if params.get('expires_in') is not None:
        expires = parse_optional_timestamp(current.get('expires_at'))
        if expires is None or expires > expiry:
            messages.append('expires_in applies when a secret is issued: token %s expires %s, '
                            'later than expires_in allows; it moves at the next rotation'
                            % (current['id'], 'at %s' % current['expires_at'] if expires
                               else 'never'))
    return messages


def unusable_by_design(token, now):
    """Why ``token`` (metadata) cannot authenticate now wherever it is used, or None."""
    if token.get('status') == 'disabled':
        return ('token %s is disabled: Cloudflare refuses a disabled token until it is enabled '
                '(status: active)' % token.get('id'))
    not_before = parse_optional_timestamp(token.get('not_before'))
    if not_before is not None and not_before > now:
        return ('token %s is not valid before %s (not_before): Cloudflare refuses it until then'
                % (token.get('id'), token.get('not_before')))
    return None


def condition_words(token):
    """``(request_ip in ...; not_in ...)`` of the IP condition of ``token`` (metadata)."""
    rule = (token.get('condition') or {}).get('request_ip') or {}
    parts = ['%s %s' % (key, ', '.join(rule[key])) for key in ('in', 'not_in') if rule.get(key)]
    return '(request_ip %s)' % '; '.join(parts) if parts else '(none known)'

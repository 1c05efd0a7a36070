# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The token estate's records: what a token's times say, and its inventory name."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

import pytest

from ansible_collections.tokenops.tokens.plugins.module_utils import _estate as estate

NOW = datetime.datetime(2026, 12, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
WINDOW, IDLE = 30 * 86400, 90 * 86400


def iso(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ') if moment else None


def rec(platform='tfe', issued=None, expires=None, used=None, status=None, created=None):
    return dict(platform=platform, id='x', name='n', kind='described', scope='acme/team-1',
                status=status, created_at=iso(created or issued), issued_at=iso(issued),
                expires_at=iso(expires), last_used_at=iso(used), generation=1)


@pytest.mark.parametrize('record, flags, derived', [
    (rec(issued=NOW - 10 * DAY, expires=NOW - DAY, used=NOW - DAY), {'expired'},
     dict(status='expired', age_days=10, expires_in_days=-1, never_expires=False)),
    (rec(issued=NOW - 10 * DAY, expires=NOW + 5 * DAY, used=NOW - DAY), {'expiring'},
     dict(status='active', age_days=10, expires_in_days=5, never_expires=False)),
    (rec(issued=NOW - 10 * DAY, expires=NOW + 31 * DAY, used=NOW - DAY), set(),
     dict(status='active', age_days=10, expires_in_days=31, never_expires=False)),
    # never used: idle since the secret was issued
    (rec(issued=NOW - 100 * DAY), {'never_expires', 'never_used', 'unused'},
     dict(status='active', age_days=100, expires_in_days=None, never_expires=True)),
    (rec(issued=NOW - 5 * DAY), {'never_expires', 'never_used'},
     dict(status='active', age_days=5, expires_in_days=None, never_expires=True)),
    (rec(issued=NOW - 200 * DAY, used=NOW - 91 * DAY), {'never_expires', 'unused'},
     dict(status='active', age_days=200, expires_in_days=None, never_expires=True)),
    # the platform's own status wins
    (rec(issued=NOW - DAY, used=NOW, status='disabled'), {'never_expires'},
     dict(status='disabled', age_days=1, expires_in_days=None, never_expires=True)),
    # PactFlow tells no time: no group that a time decides, nothing known
    (rec(platform='pactflow'), set(),
     dict(status='active', age_days=None, expires_in_days=None, never_expires=None)),
])
def test_what_the_times_say(record, flags, derived):
    assert estate.assess(record, NOW, WINDOW, IDLE) == (derived, flags)


def test_a_time_in_a_shape_not_read_is_unknown():
    record = rec(issued=NOW - DAY)
    record.update(expires_at='2027-01-02 15:04:05.123 +0000 UTC', last_used_at='yesterday')
    derived, flags = estate.assess(record, NOW, WINDOW, IDLE)
    assert derived['expires_in_days'] is None and 'never_used' in flags


@pytest.mark.parametrize('text', ['2026-11-22T10:15:30Z', '2026-11-22T10:15:30.123Z',
                                  '2026-11-22T10:15:30+02:00', '2026-11-22'])
def test_the_fast_parse_agrees_with_the_collections_parser(text):
    assert estate.moment_of(text) == estate.parse_optional_timestamp(text)


@pytest.mark.parametrize('record, name', [
    (dict(platform='tfe', name='deploy--2', id='at-N6HJ7NYWGjSyOAD8'),
     'tfe_deploy--2_at-N6HJ7NYWGjSyOAD8'),
    (dict(platform='tfe', name=None, description=None, kind='legacy', id='at-1'),
     'tfe_legacy_at-1'),
    (dict(platform='cloudtruth', name='ci deployer/prod', id='auth0|61949e36'),
     'cloudtruth_ci_deployer_prod_auth0_61949e36'),
    (dict(platform='pulumi', name=None, description='', kind='personal', id='a-b'),
     'pulumi_personal_a-b'),
])
def test_host_names_are_readable_and_safe(record, name):
    assert estate.host_name(record) == name


def test_generation_and_scope_of_a_record():
    token = dict(id='at-1', team_id='team-1', description='ci--3', legacy=False,
                 created_at='2026-01-01T00:00:00Z', expires_at=None, last_used_at=None,
                 created_by=dict(id='user-1', type='users'))
    record = estate.record('tfe', dict(organization='acme'), token, 'https://tfe')
    assert (record['generation'], record['scope'], record['kind'], record['owner']) == \
        (3, 'acme/team-1', 'described', 'user-1')

# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""HCP Terraform / Terraform Enterprise team tokens: described (many per team) and legacy (one).

A described token is found by listing the organization's team tokens narrowed by the team's
name (``q``) over every page and matching team id and description exactly; a legacy token is
read through its team's ``authentication-token`` path. Expiry cannot change after creation.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    AmbiguousWriteError, ApiError, TokenOpsError,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._paging import iter_jsonapi
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    InputError, isoformat, parse_optional_timestamp, requested_expiry,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._token_state import TokenAdapter

PAGE_SIZE = 100
NOT_VISIBLE = ('TFE answers 404 both when it does not exist and when the credential may not '
               'see it')


def token_metadata(resource):
    """The public, snake_case metadata of an ``authentication-tokens`` resource."""
    attributes = resource.get('attributes') or {}
    relationships = resource.get('relationships') or {}
    team = ((relationships.get('team') or {}).get('data') or {})
    created_by = ((relationships.get('created-by') or {}).get('data') or None)
    return dict(
        id=resource.get('id'),
        team_id=team.get('id'),
        description=attributes.get('description'),
        legacy=attributes.get('description') is None,
        created_at=isoformat(parse_optional_timestamp(attributes.get('created-at'))),
        expires_at=isoformat(parse_optional_timestamp(attributes.get('expired-at'))),
        last_used_at=isoformat(parse_optional_timestamp(attributes.get('last-used-at'))),
        created_by=created_by,
    )


def is_team_id(value):
    return value.startswith('team-')


class Teams:
    """Resolves a team given by name or ``team-…`` id, remembering both."""

    def __init__(self, client, organization):
        self.client = client
        self.organization = organization

    def resolve(self, team):
        """(team id, team name) or an ApiError that says what TFE's 404 can mean."""
        if is_team_id(team):
            body = self.client.get(('teams', team), allow_not_found=True)
            if body is None:
                raise ApiError('team %s was not found: %s' % (team, NOT_VISIBLE), status=404)
            return team, (body.get('data') or {}).get('attributes', {}).get('name')
        path = ('organizations', self.organization, 'teams')
        # Some TFE releases ignore filter[names], so every page is read and matched exactly.
        try:
            for resource in iter_jsonapi(self.client, path, {'filter[names]': team}, PAGE_SIZE):
                if (resource.get('attributes') or {}).get('name') == team:
                    return resource['id'], team
        except ApiError as exc:
            if exc.status == 404:
                raise ApiError('organization %s was not found: %s'
                               % (self.organization, NOT_VISIBLE), status=404)
            raise
        raise ApiError('team %r was not found in organization %s: %s'
                       % (team, self.organization, NOT_VISIBLE), status=404)


def list_team_tokens(client, organization, team_name=None):
    """Every team token of the organization (narrowed by team name when given), all pages."""
    params = {'q': team_name} if team_name else None
    return iter_jsonapi(client, ('organizations', organization, 'team-tokens'), params, PAGE_SIZE)


class TfeTeamTokenAdapter(TokenAdapter):
    rotation_effect = ('legacy tokens are regenerated in place and the previous secret stops '
                       'working at once; a described token\'s description must stay unique in its '
                       'team, so the previous token is deleted (and its secret stops working) just '
                       'before the new one is created')

    def __init__(self, client, params, now=None):
        super(TfeTeamTokenAdapter, self).__init__(client, params, now)
        self.expiry = None
        self.team_id = None
        self.team_name = None

    @property
    def described(self):
        return self.params.get('description') is not None

    def validate(self):
        params = self.params
        if params.get('token_id'):
            if not params['token_id'].startswith('at-'):
                raise InputError('token_id: TFE token ids start with "at-"; got %r'
                                 % params['token_id'])
        elif not params.get('team'):
            raise InputError('team: required (a team name or a team-... id) unless token_id is '
                             'given')
        needs_org = not params.get('token_id') and (self.described
                                                    or not is_team_id(params['team']))
        if needs_org and not params.get('organization'):
            raise InputError('organization: required to find a team by name or a described '
                             'token; set organization or TFE_ORGANIZATION')
        self.expiry = requested_expiry(params, self.now)

    # -- reading --------------------------------------------------------------------------------
    def _resolve_team(self):
        if self.team_id is None:
            teams = Teams(self.client, self.params.get('organization'))
            self.team_id, self.team_name = teams.resolve(self.params['team'])
        return self.team_id

    def find(self):
        params = self.params
        if params.get('token_id'):
            body = self.client.get(('authentication-tokens', params['token_id']),
                                   allow_not_found=True)
            return token_metadata(body['data']) if body else None
        team_id = self._resolve_team()
        if not self.described:
            body = self.client.get(('teams', team_id, 'authentication-token'),
                                   allow_not_found=True)
            return token_metadata(body['data']) if body else None
        for resource in list_team_tokens(self.client, params['organization'], self.team_name):
            token = token_metadata(resource)
            if token['team_id'] == team_id and token['description'] == params['description']:
                return token
        return None

    def warnings(self, current):
        if self.expiry is None or self._same_expiry(current):
            return []
        if self.params.get('rotate') == 'always':
            return []
        return ['expires_in/expires_at (%s) differ from the expiry of token %s (%s); TFE cannot '
                'change an expiry, so it applies only to the next token issued (rotate: always '
                'issues one now)' % (isoformat(self.expiry), current['id'],
                                     current.get('expires_at') or 'none')]

    def _same_expiry(self, current):
        existing = parse_optional_timestamp(current.get('expires_at'))
        return existing is not None and abs((existing - self.expiry).total_seconds()) < 1

    def planned(self, current=None, changes=None):
        token = dict(current or {})
        token.update(id=None, created_at=isoformat(self.now), last_used_at=None,
                     expires_at=isoformat(self.expiry) if self.expiry else None)
        if current is None:
            token.update(team_id=self.team_id, description=self.params.get('description'),
                         legacy=not self.described, created_by=None)
        return token

    # -- writing --------------------------------------------------------------------------------
    def _create(self, team_id, description):
        attributes = {}
        if self.expiry is not None:
            attributes['expired-at'] = isoformat(self.expiry)
        if description is None:
            path = ('teams', team_id, 'authentication-token')
            kind = 'authentication-token'
        else:
            path = ('teams', team_id, 'authentication-tokens')
            kind = 'authentication-tokens'
            attributes['description'] = description
        try:
            body = self.client.post(path, {'data': {'type': kind, 'attributes': attributes}})
        except ApiError as exc:
            if exc.status == 404 and not isinstance(exc, AmbiguousWriteError):
                raise ApiError('%s. Team %s was not found, or this TFE release does not support '
                               'described team tokens: %s' % (exc, team_id, NOT_VISIBLE),
                               status=404)
            raise
        resource = body.get('data') or {}
        secret = (resource.get('attributes') or {}).get('token')
        self.client.remember_secret(secret)
        if not secret:
            raise TokenOpsError('TFE created token %s but returned no secret'
                                % resource.get('id'))
        return token_metadata(resource), secret

    def create(self):
        team_id = self.team_id or self._team_of_token_id()
        return self._create(team_id, self.params.get('description'))

    def _team_of_token_id(self):
        raise InputError('token_id: the token does not exist, and a token cannot be created from '
                         'an id; give team (and description) to create one')

    def rotate(self, current):
        team_id = current['team_id']
        if current['legacy']:
            token, secret = self._create(team_id, None)
            return token, secret, current['id']
        # The description must stay unique in the team: the old token goes first.
        self.client.delete(('authentication-tokens', current['id']))
        try:
            token, secret = self._create(team_id, current['description'])
        except AmbiguousWriteError:
            # Only create again when a look shows nothing was created: never two tokens.
            if self._described_exists(team_id, current['description']) is not False:
                raise
            token, secret = self._create(team_id, current['description'])
        return token, secret, current['id']

    def _described_exists(self, team_id, description):
        """Whether the team has a token with this description; None when we cannot tell."""
        organization = self.params.get('organization')
        if not organization:
            return None
        for resource in list_team_tokens(self.client, organization, self.team_name):
            token = token_metadata(resource)
            if token['team_id'] == team_id and token['description'] == description:
                return True
        return False

    def delete(self, current):
        self.client.delete(('authentication-tokens', current['id']))

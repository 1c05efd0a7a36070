# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""HCP Terraform / Terraform Enterprise team tokens: described (many per team) and legacy (one).

A team given by name is resolved with ``filter[names]`` and an exact, case-sensitive match over
every page (some TFE releases ignore the filter). A described token is found by listing the
organization's team tokens narrowed by the team's name (``q``), every page, matching team id and
description exactly; a legacy token is read through its team's ``authentication-token`` path.

A legacy token is regenerated in place (one per team). A described token's description must
stay unique in its team, so a rotation creates its successor as the next generation of the
description (``ci--2``, ``_generations``) while the previous one still works, and deletes the
previous one after delivery (``overlaps``); lookups by description match every generation.
An expiry cannot change after creation; the platform picks two years when none is sent.

A successor is created for its predecessor's team and read back to prove it (``_power``). An
organization's token-TTL policy (``GET /organizations/{org}/token-ttl-policies``, the ``team``
entry; an empty list when the organization enforces none) caps team token lifetime: a token
beyond it answers 401 (terraform-provider-tfe #1996), and every expiry the module asks for stays
within it (``_lifetime``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible.module_utils.basic import env_fallback

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    AmbiguousWriteError, ApiError, TokenOpsError, UnsendableValueError,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._generations import (
    GenerationRotation, base_of, check_base, generation_keys, generation_name, generation_of,
    newest,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._lifetime import read_cap
from ansible_collections.tokenops.tokens.plugins.module_utils._lost_writes import settle
from ansible_collections.tokenops.tokens.plugins.module_utils._module import (
    management_argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._paging import iter_jsonapi
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    InputError, RotationPolicy, expiry_as_asked, isoformat, parse_optional_timestamp,
    platform_time, requested_expiry,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._token_state import (
    TokenAdapter, listed_id,
)

#: the largest page TFE serves
PAGE_SIZE = 100
#: what the platform chooses when a create sends no expiry
DEFAULT_LIFETIME_YEARS = 2
#: an existing token's lifetime within this of ``expires_in`` counts as the same expiry
NOT_VISIBLE = 'TFE answers 404 for both'
_TEAM_ID = re.compile(r'^team-[A-Za-z0-9]{16}$')
_TEAM_NAME = re.compile(r'^[A-Za-z0-9_-]+$')
_TOKEN_ID = re.compile(r'^at-[A-Za-z0-9]+$')

#: option groups of ``tfe_team_token`` that exclude each other (the rotation role uses them too)
MUTUALLY_EXCLUSIVE = [['description', 'token_id'], ['team', 'token_id']]


def argument_spec():
    """The options of ``tfe_team_token``; the rotation role validates its items with them too."""
    spec = management_argument_spec()
    spec.update(
        organization=dict(type='str', fallback=(env_fallback, ['TFE_ORGANIZATION'])),
        team=dict(type='str'),
        description=dict(type='str'),
        token_id=dict(type='str'),
        allow_self_rotation=dict(type='bool', default=False),
    )
    return spec


def info_options():
    """The options of ``tfe_team_token_info`` beyond the shared ``_info`` ones."""
    return dict(
        organization=dict(type='str', required=True,
                          fallback=(env_fallback, ['TFE_ORGANIZATION'])),
        team=dict(type='str'),
        description=dict(type='str'),
    )


def token_metadata(resource):
    """The public, snake_case metadata of an ``authentication-tokens`` resource (no secret)."""
    attributes = resource.get('attributes') or {}
    relationships = resource.get('relationships') or {}
    team_id = _team_id_of(resource)
    creator = (relationships.get('created-by') or {}).get('data') or None
    return dict(
        id=resource.get('id'),
        team_id=team_id,
        description=attributes.get('description'),
        legacy=attributes.get('description') is None,
        created_at=platform_time(attributes.get('created-at')),
        expires_at=platform_time(attributes.get('expired-at')),
        last_used_at=platform_time(attributes.get('last-used-at')),
        created_by=dict(id=creator.get('id'), type=creator.get('type')) if creator else None,
    )


def ttl_cap(client, organization):
    """The organization's ``LifetimeCap`` for team tokens: the ``team`` entry of its token-TTL
    policies (``max-ttl-ms``); none when it lists no policy (pytfe / go-tfe
    ``OrganizationTokenTTLPolicies.List``; the provider reads an empty list as "disabled")."""
    def read():
        body = client.get(('organizations', organization, 'token-ttl-policies'))
        for entry in body.get('data') or [] if isinstance(body, dict) else []:
            attributes = (entry or {}).get('attributes') or {}
            limit = attributes.get('max-ttl-ms')
            if attributes.get('token-type') == 'team' and isinstance(limit, int) and limit > 0:
                return limit // 1000
        return None
    return read_cap(client, ('tfe', organization), 'the team token TTL policy of organization '
                    '%s (token-ttl-policies)' % organization, read)


def _team_id_of(resource):
    team = ((resource.get('relationships') or {}).get('team') or {}).get('data') or {}
    return team.get('id')


def listed_team_description(raw):
    """Index keys of a listed team token: its team with each identity of its description
    (``(team, None)`` for a legacy token)."""
    description = _description(raw)
    team_id = _team_id_of(raw)
    if description is None:
        return ((team_id, None),)
    return tuple((team_id, key) for key in generation_keys(description))


def is_team_id(value):
    """``team-`` and 16 letters or digits: a team id; anything else is a team name."""
    return bool(_TEAM_ID.match(value or ''))


def check_team(team):
    """``InputError`` unless ``team`` is a team id or a valid team name."""
    if not is_team_id(team) and not _TEAM_NAME.match(team):
        raise InputError('team: %r is neither a team-... id nor a team name (TFE team names hold '
                         'only letters, digits, "-" and "_")' % (team,))


def add_years(moment, years):
    """Calendar years; 29 February rolls to 1 March, as the platform does."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, month=3, day=1)


def list_team_tokens(client, organization, team_name=None):
    """Every team token of the organization (narrowed by team name when given), all pages.

    ``q`` only narrows the pages: callers still match the team id, as the contract does not
    say whether ``q`` is a substring or an exact match.
    """
    params = {'q': team_name} if team_name else None
    try:
        yield from iter_jsonapi(client, ('organizations', organization, 'team-tokens'), params,
                                PAGE_SIZE)
    except ApiError as exc:
        if exc.status == 404:
            raise ApiError('organization: %r was not found, or the credential may not list its '
                           'team tokens (%s): %s' % (organization, NOT_VISIBLE, exc),
                           status=404, method=exc.method, path=exc.path)
        raise


def _description(resource):
    return (resource.get('attributes') or {}).get('description')


class Teams:
    """Resolves teams given by name or ``team-...`` id to ``(id, name)``, each once per client.

    The cache lives on the client, so the rotation role, which builds one adapter per token
    over one client, resolves each team once.
    """

    def __init__(self, client, organization):
        self.client = client
        self.organization = organization
        self.cache = client.memo.setdefault('tfe_teams', {})

    def resolve(self, team):
        """``(team id, team name)``; an ``ApiError`` (404) naming both causes when not found."""
        key = (self.organization, team)
        if key not in self.cache:
            self.cache[key] = self._by_id(team) if is_team_id(team) else self._by_name(team)
        return self.cache[key]

    def _by_id(self, team_id):
        body = self.client.get(('teams', team_id), allow_not_found=True)
        if body is None:
            raise ApiError('team: %s was not found, or the credential may not see it (%s)'
                           % (team_id, NOT_VISIBLE), status=404)
        name = ((body.get('data') or {}).get('attributes') or {}).get('name')
        return team_id, name

    def _by_name(self, name):
        if not self.organization:
            raise InputError('organization: required to find team %r by name; set organization '
                             'or TFE_ORGANIZATION' % name)
        path = ('organizations', self.organization, 'teams')
        try:
            # Some TFE releases ignore filter[names]: read on until an exact match, every page.
            for resource in iter_jsonapi(self.client, path, {'filter[names]': name}, PAGE_SIZE):
                if (resource.get('attributes') or {}).get('name') == name:
                    return resource.get('id'), name
        except ApiError as exc:
            if exc.status == 404:
                raise ApiError('organization: %r was not found, or the credential may not list '
                               'its teams (%s)' % (self.organization, NOT_VISIBLE),
                               status=404, method=exc.method, path=exc.path)
            raise
        raise ApiError('team: no team named %r in organization %r, or the credential may not see '
                       'it (%s; names match exactly, case-sensitive)'
                       % (name, self.organization, NOT_VISIBLE), status=404)


class TfeTeamTokenAdapter(GenerationRotation, TokenAdapter):
    rotation_effect = ('a legacy token is regenerated in place and its previous secret stops '
                       'working at once; a described token is replaced by the next generation '
                       'of its description, and the previous one is deleted after that')
    verify_path = ('account', 'details')

    def __init__(self, client, params, now=None):
        super(TfeTeamTokenAdapter, self).__init__(client, params, now)
        self.expiry = None
        self.team_id = None
        self.team_name = None

    @property
    def described(self):
        return self.params.get('description') is not None

    @property
    def overlaps(self):
        """Described tokens overlap; the legacy one is in place. A token given by ``token_id``
        may be either, and the rotation role must know before it looks: it is replaced at once
        (a described one still gets its successor before the previous one is deleted)."""
        return self.described

    @property
    def organization(self):
        return self.params.get('organization') or None

    # -- checks before any request ------------------------------------------------------------
    def validate(self):
        params = self.params
        token_id = params.get('token_id')
        if token_id is not None:
            if params.get('description') is not None:
                raise InputError('description: not used with token_id, which names the token '
                                 'already')
            if params.get('team'):
                raise InputError('team: not used with token_id, which names the token already')
            if not _TOKEN_ID.match(token_id):
                raise InputError('token_id: TFE token ids are "at-" and letters or digits; got %r'
                                 % (token_id,))
        else:
            if not params.get('team'):
                raise InputError('team: required (a team name or a team-... id) unless token_id '
                                 'is given')
            check_team(params['team'])
            if self.described:
                check_base('description', params['description'])
            if not self.organization and (self.described or not is_team_id(params['team'])):
                raise InputError('organization: required to find a team by name or a described '
                                 'token; set organization or TFE_ORGANIZATION')
        self.expiry = requested_expiry(params, self.now)

    # -- reading --------------------------------------------------------------------------------
    def _resolve_team(self):
        if self.team_id is None:
            self.team_id, self.team_name = Teams(self.client, self.organization).resolve(
                self.params['team'])
        return self.team_id

    def scope_key(self):
        """All team tokens of the organization share one listing."""
        if not self.organization:
            raise NotImplementedError('without organization, tokens are looked up one by one')
        return ('organizations', self.organization, 'team-tokens')

    def list_scope(self):
        return list(list_team_tokens(self.client, self.organization))

    def _matches(self, listing=None):
        """Raw tokens of this identity: by id, the team's legacy token, or every generation of
        the description."""
        if self.params.get('token_id'):
            return [r for r in listing if r.get('id') == self.params['token_id']]
        team_id = self._resolve_team()
        if listing is None:
            listing = list_team_tokens(self.client, self.organization, self._team_name(team_id))
        description = self.params.get('description')
        # Only the fields compared are read: the rotation role calls this once per token over
        # the organization's whole listing.
        if self.described:
            def same_token(raw):
                return generation_of(_description(raw), description) is not None
        else:
            def same_token(raw):
                return _description(raw) is None
        return [r for r in listing if _team_id_of(r) == team_id and same_token(r)]

    def listing_index(self):
        if self.params.get('token_id'):
            return listed_id, self.params['token_id']
        description = self.params.get('description') if self.described else None
        return listed_team_description, (self._resolve_team(), description)

    def find_in(self, listing):
        matches = self._matches(listing)
        self.matched_ids = set(r.get('id') for r in matches)
        if len(matches) > 1 and not self.described:
            raise TokenOpsError('team: %d team tokens match (ids %s); give token_id to pick one'
                                % (len(matches), ', '.join(sorted(r.get('id') or '?'
                                                                  for r in matches))))
        if not matches:
            return None
        latest, older = newest(matches, self.params.get('description'), _description)
        self.leftovers = [r.get('id') for r in older]
        return token_metadata(latest)

    def find(self):
        """The narrowest lookup for one module run (``find_in(list_scope())`` would read the
        whole organization)."""
        params = self.params
        if params.get('token_id'):
            body = self.client.get(('authentication-tokens', params['token_id']),
                                   allow_not_found=True)
            return token_metadata(body['data']) if body else None
        if not self.described:
            return self._find_legacy()
        return self.find_in(self._matches())

    def _find_legacy(self):
        team = self.params['team']
        if self.team_id is None and is_team_id(team):
            # The team's own path answers for the token; a 404 there is told apart below.
            body = self.client.get(('teams', team, 'authentication-token'), allow_not_found=True)
            if body is not None:
                self.team_id = team
                return token_metadata(body['data'])
            self._resolve_team()      # 404 "no such team or not visible", else: no token
            return None
        team_id = self._resolve_team()
        body = self.client.get(('teams', team_id, 'authentication-token'), allow_not_found=True)
        return token_metadata(body['data']) if body else None

    def _team_name(self, team_id):
        """The team's name (for ``q``), read once."""
        if team_id == self.team_id and self.team_name:
            return self.team_name
        return Teams(self.client, self.organization).resolve(team_id)[1]

    # -- what the run reports -------------------------------------------------------------------
    def _rotating_now(self, current):
        policy = RotationPolicy.from_params(self.params)
        return policy.decide(self.secret_issued_at(current), self.expires_at(current),
                             self.now)[0]

    def _same_expiry(self, current):
        # A relative expiry is measured from the token's creation, not from this run.
        return expiry_as_asked(self.params, parse_optional_timestamp(current.get('created_at')),
                               parse_optional_timestamp(current.get('expires_at')), self.now)

    def warnings(self, current):
        messages = []
        if self.leftovers:
            messages.append('older generations of token %s still exist (ids %s): an earlier '
                            'rotation did not finish; they are deleted on the next rotation'
                            % (current['description'], ', '.join(sorted(self.leftovers))))
        rotating = self._rotating_now(current)
        expires = self.expires_at(current)
        if expires is not None and expires <= self.now and not rotating:
            messages.append('token %s expired at %s; use rotate: due or always to replace it'
                            % (current['id'], current['expires_at']))
        if self.expiry is not None and not rotating and not self._same_expiry(current):
            option = 'expires_in' if self.params.get('expires_in') is not None else 'expires_at'
            messages.append('%s asks for a different expiry than token %s has (%s); TFE cannot '
                            'change the expiry of an existing token, so it is left as it is and '
                            'the requested expiry applies to the next secret issued (rotate: '
                            'always issues one now)'
                            % (option, current['id'], current.get('expires_at') or 'none'))
        return messages

    def planned(self, current=None, changes=None):
        if current is None and self.params.get('token_id'):
            self._cannot_create()
        expiry = self._issue_expiry() or add_years(self.now, DEFAULT_LIFETIME_YEARS)
        token = dict(current or {})
        token.update(id=None, created_at=isoformat(self.now), last_used_at=None,
                     expires_at=isoformat(expiry), created_by=None)
        if current is None:
            token.update(team_id=self.team_id, description=self.params.get('description'),
                         legacy=not self.described)
        elif not current.get('legacy'):
            token['description'] = self._successor(current)
        return token

    @staticmethod
    def _successor(current):
        """The next generation's description."""
        base = base_of(current['description'])
        return generation_name(base, generation_of(current['description'], base) + 1)

    def _cannot_create(self):
        raise InputError('token_id: %s was not found, or the credential may not see it (%s); a '
                         'token cannot be created from an id: give team (and description) to '
                         'create one'
                         % (self.params['token_id'], NOT_VISIBLE))

    def caller_may_be(self, current):
        """``account/details`` names the team a team token acts for, not which of the team's
        tokens it is: any token of the caller's own team may be the credential."""
        def lookup():
            body = self.client.get(self.verify_path)
            relationships = (body.get('data') or {}).get('relationships') or {}
            return (relationships.get('authenticated-resource') or {}).get('data') or {}

        caller = self.ask_identity('tfe_caller', lookup)
        return caller.get('type') == 'teams' and caller.get('id') == current.get('team_id')

    # -- policies and power ---------------------------------------------------------------------
    def lifetime_cap(self):
        """The organization's team token TTL policy (not known for a token given by token_id
        without organization)."""
        if not self.organization or self.client is None:
            return None
        return ttl_cap(self.client, self.organization)

    def check_rotation(self, current):
        """Before any write: an expiry beyond the TTL policy, then self lock-out."""
        self._issue_expiry()
        super(TfeTeamTokenAdapter, self).check_rotation(current)

    def _issue_expiry(self):
        """The expiry to send: the one asked for, or under a TTL policy the platform's two-year
        default cut to the cap (None: send none, the platform chooses)."""
        cap = self.lifetime_cap()
        option = 'expires_at' if self.params.get('expires_at') is not None else 'expires_in'
        if self.expiry is not None:
            return cap.requested(self.now, self.expiry, option) if cap else self.expiry
        if cap is None or cap.limit is None:
            return None
        expiry, warning = cap.computed(self.now, add_years(self.now, DEFAULT_LIFETIME_YEARS),
                                       'no expires_in or expires_at was given, and TFE\'s '
                                       'default lifetime')
        if warning and warning not in self.notes:
            self.notes.append(warning)
        return expiry

    def power_of(self, token):
        """What a team token may do is its team's: the team is what a successor keeps."""
        return dict(team_id=token.get('team_id'))

    def read_back(self, token):
        """A described successor read again by id; a regenerated legacy token as the answer to
        its create showed it (its team's own path made it)."""
        if token.get('legacy'):
            return token
        body = self.client.get(('authentication-tokens', token['id']), allow_not_found=True)
        return token_metadata(body['data']) if body and body.get('data') else {}

    # -- writing --------------------------------------------------------------------------------
    def _post(self, team_id, description):
        """Create a token (the legacy endpoint regenerates); ``(token, secret)``."""
        attributes = {}
        expiry = self._issue_expiry()
        if expiry is not None:
            attributes['expired-at'] = isoformat(expiry)
        if description is None:
            path, kind = ('teams', team_id, 'authentication-token'), 'authentication-token'
        else:
            path, kind = ('teams', team_id, 'authentication-tokens'), 'authentication-tokens'
            attributes['description'] = description
        try:
            body = self.client.post(path, {'data': {'type': kind, 'attributes': attributes}})
        except AmbiguousWriteError:
            raise
        except ApiError as exc:
            if exc.status != 404:
                raise
            hint = (', or this TFE release does not support described team tokens (older TFE '
                    'releases have only the legacy team token: leave description out)'
                    if description is not None else '')
            raise ApiError('%s. team: %s was not found, or the credential may not manage its '
                           'tokens%s (TFE answers 404 for each)' % (exc, team_id, hint), status=404,
                           method=exc.method, path=exc.path, request_id=exc.request_id)
        resource = body.get('data') or {}
        # A described token is a new token beside the others; the legacy one is replaced in place
        created = token_metadata(resource) if description is not None and resource.get('id') \
            else None
        secret = self.client.remember_secret((resource.get('attributes') or {}).get('token'),
                                             created=created)
        if not secret:
            raise TokenOpsError('TFE created token %s but returned no secret'
                                % resource.get('id'))
        return token_metadata(resource), secret

    def create(self, previous=None):
        if previous is not None:
            return self._create_successor(previous)
        if self.params.get('token_id'):
            self._cannot_create()
        return self._post(self._resolve_team(), self.params.get('description'))

    def _create_successor(self, previous):
        try:
            return self._post(previous['team_id'], self._successor(previous))
        except (AmbiguousWriteError, UnsendableValueError):
            raise
        except TokenOpsError as exc:
            # For example 422: the organization's token-lifetime cap refuses the expiry.
            raise type(exc)('the replacement of token %s could not be created: %s. Nothing was '
                            'deleted: the previous token still works' % (previous['id'], exc),
                            **exc.details)

    def issue_replacement(self, current):
        """Regenerate a legacy token (in place); create the next generation of a described one
        (the previous one works on until ``retire``)."""
        if current.get('legacy'):
            return self._regenerate(current)
        token, secret = super(TfeTeamTokenAdapter, self).issue_replacement(current)
        if not self.overlaps:
            self.client.remember_secret(secret)
            self.retire(current)        # by token_id: replaced at once, successor first
        return token, secret

    def _regenerate(self, current):
        team_id = current['team_id']
        try:
            return self._post(team_id, None)
        except AmbiguousWriteError as exc:
            # Look first (once the server is done with the lost regenerate: one it makes after
            # ours would end the secret this one returns). Either the previous token is still
            # there, or a new one whose secret was lost replaced it; in both cases regenerating
            # once more is what was asked.
            settle(self.client, exc)
            self.client.get(('teams', team_id, 'authentication-token'), allow_not_found=True)
            return self._post(team_id, None)

    def retire(self, previous):
        """Delete the previous generation of a described token; a legacy token was replaced in
        place already."""
        if not previous.get('legacy'):
            self.delete(previous)

    def _delete(self, token_id):
        self.client.delete(('authentication-tokens', token_id))

    def delete(self, current):
        if current.get('legacy') and current.get('team_id'):
            # The team's own path: the only one older TFE releases have for a legacy token.
            self.client.delete(('teams', current['team_id'], 'authentication-token'))
        else:
            super(TfeTeamTokenAdapter, self).delete(current)


def selected_team(client, params):
    """``(team_id, team_name)`` of the info module's ``team`` option (one request), or Nones."""
    if not params.get('team'):
        return None, None
    check_team(params['team'])
    return Teams(client, params['organization']).resolve(params['team'])


def team_tokens(client, params, team=None):
    """The metadata of the team tokens ``tfe_team_token_info``'s options select: the
    organization's, or one ``team``'s (``team``: its ``selected_team``, when already read), with
    exactly ``description`` when given. No secret."""
    team_id, team_name = team or selected_team(client, params)
    for resource in list_team_tokens(client, params['organization'], team_name):
        token = token_metadata(resource)
        if team_id is not None and token['team_id'] != team_id:
            continue
        if params.get('description') is not None and token['description'] != params['description']:
            continue
        yield token


def annotate_listing(client, params, listing):
    """The ``tokens`` of ``tfe_team_token_info``: filtered, annotated metadata, no secret."""
    team = selected_team(client, params)
    listing.cap = ttl_cap(client, params['organization'])
    tokens = []
    for token in team_tokens(client, params, team):
        annotated = listing.annotate(token)
        if listing.keep(annotated):
            tokens.append(annotated)
    return tokens


ROTATION_ADAPTER = TfeTeamTokenAdapter

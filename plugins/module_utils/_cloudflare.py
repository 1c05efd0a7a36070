# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""Cloudflare API tokens: user-owned (``/user/tokens``) and account-owned
(``/accounts/{account_id}/tokens``), with policies, an IP condition, dates and status.

Everything but the secret can change in place (a full-object PUT). Names are not unique, so a
lookup by name reads every page (recently expired tokens included) and refuses to guess between
two.
Rotation either rolls the secret (``rotation: roll``, ``PUT .../value``): the token keeps its id
and the previous secret stops working at once; or replaces the token (``rotation: replace``, the
rotation role's default): a new token with the same name, policies, condition, dates and status
is created while the previous one still works, and the previous one is deleted afterwards (by
the role only after delivery; ``_generations``); the token id changes. Cloudflare records no
"secret issued at", and a roll keeps ``issued_on``; the age of a secret is therefore counted
from ``modified_on``, which a roll moves (and so does every other change in place: the age is a
lower bound).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    AmbiguousWriteError, ApiError, TokenOpsError,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._cloudflare_options import (
    check_options, check_rotation, resolve_policies,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._cloudflare_power import (
    SETTABLE_STATUSES, cannot_authenticate, changes_asked, condition_words, desired_condition,
    normal_condition, normal_policies, token_power, unmet_wishes, unusable_by_design,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._generations import (
    GenerationRotation,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._lost_writes import settle
from ansible_collections.tokenops.tokens.plugins.module_utils._module import (
    management_argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._paging import iter_result_info
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    InputError, isoformat, parse_optional_timestamp, platform_time,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._token_state import (
    TokenAdapter, listed_id, one_live,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._verification import (
    INCONCLUSIVE, REFUSED, UNUSABLE_HERE, WORKS, Verification, ask_again, refused_now,
    status_words, waited_words,
)

PER_PAGE = 50                       # the API's largest page
#: "Authentication error": a new secret not yet known everywhere, and a working credential
#: answered wrongly for a moment (api/cloudflare.md §6; mrrfv/cloudflare-gateway-pihole-scripts#43)
TRANSIENT_CODE = '(code 10000)'
#: 403 "Cannot use the access token from location: <ip>": the token's IP condition excludes the
#: caller's address (terraform-provider-cloudflare #897)
LOCATION_REFUSAL = 'Cannot use the access token from location'
#: tokens a user, and an account, may hold (developers.cloudflare.com/fundamentals/api/reference/
#: limits/: "User API token quota 50", "Account API token quota 500")
USER_TOKEN_QUOTA = 50
ACCOUNT_TOKEN_QUOTA = 500

MUTUALLY_EXCLUSIVE = []


def argument_spec():
    """The options of ``cloudflare_token``; the rotation role validates its items with them too."""
    spec = management_argument_spec()
    spec.update(
        account_id=dict(type='str'),
        name=dict(type='str'),
        token_id=dict(type='str'),
        policies=dict(type='list', elements='dict', options=dict(
            effect=dict(type='str', default='allow', choices=['allow', 'deny']),
            permission_groups=dict(type='list', elements='str', required=True),
            resources=dict(type='dict', required=True),
        )),
        condition=dict(type='dict', options=dict(
            request_ip=dict(type='dict', options={
                'in': dict(type='list', elements='str'),
                'not_in': dict(type='list', elements='str'),
            }),
        )),
        not_before=dict(type='str'),
        status=dict(type='str', choices=['active', 'disabled']),
        allow_self_rotation=dict(type='bool', default=False),
        rotation=dict(type='str', default='roll', choices=['roll', 'replace']),
    )
    return spec


def info_argument_spec():
    """The options of ``cloudflare_token_info`` beyond the shared ``_info`` ones."""
    return dict(
        account_id=dict(type='str'),
        name=dict(type='str'),
        status=dict(type='str'),
        verify_credential=dict(type='bool', default=False),
    )


# -- pure helpers -----------------------------------------------------------------------------
def tokens_path(account_id=None):
    """The token collection of the user (``account_id`` None) or of an account."""
    return ('accounts', account_id, 'tokens') if account_id else ('user', 'tokens')


def list_tokens(client, account_id=None):
    """Every token of the user or the account Cloudflare lists, all pages: active, disabled and
    recently expired ones (a long-expired token, or with ``list_self`` another creator's, is not
    listed, and is found only by its id)."""
    try:
        yield from iter_result_info(client, tokens_path(account_id),
                                    {'include_expired': 'true'}, per_page=PER_PAGE)
    except ApiError as exc:
        # An account-owned token acts only inside its account: the user's listing refuses it.
        if exc.status in (401, 403) and not account_id \
                and (client.credential or '').startswith('cfat_'):
            raise with_hint(exc, 'The credential is an account-owned token (cfat_...), which '
                                 'acts only inside its account: give account_id')
        raise


def with_hint(exc, hint):
    """``exc`` (an ``ApiError``) again, with ``hint`` after its message."""
    return type(exc)('%s. %s' % (exc, hint), status=exc.status, method=exc.method,
                     path=exc.path, platform_message=exc.platform_message,
                     request_id=exc.request_id)


def listed_name(raw):
    """Index key of a listed token (``TokenAdapter.listing_index``)."""
    return (raw.get('name'),)


def _timestamp(value):
    return platform_time(value)


def token_metadata(raw, account_id=None):
    """The public, snake_case metadata of a token as Cloudflare shows it. Never the secret."""
    return dict(
        id=raw.get('id'),
        name=raw.get('name'),
        status=raw.get('status'),
        account_id=account_id,
        created_at=_timestamp(raw.get('issued_on')),
        modified_at=_timestamp(raw.get('modified_on')),
        last_used_at=_timestamp(raw.get('last_used_on')),
        not_before=_timestamp(raw.get('not_before')),
        expires_at=_timestamp(raw.get('expires_on')),
        policies=normal_policies(raw.get('policies')),
        condition=normal_condition(raw.get('condition')),
    )


class CloudflareTokenAdapter(GenerationRotation, TokenAdapter):
    rotation_effect = ('rotation: roll rolls the secret in place (the previous one stops working '
                       'at once); rotation: replace creates a new token with the same name and '
                       'settings first and deletes the previous one after it (the id changes)')
    issued_fields = ('modified_at', 'created_at')

    @staticmethod
    def role_defaults(params):
        """The rotation role replaces (overlap) unless told otherwise; by token_id it rolls, as
        a replacement's new id would no longer match the item."""
        return {} if params.get('token_id') else {'rotation': 'replace'}

    @property
    def overlaps(self):
        return self.params.get('rotation') == 'replace'

    def __init__(self, client, params, now=None):
        super(CloudflareTokenAdapter, self).__init__(client, params, now)
        self.account_id = params.get('account_id') or None
        self.path = tokens_path(self.account_id)
        self.verify_path = self.path + ('verify',)
        self.expiry = None
        self.not_before = None
        self._catalogue = None
        self._desired_policies = None
        self._caller = False
        self.token_quota = ACCOUNT_TOKEN_QUOTA if self.account_id else USER_TOKEN_QUOTA

    # -- checks before any request ------------------------------------------------------------
    def validate(self):
        self.not_before, self.expiry = check_options(self.params, self.overlaps, self.now)

    # -- reading --------------------------------------------------------------------------------
    def scope_key(self):
        return ('account', self.account_id) if self.account_id else ('user',)

    def list_scope(self):
        return list(list_tokens(self.client, self.account_id))

    def listing_index(self):
        if self.params.get('token_id'):
            return listed_id, self.params['token_id']
        return listed_name, self.params.get('name')

    def find_in(self, listing):
        token_id, name = self.params.get('token_id'), self.params.get('name')
        if token_id:
            matches = [raw for raw in listing if raw.get('id') == token_id]
        else:
            matches = self._matches(listing)
        self.matched_ids = set(raw.get('id') for raw in matches)
        if token_id:
            return token_metadata(matches[0], self.account_id) if matches else None
        live, dead = one_live(matches, self.cannot_authenticate, 'name', name)
        if dead:
            self.notes.append('token %s is the one live token named %r; %s of that name (%s) '
                              'cannot authenticate and were left alone'
                              % (live.get('id'), name, ', '.join(sorted(d.get('id') for d in dead)),
                                 ', '.join(sorted(set(str(d.get('status')) for d in dead)))))
        return token_metadata(live, self.account_id) if live else None

    def cannot_authenticate(self, raw):
        return cannot_authenticate(raw.get('status'), _timestamp(raw.get('expires_on')),
                                   self.now)

    def find(self):
        """By ``token_id``: one GET. By name: every page of the listing."""
        token_id = self.params.get('token_id')
        if not token_id:
            listing = self.list_scope()
            self.scope_size = len(listing)
            found = self.find_in(listing)
            if found is None and self.params.get('state') == 'absent':
                self.notes.append(
                    'no token named %r is listed, so nothing was deleted. Cloudflare lists only '
                    'active, disabled and recently expired tokens (and, to a credential with only '
                    'the list_self permission, the account tokens it created): to delete a token '
                    'that is not listed, give its token_id' % self.params.get('name'))
            return found
        body = self.client.get(self.path + (token_id,), allow_not_found=True)
        if body is None or not body.get('result'):
            if (self.params.get('state') or 'present') == 'present':
                raise InputError('token_id: no %s token has the id %s; a token cannot be created '
                                 'with a chosen id (leave token_id out and give name to create '
                                 'one)' % ('account' if self.account_id else 'user', token_id))
            return None
        return token_metadata(body['result'], self.account_id)

    def _catalogue_groups(self):
        if self._catalogue is None:
            body = self.client.get(self.path + ('permission_groups',))
            self._catalogue = [g for g in body.get('result') or [] if isinstance(g, dict)]
        return self._catalogue

    def desired_policies(self, current=None):
        """The ``policies`` option with names resolved, normalised like ``token_metadata``;
        None when the option is not given."""
        if self.params.get('policies') is None:
            return None
        if self._desired_policies is None:
            self._desired_policies = resolve_policies(
                self.params['policies'], self._catalogue_groups,
                'account' if self.account_id else 'user')
        names = {}
        for policy in (current or {}).get('policies') or []:
            names.update((g['id'], g.get('name')) for g in policy['permission_groups'])
        return normal_policies(self._desired_policies, names)

    def changes(self, current):
        return changes_asked(self.params, current, self.desired_policies(current), self.expiry,
                             self.not_before)

    def warnings(self, current):
        return unmet_wishes(self.params, current, self.expiry, self.now)

    def planned(self, current=None, changes=None):
        if current is not None:
            return super(CloudflareTokenAdapter, self).planned(current, changes)
        now = isoformat(self.now)
        status = self.params.get('status') or 'active'
        return dict(id=None, name=self.params.get('name'), status=status,
                    account_id=self.account_id, created_at=now, modified_at=now,
                    last_used_at=None, not_before=isoformat(self.not_before),
                    expires_at=isoformat(self.expiry), policies=self._policies_to_create(),
                    condition=desired_condition(self.params)[1])

    def _policies_to_create(self):
        policies = self.desired_policies()
        if policies is None:
            raise InputError('policies: required to create token %r (none exists yet): give at '
                             'least one policy' % self.params.get('name'))
        return policies

    # -- rotation checks ------------------------------------------------------------------------
    def _expiry_after_rotation(self, current):
        """The expiry the token has once rotated: a requested one, else its own."""
        if self.expiry is not None:
            return self.expiry
        return parse_optional_timestamp(current.get('expires_at'))

    def check_rotation(self, current):
        check_rotation(self.params, current, self._expiry_after_rotation(current), self.now)
        self._refuse_self(current, 'rotate')

    def quota_message(self, pending):
        owner = 'account' if self.account_id else 'user'
        others = (' and %d other replacement(s) this run makes first' % pending) if pending \
            else ''
        return ('rotation: replace creates the new token before it deletes the previous one, '
                'but Cloudflare allows at most %d %s API tokens (developers.cloudflare.com/'
                'fundamentals/api/reference/limits/) and the %s already holds %d%s, so the create '
                'would be refused; nothing was changed. Delete unused tokens (state: absent), or '
                'rotate this one with rotation: roll, which issues a new secret under the same '
                'token' % (self.token_quota, owner, owner, self.scope_size, others))

    def caller_may_be(self, current):
        return self._caller_id() == current['id']

    def _caller_id(self):
        """The id of the token in ``api_token`` (a verify GET, asked again while Cloudflare's
        answer may be transient, remembered once conclusive), or None: it is no token of this
        kind. Raises ``IdentityUnknown`` when no conclusive answer came."""
        if self._caller is False:
            self._caller = self.ask_identity(
                ('cloudflare_caller', self.account_id),
                lambda: caller_token(self.client, self.account_id).get('id'), transient)
        return self._caller

    # -- writing --------------------------------------------------------------------------------
    def create(self, previous=None):
        """A new token as the options describe, or (``previous`` given: ``rotation: replace``)
        one with the previous token's name, policies, condition, dates and status."""
        if previous is None:
            try:
                return self._post(self.planned())
            except AmbiguousWriteError as exc:
                return self._recover_create(exc)
        return self._post(dict(previous, expires_at=isoformat(
            self._expiry_after_rotation(previous))))

    def _post(self, wanted):
        answer = self.client.post(self.path, _request_body(wanted))
        result = answer.get('result') or {}
        secret = self.client.remember_secret(
            result.get('value'),
            created=token_metadata(result, self.account_id) if result.get('id') else None)
        if not secret:
            raise TokenOpsError('the platform created token %s but returned no value; roll it '
                                '(rotate: always) to get a secret' % result.get('id'))
        token = token_metadata(result, self.account_id)
        if wanted.get('status') == 'disabled':
            token = self._put(dict(token, status='disabled'))
        return token, secret

    def _recover_create(self, exc):
        """After a create without a clear answer: look. Nothing there: create again. A token of
        this name there (none was before): it is ours and nobody holds its secret, so roll it.
        Looked for once the server is done with the lost create (``_lost_writes``)."""
        settle(self.client, exc)
        current = self.find_in(self.list_scope())
        if current is None:
            return self.create()
        secret = self._roll(current)
        token = dict(current, modified_at=isoformat(self.now))
        if self.params.get('status') == 'disabled' and token.get('status') != 'disabled':
            token = self._put(dict(token, status='disabled'))
        return token, secret

    def update(self, current, changes):
        token = dict(current)
        token.update(changes)
        return self._put(token)

    def _put(self, token):
        """A full-object PUT of ``token`` (metadata shape); returns the new metadata."""
        body = _request_body(token)
        if token.get('status') in SETTABLE_STATUSES:
            body['status'] = token['status']
        answer = self.client.put(self.path + (token['id'],), body, idempotent=True)
        result = answer.get('result') or {}
        return token_metadata(result, self.account_id) if result.get('id') else token

    def issue_replacement(self, current):
        """Replace the token (``rotation: replace``), or roll its secret in place (after moving
        the expiry where expires_in asks for it)."""
        if self.overlaps:
            token, secret = super(CloudflareTokenAdapter, self).issue_replacement(current)
        else:
            token = current
            if self.params.get('expires_in') is not None \
                    and isoformat(self.expiry) != current.get('expires_at'):
                token = self._put(dict(current, expires_at=isoformat(self.expiry)))
            secret = self._roll(token)
            token = dict(token, modified_at=isoformat(self.now))
        if self._caller is not False and current['id'] == self._caller \
                and self.params.get('allow_self_rotation'):
            self.client.use_credential(secret)
        return token, secret

    def _matches(self, listing=None):
        """The listed tokens of this name (``rotation: replace`` gives them all one name)."""
        return [raw for raw in (self.list_scope() if listing is None else listing)
                if raw.get('name') == self.params.get('name')]

    def _roll(self, token):
        path = self.path + (token['id'], 'value')
        try:
            answer = self.client.put(path, {})
        except AmbiguousWriteError as exc:
            # A roll creates nothing that could pile up: rolling again only replaces a secret that
            # nobody received. Look first, so a vanished token gives a clear error, and only once
            # the server is done with the lost roll: a roll it makes after ours would end the
            # secret this one returns.
            settle(self.client, exc)
            if self.client.get(self.path + (token['id'],), allow_not_found=True) is None:
                raise TokenOpsError('token %s disappeared while its secret was being rolled'
                                    % token['id'])
            answer = self.client.put(path, {})
        secret = answer.get('result') if isinstance(answer, dict) else None
        if not isinstance(secret, str) or not secret:
            raise TokenOpsError('the roll of token %s returned no secret; the previous secret '
                                'stopped working when the new one was issued: roll again '
                                '(rotate: always)' % token['id'])
        return self.client.remember_secret(secret)

    # -- power (``_power``) -----------------------------------------------------------------------
    def power_of(self, token):
        return token_power(token)

    def successor_power(self, current):
        """A replacement keeps everything but the expiry expires_in/expires_at move; a roll
        keeps the token itself (nothing to compare)."""
        if not self.overlaps:
            return None
        return self.power_of(dict(current, expires_at=isoformat(
            self._expiry_after_rotation(current))))

    def read_back(self, token):
        if not self.overlaps:
            return None
        body = self.client.get(self.path + (token['id'],), allow_not_found=True)
        result = (body or {}).get('result')
        return token_metadata(result, self.account_id) if result else {}

    def retire(self, previous):
        """Delete the previous token after ``replace``; a roll already ended its secret."""
        if self.overlaps:
            self.delete(previous)

    def verify(self, secret):
        """True when ``secret`` is an active token of this kind (user or this account): one
        verify GET."""
        secret = self.client.remember_secret(secret)
        try:
            body = self.client.request('GET', self.verify_path, credential=secret)
        except ApiError as exc:
            if exc.status in (401, 403):
                return False
            raise
        return (body.get('result') or {}).get('status', 'active') == 'active'

    def unusable_by_design(self, token):
        return unusable_by_design(token, self.now)

    def check_secret(self, secret, token=None):
        """What Cloudflare says of ``secret``, newly issued for ``token``: a ``Verification``.

        A token that is disabled, or whose ``not_before`` is still ahead, cannot authenticate
        anywhere yet, and one whose IP condition excludes the controller cannot authenticate
        from here (403 code 9109 "Cannot use the access token from location"; a verify from
        outside the condition has also been answered 401 code 1000): by design, not refused.
        Other 401/403 answers are asked again for ``max_verify_wait`` seconds (code 10000 while a
        new secret propagates) before they count as refused.
        """
        token = token or {}
        by_design = self.unusable_by_design(token)
        if by_design:
            return Verification(UNUSABLE_HERE, by_design)
        secret = self.client.remember_secret(secret)
        try:
            body = ask_again(lambda: self.client.request('GET', self.verify_path,
                                                         credential=secret),
                             self.verify_wait, propagating, self.sleep)
        except ApiError as exc:
            if not refused_now(exc):
                return Verification(INCONCLUSIVE, 'the check failed: %s' % exc)
            answer = status_words(exc)
            if LOCATION_REFUSAL in (exc.platform_message or ''):
                return Verification(UNUSABLE_HERE, 'Cloudflare refuses it from the controller\'s '
                                                   'address (%s): the token\'s IP condition %s '
                                                   'excludes it' % (answer, condition_words(token)))
            if token.get('condition'):
                return Verification(UNUSABLE_HERE, 'Cloudflare refused it from the controller '
                                                   '(%s%s), and the token\'s IP condition %s may '
                                                   'exclude the controller\'s address'
                                    % (answer, waited_words(self.verify_wait),
                                       condition_words(token)))
            return Verification(REFUSED, 'Cloudflare refused it: %s%s'
                                % (answer, waited_words(self.verify_wait)))
        status = (body.get('result') or {}).get('status', 'active')
        if status == 'active':
            return Verification(WORKS)
        if status == 'disabled':
            return Verification(UNUSABLE_HERE, 'Cloudflare says the token is disabled')
        return Verification(REFUSED, 'Cloudflare says the token is %s' % status)

    def _delete(self, token_id):
        self.client.delete(self.path + (token_id,))


def _request_body(token):
    """A token (metadata shape) as a create or full PUT carries it, status aside."""
    body = dict(name=token['name'],
                policies=[_request_policy(p) for p in token.get('policies') or []])
    if token.get('condition'):
        body['condition'] = token['condition']
    if token.get('expires_at'):
        body['expires_on'] = token['expires_at']
    if token.get('not_before'):
        body['not_before'] = token['not_before']
    return body


def _request_policy(policy):
    """A policy as requests carry it: no policy id, permission groups by id (and meta)."""
    groups = []
    for group in policy.get('permission_groups') or []:
        item = dict(id=group['id'])
        if group.get('meta'):
            item['meta'] = group['meta']
        groups.append(item)
    return dict(effect=policy.get('effect') or 'allow', permission_groups=groups,
                resources=policy.get('resources') or {})


def transient(exc):
    """An answer about a working credential that may be wrong for a moment: code 10000."""
    return exc.status in (401, 403) and TRANSIENT_CODE in (exc.platform_message or '')


def propagating(exc):
    """A refusal of a new secret that may still change: any 401/403 but the IP condition's."""
    return exc.status in (401, 403) and LOCATION_REFUSAL not in (exc.platform_message or '')


def caller_token(client, account_id=None):
    """What ``/user/tokens/verify`` (or the account's verify, for an account token) says of the
    module's own credential: ``{id, status, expires_at, not_before}``, all None when neither
    path accepts it as its kind of token.

    Cloudflare answers an account-owned credential on the user path with 401 code 1000, the
    answer a bad token gets (403 has been seen too), so either sends the question on to the
    account's path before the credential is called bad.
    """
    paths = [tokens_path() + ('verify',)]
    if account_id:
        paths.append(tokens_path(account_id) + ('verify',))
    unsure = None
    for number, path in enumerate(paths, 1):
        try:
            body = client.get(path)
        except ApiError as exc:
            if transient(exc):
                unsure = exc        # says nothing yet: asked again by the caller
                continue
            if exc.status == 403 or (exc.status == 401 and number < len(paths)):
                continue
            if exc.status == 401 and not account_id:
                raise with_hint(exc, 'An account-owned token (cfat_...) is refused there as a '
                                     'bad one is: give account_id to check it on its account')
            raise
        result = body.get('result') or {}
        return dict(id=result.get('id'), status=result.get('status'),
                    expires_at=_timestamp(result.get('expires_on')),
                    not_before=_timestamp(result.get('not_before')))
    if unsure is not None:
        raise unsure
    return dict(id=None, status=None, expires_at=None, not_before=None)

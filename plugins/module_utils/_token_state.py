# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The one token state machine: find, compare, create, update, rotate, delete.

A platform module supplies a :class:`TokenAdapter`; this module decides what to do with it,
and builds check mode, diff and the result that PRODUCT.md promises (``changed``, ``token``,
``secret`` only when a secret came out of this run, ``rotated``).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    AmbiguousWriteError, ApiError, TokenOpsError,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._lifetime import due_under_cap
from ansible_collections.tokenops.tokens.plugins.module_utils._lost_writes import settle
from ansible_collections.tokenops.tokens.plugins.module_utils._module import (
    build_module, make_client, run,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API
from ansible_collections.tokenops.tokens.plugins.module_utils._power import (
    issue_first, issue_successor,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._secret_file import (
    preflight, secret_file_argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    InputError, RotationPolicy, age_seconds, forget_unreadable_times, is_due, issued_at,
    parse_optional_timestamp, unknown_age, utcnow,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._verification import (
    DEFAULT_VERIFY_WAIT, INCONCLUSIVE, REFUSED, WORKS, IdentityUnknown, Verification, ask_again,
    pauses, refused_now, status_words, waited_words,
)


def listed_id(raw):
    """Index keys of a listed token by id (``TokenAdapter.listing_index``)."""
    return (raw.get('id'),)


class TokenAdapter:
    """One platform's token kind. Subclasses override what their platform can do.

    Token metadata is a dict in snake_case with at least ``id``, ``created_at`` and
    ``expires_at`` (ISO 8601 text or None). It never holds a secret.
    """

    #: the platform can delete this kind of token
    can_delete = True
    #: why ``state: absent`` cannot work, when ``can_delete`` is False
    cannot_delete_reason = None
    #: what happens to the previous secret on rotation, for the docs and the ``rotation`` result
    rotation_effect = 'the previous secret stops working at once'
    #: True when the previous secret keeps working after ``issue_replacement`` until ``retire``
    #: (the rotation role delivers in between); False when the platform replaces in place
    overlaps = False
    #: a path that any working credential of this kind may GET (``verify`` reads it)
    verify_path = None
    #: what became of the previous secret after an in-place rotation that keeps it for a window
    #: (CloudTruth's rekey), in words, as read back from the platform; None elsewhere
    previous_fate = None

    @staticmethod
    def role_defaults(params):
        """Options the rotation role sets for an item unless its ``params`` set them (a
        platform's overlapping strategy where the module's default is another)."""
        return {}

    @property
    def in_place(self):
        """True when the previous secret stops working as the new one is issued (the rotation
        report's ``in_place``): no overlap and no window."""
        return not self.overlaps

    #: the platform's published quota of tokens in one scope (``check_quota``), or None
    token_quota = None
    #: the metadata fields ``secret_issued_at`` reads, first one set first (``unknown_age``)
    issued_fields = ('created_at',)

    def __init__(self, client, params, now=None):
        self.client = client
        self.params = params
        self.now = now or utcnow()
        #: warnings found while working (what a read-back showed, what a lookup cannot see),
        #: given with the run's result
        self.notes = []
        #: how many tokens the scope's listing held (``find``; the rotation role sets it from
        #: its own listing), for ``check_quota``; None when unknown
        self.scope_size = None
        self.sleep = time.sleep

    @property
    def verify_wait(self):
        """Seconds a refused new secret or an inconclusive identity answer is asked again for."""
        wait = self.params.get('max_verify_wait')
        return DEFAULT_VERIFY_WAIT if wait is None else wait

    def validate(self):
        """Check the options that need more than the argument spec; raise ``InputError``.

        Runs before any request is sent.
        """

    def find(self):
        """The existing token's metadata, or None when there is none."""
        listing = self.list_scope()
        self.scope_size = len(listing)
        return self.find_in(listing)

    # The rotation role looks up many tokens at once: it lists each scope once (tokens whose
    # ``scope_key`` is equal share one listing) and matches every token in it with ``find_in``.
    def scope_key(self):
        """A hashable key of the listing this token lives in, within one platform, URL and
        credential (the caller adds those): for example the organization and team."""
        raise NotImplementedError

    def list_scope(self):
        """Every token of the scope, raw as the platform lists them (all pages)."""
        raise NotImplementedError

    def find_in(self, listing):
        """The metadata of this token in ``listing`` (from ``list_scope``), or None."""
        raise NotImplementedError

    def listing_index(self):
        """``(keys_of, key)``: ``find_in`` needs only the listed tokens that ``keys_of(raw)``
        (a module-level function) files under ``key``; every token this one could match must be
        filed under it. None: ``find_in`` needs the whole listing. The rotation role indexes a
        scope's listing once, so that a token is looked up in time that does not grow with
        the listing."""
        return None

    def changes(self, current):
        """Differences that can be fixed in place: ``{field: desired_value}``."""
        return {}

    def warnings(self, current):
        """Things the user asked for that this run will not do, as sentences."""
        return []

    def planned(self, current=None, changes=None):
        """The metadata the token would have after a create (``current`` None) or update."""
        token = dict(current or {})
        token.update(changes or {})
        return token

    def create(self):
        """Create the token; return ``(token, secret)``."""
        raise NotImplementedError

    def update(self, current, changes):
        """Apply ``changes`` in place; return the new metadata."""
        raise NotImplementedError

    def rotate(self, current):
        """Issue a new secret and retire the previous one; return ``(token, secret, previous_id)``."""
        token, secret = issue_successor(self, current)      # masked in later error text too
        if self.overlaps:
            try:
                self.retire(current)
            except TokenOpsError as exc:
                # The new secret works and is returned rather than lost with a failure.
                self.notes.append('the new secret was issued, but revoking the previous token '
                                  '%s failed (%s): it still works until it is deleted (state: '
                                  'absent with its token_id)' % (current['id'], exc))
                return token, secret, current['id']
        self.follow_credential(current, secret)
        return token, secret, current['id']

    def issue_replacement(self, current):
        """Issue a new secret for ``current``; return ``(token, secret)``.

        With ``overlaps`` the previous secret still works afterwards, until ``retire``.
        """
        raise NotImplementedError

    def retire(self, previous):
        """Revoke the previous token after its replacement was delivered (``overlaps`` only)."""
        self.delete(previous)

    # -- power (``_power``): what a token may do, kept by its successor ------------------------
    def power_of(self, token):
        """The attributes of ``token`` that decide what it may do, normalised so that equal power
        compares equal: ``{attribute: value}``; empty where the platform has none to keep."""
        return {}

    def successor_power(self, current):
        """The power a successor of ``current`` is asked to have (its own, by default); None when
        there is nothing to compare."""
        return self.power_of(current) or None

    def read_back(self, token):
        """The newly issued ``token`` as the platform shows it now (metadata; ``{}`` when it is
        not there), or None where nothing can differ (the same token, replaced in place)."""
        return None

    def remove_successor(self, token):
        """Delete a successor that does not carry its predecessor's power (overlapping only)."""
        self.delete(token)

    # -- platform policies (``_lifetime``) -------------------------------------------------------
    def lifetime_cap(self):
        """The ``LifetimeCap`` of this token's scope (read once per client), or None where the
        platform has no such policy or the scope is not known."""
        return None

    def unusable_by_design(self, token):
        """Why the secret of ``token`` (metadata) cannot authenticate anywhere by the token's own
        settings (disabled, not valid yet), or None; a check of such a secret says nothing."""
        return None

    def verify(self, secret):
        """True when ``secret`` authenticates against the platform (one read that needs it)."""
        return self.client.credential_works(self.verify_path, secret)

    def check_secret(self, secret, token=None):
        """What the platform says of ``secret``, newly issued for ``token``: a
        :class:`Verification`. A refusal (``verify`` False: a 401/403) is asked again after each
        of the pauses of ``verify_wait`` seconds, as a new secret may not be known everywhere
        yet; a check that fails otherwise (5xx, timeout, 404) says nothing: inconclusive."""
        if self.verify_path is None and type(self).verify is TokenAdapter.verify:
            return Verification(INCONCLUSIVE, 'this platform adapter has no way to verify a '
                                              'secret')
        waits = pauses(self.verify_wait)
        while True:
            try:
                if self.verify(secret):
                    return Verification(WORKS)
            except (InputError, TokenOpsError) as exc:
                return Verification(INCONCLUSIVE, 'the check failed: %s' % exc)
            if not waits:
                return Verification(REFUSED, 'the platform did not accept the new secret '
                                             '(401/403)%s' % waited_words(self.verify_wait))
            self.sleep(waits.pop(0))

    def delete(self, current):
        raise NotImplementedError

    def secret_issued_at(self, token):
        """When the current secret was issued (the age ``rotate: due`` measures): the first of
        ``issued_fields`` that is set."""
        return issued_at(token, self.issued_fields)

    def expires_at(self, token):
        return parse_optional_timestamp(token.get('expires_at'))

    def cannot_authenticate(self, raw):
        """Whether a listed token (raw) can never authenticate as it stands (revoked, disabled),
        beside its expiry; such a namesake never hides the live token (``one_live``)."""
        return False

    def caller_may_be(self, current):
        """Whether ``current`` is the credential in ``api_token``: True (it is, or the platform
        cannot rule it out more closely, such as a token of the caller's TFE team), False (it is
        not), None (the platform cannot tell). Adapters with their own self-rotation checks keep
        False."""
        return False

    def check_rotation(self, current):
        """Raise ``InputError`` when rotating ``current`` must not happen (self lock-out)."""
        self._refuse_self(current, 'rotate')

    def check_delete(self, current):
        """Raise ``InputError`` when deleting ``current`` must not happen (self lock-out)."""
        self._refuse_self(current, 'delete')

    def _refuse_self(self, current, verb):
        option = 'state' if verb == 'delete' else 'rotate'
        allowed = self.params.get('allow_self_rotation')
        try:
            # Asked even when allowed: the answer, remembered while the credential still works,
            # tells follow_credential later whether the rotation may have ended it.
            mine = self.caller_may_be(current)
        except IdentityUnknown as exc:
            if allowed:
                return
            raise refusal_for_unknown_identity(option, verb, current, exc)
        if mine and not allowed:
            raise InputError('%s: refusing to %s token %s: it is (or may be) the credential in '
                             'api_token, and that would lock this play out. Call the module with '
                             'another token as api_token, or set allow_self_rotation: true and '
                             'use the returned secret in later tasks'
                             % (option, verb, current['id']))

    def ask_identity(self, key, lookup, transient=None):
        """The answer of ``lookup()`` (who ``api_token`` is), remembered for the client's run
        under ``key`` only once it is conclusive. An answer ``transient(exc)`` calls transient
        (default: a 401/403 of the credential that has just listed the scope) is asked again for
        ``verify_wait`` seconds; when no conclusive answer comes, :class:`IdentityUnknown` is
        raised and nothing remembered, so that the caller refuses the change (fail closed)."""
        if key in self.client.memo:
            return self.client.memo[key]
        try:
            answer = ask_again(lookup, self.verify_wait, transient or identity_transient,
                               self.sleep)
        except ApiError as exc:
            answer = ('%s %s answered %s' % (exc.method, exc.path, status_words(exc))
                      if exc.status else str(exc))
            raise IdentityUnknown('who api_token is could not be told (%s%s)'
                                  % (answer, waited_words(self.verify_wait)))
        self.client.memo[key] = answer
        return answer

    def check_quota(self, pending=0):
        """Raise ``InputError`` when the token this run is about to add (a replacement that lives
        beside its predecessor for a while) plus ``pending`` others the same run adds to the
        scope would exceed the platform's ``token_quota``; before any write."""
        if self.token_quota is None or not self.overlaps or self.scope_size is None:
            return
        if self.scope_size + pending + 1 > self.token_quota:
            raise InputError(self.quota_message(pending))

    def quota_message(self, pending):
        """Why a replacement would exceed ``token_quota``, and the ways out (``check_quota``)."""
        raise NotImplementedError

    def follow_credential(self, previous, secret):
        """After ``previous`` stopped working: when it may have been the credential in
        ``api_token`` and that credential no longer works, carry on with ``secret`` (later
        requests of this client, and later tokens of the rotation role's connection group)."""
        try:
            mine = self.caller_may_be(previous)
        except IdentityUnknown:
            mine = None         # asked after the credential may have ended: it may be
        if mine is False or self.verify_path is None:
            return False
        if self.credential_still_works():
            return False
        self.client.use_credential(secret)
        self.notes.append('token %s was the credential in api_token: it no longer works, and '
                          'later requests of this run use the new secret; later tasks must use '
                          'the returned secret' % previous['id'])
        return True

    def credential_still_works(self):
        """Whether the client's own credential still works (a read that needs it). A refusal is
        asked again for ``verify_wait`` seconds before it counts, as a working credential is
        refused for a moment too, and the answer decides whether later requests change to
        another credential."""
        try:
            ask_again(lambda: self.client.request('GET', self.verify_path), self.verify_wait,
                      refused_now, self.sleep)
        except ApiError as exc:
            if refused_now(exc):
                return False
            raise
        return True

    def readable_secret(self, current):
        """The current secret of ``current`` where the platform lets it be read again (PactFlow),
        returned by a run that issues nothing; None elsewhere."""
        return None


def one_live(matches, dead, option, value):
    """``(live, others)``: the one live token among ``matches`` (raw tokens whose ``option``, a
    name or description the platform does not keep unique, is ``value``) and the rest.
    Namesakes that ``dead(raw)`` calls dead (expired, revoked, disabled) never hide the live one;
    two live ones, or only dead ones, are an error naming the option and their ids. One match is
    itself."""
    if len(matches) <= 1:
        return (matches[0] if matches else None), []
    live = [raw for raw in matches if not dead(raw)]
    if len(live) == 1:
        return live[0], [raw for raw in matches if raw is not live[0]]
    named = live or matches
    raise TokenOpsError('%s: %d %stokens have the %s %r (ids %s); the platform does not keep it '
                        'unique and this module will not guess: give token_id, or delete or '
                        'rename the extra one'
                        % (option, len(named), 'live ' if live else '', option, value,
                           ', '.join(sorted(m.get('id') or '?' for m in named))))


def identity_transient(exc):
    """An identity answer that may be wrong for a moment: a refusal of the credential that has
    just listed the scope. (The client itself repeats a safe request after a 429, a 5xx or a
    transport error; one that still fails is inconclusive.)"""
    return exc.status in (401, 403)


def refusal_for_unknown_identity(option, verb, current, exc):
    """The ``InputError`` of a self-affecting change refused because the identity lookup that
    guards it stayed inconclusive."""
    return InputError('%s: refusing to %s token %s: %s, so the module cannot rule out that it is '
                      'the credential in api_token, and that would lock this play out. Run again '
                      'later, or set allow_self_rotation: true if it may be the credential and '
                      'later tasks use the returned secret' % (option, verb, current['id'], exc))


def due_status(adapter, token, now, max_age=None, renew_before=None):
    """``age_seconds``, ``due`` and ``due_reason`` for an ``_info`` module's listing."""
    issued = adapter.secret_issued_at(token)
    expires = adapter.expires_at(token)
    due, reason = is_due(issued, expires, now, max_age, renew_before,
                         unknown_age(token, adapter.issued_fields, now))
    due, reason = due_under_cap(adapter.lifetime_cap(), parse_optional_timestamp(
        token.get('created_at')), expires, due, reason)
    return dict(age_seconds=age_seconds(issued, now), due=due, due_reason=reason)


class TokenStateMachine:
    """Drives an adapter to the state the module's options describe."""

    def __init__(self, module, adapter):
        self.module = module
        self.adapter = adapter
        self.params = module.params
        self.check_mode = module.check_mode
        self._warned = set()
        #: why the current token's age cannot be known (its time of issue cannot be right)
        self.age_unknown = None
        #: the scope's lifetime cap, read when the run looks at a token that exists or is created
        self.cap = None

    def _warn(self, message):
        if message not in self._warned:
            self._warned.add(message)
            self.module.warn(message)

    def run(self):
        policy = RotationPolicy.from_params(self.params)
        self.adapter.validate()
        state = self.params.get('state') or 'present'
        if state == 'absent' and not self.adapter.can_delete:
            raise InputError('state: absent is not possible: %s'
                             % self.adapter.cannot_delete_reason)
        found = self.adapter.find()
        current = forget_unreadable_times(found, self._warn, self.adapter.now)
        self.age_unknown = unknown_age(found, self.adapter.issued_fields, self.adapter.now)
        if state == 'absent':
            return self._absent(current)
        if current is None:
            return self._create()
        return self._present(current, policy)

    # ---------------------------------------------------------------------------------------
    def _result(self, changed, before, after, secret=None, rotated=False, **extra):
        after = forget_unreadable_times(after, self._warn, self.adapter.now)
        for note in self.adapter.notes:
            self._warn(note)
        result = dict(changed=changed, token=after, rotated=rotated)
        if self.cap is not None:
            result['token_policy'] = self.cap.result()
            if self.cap.unreadable:
                self._warn(self.cap.unreadable_warning())
        if secret is not None:
            result['secret'] = secret
        if self.module._diff:
            result['diff'] = dict(before=before or {}, after=after or {})
        result.update(extra)
        return result

    def _absent(self, current):
        if current is None:
            return self._result(False, None, None)
        self.adapter.check_delete(current)
        if not self.check_mode:
            self.adapter.delete(current)
        return self._result(True, current, None)

    def _create(self):
        self.cap = self.adapter.lifetime_cap()
        if self.check_mode:
            return self._result(True, None, self.adapter.planned(), rotated=True)
        try:
            token, secret = issue_first(self.adapter)
        except AmbiguousWriteError as exc:
            token, secret = self._create_again_if_nothing_was_created(exc)
        self.adapter.client.remember_secret(secret)
        return self._result(True, None, token, secret=secret, rotated=True)

    def _create_again_if_nothing_was_created(self, exc):
        """After a create with no clear answer: look (once the server is done with it,
        ``_lost_writes``), and only try again if nothing is there."""
        settle(self.adapter.client, exc)
        created = self.adapter.find()
        if created is not None:
            raise TokenOpsError(
                '%s. The platform did create token %s, but its answer, and with it the only copy '
                'of the secret, was lost. Re-run with rotate: always to issue a secret you can '
                'use, or with state: absent to remove it.' % (exc, created.get('id')),
                orphan_id=created.get('id'), changed=True)
        return issue_first(self.adapter)

    def _present(self, current, policy):
        for warning in self.adapter.warnings(current):
            self.module.warn(warning)
        changes = self.adapter.changes(current)
        expires = self.adapter.expires_at(current)
        due, reason = policy.decide(self.adapter.secret_issued_at(current), expires,
                                    self.adapter.now, self.age_unknown)
        if policy.rotate != 'never':
            # Read only when the run may issue: a token beyond the cap is due, and a new secret
            # is asked within it.
            self.cap = self.adapter.lifetime_cap()
        if policy.rotate == 'due':
            due, reason = due_under_cap(self.cap, parse_optional_timestamp(
                current.get('created_at')), expires, due, reason)
        if due:
            self.adapter.check_rotation(current)
            self.adapter.check_quota()
        if not changes and not due:
            return self._result(False, current, current, rotation_reason=reason,
                                secret=self.adapter.readable_secret(current))
        if self.check_mode:
            return self._result(True, current, self.adapter.planned(current, changes),
                                rotated=due, rotation_reason=reason)
        token = self.adapter.update(current, changes) if changes else current
        if not due:
            return self._result(True, current, token, rotation_reason=reason)
        try:
            token, secret, previous_id = self.adapter.rotate(token)
        except AmbiguousWriteError as exc:
            if self.adapter.overlaps:
                fate = 'the previous secret still works, as its token was not touched'
            else:
                fate = ('if it did, the previous secret stopped working when the new one was '
                        'issued, as a rotation in place ends it')
            raise TokenOpsError(
                '%s. Whether the rotation happened is unknown: %s, and the new secret is '
                'unknown. Re-run with rotate: always to issue a secret you can use.' % (exc, fate))
        return self._result(True, current, token, secret=secret, rotated=True,
                            previous_id=previous_id, rotation_reason=reason)


def still_works(adapter, result, written):
    """Raise ``TokenOpsError`` when another run (a second playbook or job over the same token)
    replaced the secret this run issued: the platform refuses it, and shows the token changed
    since (another token in its place, another readable value, a later issue date). A refusal
    while the token is as this run left it (an IP condition, a start date ahead, a platform still
    catching up) is not this check's business; nor is a check that cannot conclude. So one
    refusal is enough to look: the listing, not a wait, tells the two apart."""
    secret = result['secret']
    mine = result.get('token') or {}
    if adapter.verify_path is None and type(adapter).verify is TokenAdapter.verify:
        return
    if adapter.unusable_by_design(mine):
        return
    try:
        if adapter.verify(secret):
            return
    except (InputError, TokenOpsError):
        return
    try:
        listed = adapter.find()
    except (InputError, TokenOpsError):
        return
    if not _changed_since(adapter, mine, listed, secret):
        return
    raise TokenOpsError(
        'the secret this run issued for token %s no longer works: another run (a second playbook '
        'or job over the same token, or a rotation elsewhere) replaced it after this one issued '
        'it; %s. The token\'s current secret is the other run\'s: use that one, or run again to '
        'issue one for this task' % (mine.get('id'), written), changed=True)


def _changed_since(adapter, mine, listed, secret):
    """Whether the platform shows the token changed since this run issued ``secret``."""
    if listed is None or listed.get('id') != mine.get('id'):
        return True
    readable = adapter.readable_secret(listed)
    if readable is not None and readable != secret:
        return True
    now, then = adapter.secret_issued_at(listed), adapter.secret_issued_at(mine)
    return now is not None and then is not None and now > then


def run_token_module(platform, adapter_class, argument_spec, mutually_exclusive=None):
    """The whole ``main()`` of a managing module: options, client, adapter, state machine, and
    the ``secret_dest`` file."""
    spec = dict(argument_spec)
    spec.update(secret_file_argument_spec())
    module = build_module(platform, spec, mutually_exclusive)

    def work():
        dest = preflight(module.params)      # before any request
        client = make_client(API[platform], module.params)
        adapter = adapter_class(client, module.params)
        try:
            result = TokenStateMachine(module, adapter).run()
            if result.get('rotated') and result.get('secret') is not None:
                still_works(adapter, result, 'secret_dest was not written (it keeps what it held)'
                            if dest else 'the secret is not returned')
        except (InputError, TokenOpsError) as exc:
            exc.platform_changes = client.changes
            raise
        if dest and result.get('secret') is not None and not module.check_mode:
            try:
                written = dest.write(result['secret'])
            except (IOError, OSError, InputError) as exc:
                why = exc.strerror if isinstance(exc, EnvironmentError) else str(exc)
                raise TokenOpsError(
                    'secret_dest: %s cannot be written (%s). The secret of token %s was issued '
                    'but could not be delivered, so it is lost; re-run with rotate: always once '
                    'the file can be written' % (dest.path, why or type(exc).__name__,
                                                 (result.get('token') or {}).get('id')))
            result['changed'] = result['changed'] or written
            if result.get('rotated') and written:
                try:
                    still_works(adapter, result, 'secret_dest holds it')
                except TokenOpsError as exc:
                    exc.platform_changes = client.changes
                    raise
        return result

    run(module, work)

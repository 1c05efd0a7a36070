# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""Validate ``rotate_tokens`` before any request, then plan: list each scope once, find every
token in its scope's listing, read the journal of unfinished rotations, decide what is due.

Tokens are grouped by connection (platform, URL, credential, TLS and timeout settings); each
group gets its own client (one ``requests.Session``, never shared between threads) and is
planned in its own thread.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading
from concurrent.futures import ThreadPoolExecutor

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit  # type: ignore

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    RequestBudget, TokenOpsError,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._estate import scope_of
from ansible_collections.tokenops.tokens.plugins.module_utils._module import (
    checked_connection, make_client, retry_policy,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._registry import (
    PROVIDERS, ProviderUnavailable, get_provider,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    InputError, RotationPolicy, age_seconds, describe_seconds, isoformat,
    forget_unreadable_times, parse_optional_timestamp, unknown_age,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_protocol import (
    added_sinks, check_again, confirm_consumers, failure_text, recover, unexpected_failure,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_reconcile import (
    Reconciler, identity_tokens,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_report import new_row
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks import (
    TYPES, SinkError, make_sink,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.tasks import CheckTasks

ITEM_KEYS = ('provider', 'id', 'params', 'max_age', 'renew_before', 'force', 'deliver', 'limits',
             'check_tasks')
#: the keys of an item's ``limits``: requests in flight, and the budget of ``requests`` per
#: ``seconds``, for the item's credential (the smallest an item of the credential gives wins)
LIMIT_KEYS = ('concurrency', 'requests', 'seconds')
#: module options that the item itself sets (or that make no sense in a rotation)
ITEM_LEVEL = {'state': 'the role only rotates existing tokens',
              'rotate': 'use the item\'s max_age, renew_before and force',
              'max_age': 'set max_age on the item, not in params',
              'renew_before': 'set renew_before on the item, not in params'}
MAX_WORKERS = 8
#: the module options that say which token an item is (beside the platform and api_url): the
#: journal keys its records by them, so equal labels on two instances never share a record
IDENTITY_PARAMS = ('organization', 'team', 'kind', 'account_id', 'type', 'name', 'description',
                   'token_id')


class ValidationError(Exception):
    pass


class Item:
    """One validated entry of ``rotate_tokens``."""

    def __init__(self, index, raw, label, provider, params, policy, sinks, connection, adapter,
                 limits=None, check=None):
        self.index = index
        #: the consumer check (``check_tasks``), a :class:`CheckTasks`, or None
        self.check = check
        self.limits = limits or {}
        self.raw = raw
        self.label = label
        self.provider = provider
        self.params = params
        self.policy = policy
        self.sinks = sinks
        self.connection = connection
        self.adapter = adapter
        self.journal_key = journal_key(provider.name, connection[1], params, label)

    @property
    def engine_sinks(self):
        """The sinks the engine writes (all but the task files)."""
        return [s for s in self.sinks if not s.runs_as_task_file]

    @property
    def checked_before_issuing(self):
        """The sinks, and the consumer check's task file: each must pass its preflight."""
        return self.sinks + ([self.check] if self.check is not None else [])

    @property
    def task_sinks(self):
        """The sinks the role runs as task files between the engine's steps."""
        return [s for s in self.sinks if s.runs_as_task_file]

    @property
    def overlaps(self):
        return bool(self.adapter.overlaps)

    def new_adapter(self, client, now):
        adapter = self.provider.adapter_class(client, self.params, now)
        adapter.validate()
        return adapter


def journal_key(provider, base_url, params, label):
    """The token an item names: platform, API URL, identifying options and label, as one string.

    The label is part of it because some tokens are named by the credential alone (PactFlow's
    "the read-only token of whoever api_token belongs to"), which the journal must not hold and
    which changes when the token rotates itself; the URL keeps one label on two instances apart.
    """
    identity = ','.join('%s=%s' % (key, params[key]) for key in IDENTITY_PARAMS
                        if params.get(key) not in (None, ''))
    return '%s %s %s label=%s' % (provider, base_url, identity, label)


def _redact(text, values):
    for value in values:
        if value:
            text = text.replace(value, '********')
    return text


def _validator(provider):
    """One validator per platform for all its items (building one costs more than using it)."""
    validator = getattr(provider, '_rotation_validator', None)
    if validator is None:
        # Without the options the item itself sets: an unknown option's message lists only
        # what params accepts.
        spec = dict((name, option) for name, option in provider.argument_spec.items()
                    if name not in ITEM_LEVEL)
        validator = provider._rotation_validator = ArgumentSpecValidator(
            spec, mutually_exclusive=provider.mutually_exclusive)
    return validator


def _check_params(where, provider, params):
    if not isinstance(params, dict):
        raise ValidationError('%s.params: must be a dictionary of %s module options'
                              % (where, provider.name))
    for key in sorted(params):
        if key in ITEM_LEVEL:
            raise ValidationError('%s.params.%s: not allowed here; %s' % (where, key,
                                                                          ITEM_LEVEL[key]))
    result = _validator(provider).validate(params)
    secrets = list(getattr(result, '_no_log_values', ())) + [params.get('api_token')]
    if result.error_messages:
        raise ValidationError('; '.join('%s.params: %s' % (where, _redact(m, secrets))
                                        for m in result.error_messages))
    return result.validated_parameters


def validate_item(index, raw, labels, now, providers=None):
    """An :class:`Item`; raises ``ValidationError`` naming ``rotate_tokens[label].option``."""
    if not isinstance(raw, dict):
        raise ValidationError('rotate_tokens[%d]: must be a dictionary' % index)
    label = raw.get('id')
    where = 'rotate_tokens[%s]' % (label if isinstance(label, str) and label else index)
    if not isinstance(label, str) or not label.strip():
        raise ValidationError('%s.id: required, a label unique in rotate_tokens' % where)
    if label in labels:
        raise ValidationError('%s.id: %r is used by more than one item; labels must be unique'
                              % (where, label))
    labels.add(label)
    unknown = sorted(set(raw) - set(ITEM_KEYS))
    if unknown:
        raise ValidationError('%s: unsupported option(s) %s; supported: %s'
                              % (where, ', '.join(unknown), ', '.join(ITEM_KEYS)))
    if raw.get('provider') not in PROVIDERS:
        raise ValidationError('%s.provider: must be one of %s, got %r'
                              % (where, ', '.join(PROVIDERS), raw.get('provider')))
    try:
        providers = {} if providers is None else providers
        if raw['provider'] not in providers:
            providers[raw['provider']] = get_provider(raw['provider'])
        provider = providers[raw['provider']]
    except ProviderUnavailable as exc:
        raise ValidationError('%s.provider: %s' % (where, exc))
    params = raw.get('params') or {}
    if isinstance(params, dict):
        params = dict(provider.adapter_class.role_defaults(params), **params)
    params = _check_params(where, provider, params)
    force = raw.get('force', False)
    if not isinstance(force, bool):
        raise ValidationError('%s.force: must be true or false' % where)
    if not force and raw.get('max_age') is None and raw.get('renew_before') is None:
        raise ValidationError('%s: give max_age or renew_before (or both) to decide when the '
                              'token is due, or force: true' % where)
    try:
        policy = RotationPolicy('always' if force else 'due', raw.get('max_age'),
                                raw.get('renew_before'))
    except InputError as exc:
        raise ValidationError('%s.%s' % (where, exc))
    deliver = raw.get('deliver')
    if not isinstance(deliver, list) or not deliver:
        raise ValidationError('%s.deliver: required, a list of at least one sink (%s); a '
                              'rotated secret must go somewhere' % (where, ', '.join(TYPES)))
    sinks = []
    for position, sink in enumerate(deliver):
        try:
            sinks.append(make_sink(sink, '%s.deliver[%d]' % (where, position), label,
                                   provider.name, provider.token_env))
        except SinkError as exc:
            raise ValidationError(str(exc))
    check = None
    if raw.get('check_tasks') is not None:
        try:
            check = CheckTasks.for_item(raw['check_tasks'], '%s.check_tasks' % where, label,
                                        provider.name)
        except SinkError as exc:
            raise ValidationError(str(exc))
    try:
        base_url, token = checked_connection(provider.name, params)
        adapter = provider.adapter_class(None, params, now)
        adapter.validate()
    except InputError as exc:
        raise ValidationError('%s.params.%s' % (where, exc))
    connection = (provider.name, base_url, token, bool(params.get('validate_certs', True)),
                  params.get('timeout'), params.get('max_retry_wait'), params.get('max_body_mib'))
    for sink in sinks:
        sink.rotating(provider.name, base_url, token)
    return Item(index, raw, label, provider, params, policy, sinks, connection, adapter,
                _check_limits(where, raw.get('limits')), check)


def _check_limits(where, limits):
    if limits is None:
        return {}
    if not isinstance(limits, dict) or set(limits) - set(LIMIT_KEYS):
        raise ValidationError('%s.limits: must be a dictionary with some of %s'
                              % (where, ', '.join(LIMIT_KEYS)))
    checked = {}
    for key, value in limits.items():
        kind = float if key == 'seconds' else int
        try:
            checked[key] = kind(value)
        except (TypeError, ValueError):
            checked[key] = 0
        if isinstance(value, bool) or checked[key] <= 0:
            raise ValidationError('%s.limits.%s: must be a positive number, got %r'
                                  % (where, key, value))
    return checked


class Limits:
    """How one credential's requests are spread: ``concurrency`` in flight, a shared budget.

    The platform's defaults (``ApiSpec.rate_limit``, ``ApiSpec.concurrency``) stay below its
    published rate limit; an item's ``limits`` may change them, and the strictest item of the
    credential wins.
    """

    def __init__(self, group):
        api = group[0].provider.api
        requests, seconds = api.rate_limit
        given = [item.limits for item in group if item.limits]
        self.concurrency = min([g['concurrency'] for g in given if 'concurrency' in g]
                               or [api.concurrency])
        rates = [(g.get('requests', requests), g.get('seconds', seconds))
                 for g in given if 'requests' in g or 'seconds' in g]
        requests, seconds = min(rates or [(requests, seconds)], key=lambda r: r[0] / r[1])
        # No wait for the budget (a platform's pause or spent quota) is longer than one the
        # connection's max_retry_wait allows: a server that asks for a day gets the bound.
        self.budget = RequestBudget(requests, seconds,
                                    longest_wait=retry_policy(group[0].params).max_wait)


def validate_items(tokens, now, only=None):
    """Every item checked before any request; all problems are reported at once. With ``only``
    (a set of labels), just those items, for a step that needs no others."""
    if not isinstance(tokens, list):
        raise ValidationError('rotate_tokens: must be a list')
    items, errors, labels, providers = [], [], set(), {}
    for index, raw in enumerate(tokens):
        if only is not None and not (isinstance(raw, dict) and raw.get('id') in only):
            continue
        try:
            items.append(validate_item(index, raw, labels, now, providers))
        except ValidationError as exc:
            errors.append(str(exc))
    seen = {}
    for item in items:
        for sink in item.sinks:
            if sink.target is None:
                continue
            if sink.target in seen:
                label, where = seen[sink.target]
                errors.append('%s: writes %s, as %s does; %s' % (
                    sink.where, sink.target, where,
                    'two sinks of one token cannot write one file or stored secret'
                    if label == item.label else 'two tokens cannot share a file or a stored '
                                                'secret'))
            seen.setdefault(sink.target, (item.label, sink.where))
    errors += _same_token_twice(items)
    if errors:
        raise ValidationError('; '.join(errors))
    return items


def _same_token_twice(items):
    """Two items with one credential and one identity name one token: each run would rotate it
    twice, and once two generations exist, every later lookup fails as ambiguous."""
    errors, named = [], {}
    for item in items:
        token = (item.connection, journal_key(item.provider.name, item.connection[1],
                                              item.params, ''))
        if token in named:
            errors.append('rotate_tokens[%s]: names the same token as rotate_tokens[%s] (same '
                          'platform, URL, credential and options that find it); give one item '
                          'all the sinks' % (item.label, named[token]))
        named.setdefault(token, item.label)
    return errors


def group_by_connection(items):
    groups = {}
    for item in items:
        groups.setdefault(item.connection, []).append(item)
    return list(groups.values())


def for_each_token(client, plans, work):
    """``work(client, planned)`` for every plan of one connection group; results in plan order.

    Due tokens run up to the credential's ``concurrency`` at once, each thread on its own client
    (a ``requests.Session`` is not shared between threads), all spending the credential's one
    request budget and sharing the client's memo. The first due token runs alone, so that the
    memo (the caller's identity, resolved teams) is filled once, not by every thread.
    """
    results = [None] * len(plans)
    due = [index for index, planned in enumerate(plans) if planned.due and not planned.error]
    alone = due[:1] + [index for index, planned in enumerate(plans) if index not in set(due)]
    for index in alone:
        results[index] = work(client, plans[index])
    rest = due[1:]
    concurrency = getattr(client, 'concurrency', 1)
    if concurrency <= 1 or len(rest) <= 1:
        for index in rest:
            results[index] = work(client, plans[index])
        return results
    local = threading.local()

    def run(index):
        worker = getattr(local, 'client', None)
        if worker is None:
            worker = local.client = client.spawn()
        if plans[index].adapter is not None:
            plans[index].adapter.client = worker
        return work(worker, plans[index])

    with ThreadPoolExecutor(max_workers=min(concurrency, len(rest))) as pool:
        for index, result in zip(rest, pool.map(run, rest)):
            results[index] = result
    return results


def run_groups(groups, work):
    """``work(group)`` for every group, groups in parallel; results in group order."""
    if len(groups) <= 1:
        return [work(group) for group in groups]
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(groups))) as pool:
        return list(pool.map(work, groups))


class Planned:
    """The plan for one token: what exists, whether it is due, what an earlier run left."""

    def __init__(self, item):
        self.item = item
        self.adapter = None
        self.current = None
        self.due = False
        self.create = False
        self.reason = None
        self.error = None
        self.matched_ids = []
        self.orphan_ids = []
        self.superseded_ids = []
        self.retire_now_ids = []
        self.entry = None
        self.listing = None
        self.issued = None
        self.finish_entry = False
        self.check_again = False
        #: why the platform's time of issue of the current token cannot be right, or None
        self.age_unknown = None
        self.notes = []
        #: the current secret, read from the platform, to deliver again without rotating
        #: (another run rotated the token and this run's sinks hold a dead secret)
        self.redeliver = None

    @property
    def label(self):
        return self.item.label

    def row(self, now, check_mode=False):
        item = self.item
        row = new_row(item.label, item.provider.name, item.provider.title)
        row['overlaps'] = item.overlaps
        row['in_place'] = item.adapter.in_place
        row['notes'] = list(self.notes)
        # what the metrics need: where the token lives, whether it is due, its times
        row['scope'] = scope_of(item.provider.name, item.params, self.current or {})
        row['due'] = None if self.error is not None else bool(self.due)
        if self.current is not None:
            issued = self.issued
            age = age_seconds(issued, now)
            row.update(token_id=self.current.get('id'),
                       age_days=None if age is None else age // 86400,
                       expires_at=isoformat(self.adapter.expires_at(self.current)),
                       issued_at=isoformat(issued),
                       last_used_at=self.current.get('last_used_at'))
        if self.error is not None:
            row.update(action='failed', reason='could not plan', error=self.error)
        elif self.due:
            row.update(action='would rotate', reason=self.reason)
        else:
            row.update(action='not due', reason=self.reason)
        return row


class Listing:
    """One scope's listing, with an index per key function (``TokenAdapter.listing_index``) built
    on first use, so that looking up one token costs the same in a listing of ten or ten
    thousand."""

    def __init__(self, raws):
        self.raws = raws
        self._indexes = {}
        self._lock = threading.Lock()

    def candidates(self, adapter):
        """The listed tokens ``adapter`` could match (all of them if it keeps no index)."""
        index = adapter.listing_index()
        if index is None:
            return self.raws
        keys_of, key = index
        with self._lock:
            table = self._indexes.get(keys_of)
            if table is None:
                table = self._indexes[keys_of] = {}
                for raw in self.raws:
                    for listed_key in set(keys_of(raw)):
                        table.setdefault(listed_key, []).append(raw)
        return table.get(key, [])


def _ids_matching(item, client, listing, now):
    """``[(id, raw)]`` of the listed tokens that match ``item``'s identity, live or not."""
    return [(token_id, raw) for token_id, raw, _token, _live
            in identity_tokens(item, client, listing, now)]


def issued_at(planned, journal):
    """When the current secret was issued: the platform's word, else this role's last rotation."""
    issued = planned.adapter.secret_issued_at(planned.current)
    if issued is not None:
        return issued, None
    record = journal.last_rotation(planned.item)
    if record and record.get('token_id') == planned.current.get('id'):
        return parse_optional_timestamp(record.get('rotated_at')), record
    return None, None


def not_due_reason(policy, issued, expires, now):
    parts = []
    if policy.max_age is not None and issued is not None:
        parts.append('issued %d days ago, max_age %s'
                     % ((now - issued).days, describe_seconds(policy.max_age)))
    if expires is not None:
        window = ''
        if policy.renew_before is not None:
            window = ', renew_before %s' % describe_seconds(policy.renew_before)
        parts.append('expires at %s%s' % (isoformat(expires), window))
    return 'not due: %s' % '; '.join(parts) if parts else 'not due'


def lifetime_breach(planned):
    """Why the current token is beyond its platform's lifetime cap, or None; a cap that could
    not be read is noted on the row."""
    cap = planned.adapter.lifetime_cap()
    if cap is None:
        return None
    if cap.unreadable:
        planned.notes.append(cap.unreadable_warning())
    return cap.breach(parse_optional_timestamp(planned.current.get('created_at')),
                      planned.adapter.expires_at(planned.current))


def decide(planned, journal, now):
    """(due, reason) for the current token under the item's policy and its platform's cap."""
    item = planned.item
    breach = lifetime_breach(planned)
    if breach:
        return True, breach
    issued, record = issued_at(planned, journal)
    expires = planned.adapter.expires_at(planned.current)
    if issued is None and expires is None and item.policy.rotate == 'due':
        return True, ('age unknown: %s does not say when a secret was issued and this role has '
                      'no record of rotating it; rotating now starts a known age'
                      % item.provider.title)
    if item.policy.rotate == 'always':
        return True, 'force: true'
    due, reason = item.policy.decide(issued, expires, now,
                                     planned.age_unknown if record is None else None)
    if not due:
        reason = not_due_reason(item.policy, issued, expires, now)
    if record is not None and reason:
        reason += ' (age counted from this role\'s last rotation)'
    return due, reason


def traced(client):
    """``client``, remembering the request it sent last (``last_request``: method and path), so
    that an error no step expects can say which answer it followed."""
    send = client.request

    def request(method, path, *args, **kwargs):
        try:
            shown = urlsplit(client.url_for(path)).path
        except Exception:  # pylint: disable=broad-except
            shown = str(path)
        client.last_request = (method, shown)
        return send(method, path, *args, **kwargs)

    client.last_request = None
    client.request = request
    return client


def plan_group(group, journal, now, on_client=None):
    """Plan every item of one connection group; returns ``(client, [Planned])``."""
    limits = Limits(group)
    client = traced(make_client(group[0].provider.api, group[0].params, budget=limits.budget))

    def spawn():
        """Another client of the same credential, for another thread (``for_each_token``)."""
        worker = traced(make_client(group[0].provider.api, group[0].params,
                                    budget=limits.budget))
        worker.memo = client.memo
        return worker

    client.concurrency, client.spawn = limits.concurrency, spawn
    if on_client is not None:
        on_client(client)
    listings = {}
    added = {}          # scope -> replacements this run creates there
    plans = []
    for item in group:
        planned = Planned(item)
        plans.append(planned)
        try:
            adapter = planned.adapter = item.new_adapter(client, now)
            entry = journal.get(item)
            reconciler = None
            try:
                scope = adapter.scope_key()
            except NotImplementedError:
                scope = None
            excluded = set()
            if scope is None:
                # This adapter cannot look up many tokens in one listing: one lookup per token.
                current = adapter.find()
                if entry is not None:
                    excluded = recover(planned, entry, [current['id']] if current else [])
            else:
                if scope not in listings:
                    listings[scope] = Listing(adapter.list_scope())
                planned.listing = listings[scope]
                if entry is not None:
                    matched = _ids_matching(item, client, planned.listing, now)
                    excluded = recover(planned, entry, [token_id for token_id, raw in matched])
                    candidates = [raw for token_id, raw in matched if token_id not in excluded]
                else:
                    matched = identity_tokens(item, client, planned.listing, now)
                    reconciler = Reconciler(planned, journal, now)
                    excluded = reconciler.narrow([m for m in matched if m[3]])
                    candidates = [raw for token_id, raw, token, live in matched
                                  if token_id not in excluded]
                current = adapter.find_in(candidates)
            planned.notes.extend(adapter.notes)     # what the lookup saw (dead namesakes)
            del adapter.notes[:]
            planned.age_unknown = unknown_age(current, adapter.issued_fields, now)
            current = forget_unreadable_times(current, planned.notes.append, now)
            planned.current = current
            if planned.check_again:
                check_again(planned, entry)
            if current is not None:
                planned.issued = issued_at(planned, journal)[0]
            if current is not None and current.get('id') in excluded:
                current = planned.current = None
            if current is None:
                if planned.due and not item.overlaps:
                    planned.create = True
                    planned.reason += '; the token is gone, a new one is created'
                else:
                    planned.error = ('token not found on %s; the rotation role rotates existing '
                                     'tokens: create it first with the %s module'
                                     % (item.provider.title, item.provider.name))
                continue
            if not planned.due:
                planned.due, planned.reason = decide(planned, journal, now)
            if reconciler is not None:
                reconciler.after_lookup(current)
            if not planned.due and entry is None:
                added_sinks(planned, journal)
            if not planned.due and entry is None:
                confirm_consumers(planned)
            if planned.due:
                adapter.check_rotation(current)
                if planned.listing is not None:
                    adapter.scope_size = len(planned.listing.raws)
                # A replacement lives beside its predecessor for a while: the scope must have
                # room for it and for the replacements of this run's earlier items.
                adapter.check_quota(added.get(scope, 0))
                if item.overlaps:
                    added[scope] = added.get(scope, 0) + 1
        except (InputError, TokenOpsError) as exc:
            planned.error = failure_text(exc)
        except Exception as exc:  # pylint: disable=broad-except
            planned.error = unexpected_failure(exc, item, client)
    return client, plans

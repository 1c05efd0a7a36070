# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The steps of a rotation run, for every token at once: plan, issue, finish.

``issue``: plan, then walk each due token through the rotation protocol
(``_rotation_protocol.Rotation``: issue, verify, deliver to the sinks the engine writes, and,
when the token has no task-file sink, revoke the previous secret). ``finish``: after the role ran
the task-file sinks, carry on the rotations that waited for them, and write the report. This
module keeps what concerns many tokens: connection groups and threads, fail-fast, the rows in
order, and what passes from one step to the next. A token whose verification or delivery
failed keeps its previous secret (where the platform can keep two) and is reported as failed;
the others carry on.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import errno
import threading

from ansible_collections.tokenops.tokens.plugins.module_utils._module import make_client
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import isoformat, utcnow
from ansible_collections.tokenops.tokens.plugins.plugin_utils import _rotation_hygiene as hygiene
from ansible_collections.tokenops.tokens.plugins.plugin_utils import _rotation_report as report
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_journal import Journal
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_plan import (
    Limits, _ids_matching, for_each_token, group_by_connection, plan_group, run_groups, traced,
    validate_items,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_protocol import (
    Rotation, preflight, sink_notes, unexpected_failure,
)


def sink_problem(item, check_mode=True):
    """Why a sink of ``item`` could not take a new secret (the first found), or None."""
    return preflight(item.checked_before_issuing, check_mode)[1]


class Run:
    """Shared state of one step: the journal, the rows, fail-fast."""

    def __init__(self, tokens, state_dir, fail_fast=False, check_mode=False, now=None,
                 only=None, cancelled=None):
        self.now = now or utcnow()
        #: set when the run that started this step is gone: no further token is started
        self.cancelled = cancelled or threading.Event()
        self.items = validate_items(tokens, self.now, only)
        self.journal = Journal(state_dir, write=not check_mode)
        self.fail_fast = fail_fast
        self.check_mode = check_mode
        self.stop = threading.Event()
        self.deliveries = []
        self.checks = []
        #: the preflight states the finish step needs for a rollback, by label (no_log only)
        self.states = {}
        self.outcomes = []
        #: ``[(client, [Planned])]`` of the plan (the scopes' listings, for the hygiene)
        self.plans = []
        #: the files a full disk kept this step from writing (ENOSPC)
        self.full = set()
        self._lock = threading.Lock()

    # -- plan -------------------------------------------------------------------------------
    def plan(self):
        """``[(client, [Planned])]`` per connection group, groups planned in parallel."""
        groups = group_by_connection(self.items)
        self.plans = run_groups(groups, lambda group: plan_group(group, self.journal, self.now))
        return self.plans

    def hygiene(self, rows, durations):
        """The report's hygiene of the scopes the plan listed; ``durations``: the seconds of
        ``(expiring_within, unused_for)``, or None for no hygiene."""
        if durations is None:
            return None
        return hygiene.hygiene(self.plans, rows, self.now, *durations)

    def plan_rows(self, show_deliveries=False):
        """The plan's rows; ``show_deliveries`` (check mode): a due token's row says where its
        new secret would be written."""
        planned = [p for client, plans in self.plan() for p in plans]
        for p in planned:
            why = p.due and not p.error and sink_problem(p.item)
            if why:
                p.notes.append('will fail before issuing: %s' % why)
            elif p.due and not p.error and show_deliveries:
                p.notes.append('would deliver to %s'
                               % ', '.join(sink.describe() for sink in p.item.sinks))
                # what the sinks' checks found that a real run would change before issuing
                p.notes.extend(sink_notes(p.item.sinks))
        rows = self._ordered([p.row(self.now, self.check_mode) for p in planned])
        work = any(p.due or p.retire_now_ids or p.finish_entry or p.redeliver
                   for p in planned if not p.error)
        return rows, work

    def _ordered(self, rows):
        order = dict((item.label, item.index) for item in self.items)
        return sorted(rows, key=lambda row: order.get(row['label'], 0))

    # -- issue ------------------------------------------------------------------------------
    def issue(self):
        plans = self.plan()
        if self.fail_fast and any(p.error for client, group in plans for p in group):
            self.stop.set()
        rows = run_groups(plans, lambda pair: for_each_token(pair[0], pair[1], self._issue_one))
        return self._ordered([row for group in rows for row in group])

    def _fail(self, row, message):
        row.update(action='failed', error=message)
        if self.fail_fast:
            self.stop.set()
        return row

    def _issue_one(self, client, planned):
        row = planned.row(self.now)
        item = planned.item
        if planned.error:
            return self._fail(row, planned.error)
        if not (planned.due or planned.retire_now_ids or planned.finish_entry or planned.redeliver):
            return row
        if self.cancelled.is_set():
            row.update(action='skipped', reason='not attempted: the run was cancelled')
            return row
        if self.stop.is_set():
            row.update(action='skipped', reason='not attempted: rotate_fail_fast stopped the run '
                                                'at the first failure')
            return row

        def known_ids():
            if not item.overlaps or planned.listing is None:
                return []
            return [token_id for token_id, raw in _ids_matching(item, client, planned.listing,
                                                                self.now)]

        rotation = Rotation(item, client, self.journal, self.now, row)
        try:
            row = rotation.start(planned, planned.adapter, known_ids)
        except Exception as exc:  # pylint: disable=broad-except
            row = self._unexpected(rotation, exc, client)
        row = self._stop_if_failed(row)
        if rotation.awaiting:
            with self._lock:
                self.outcomes.append(rotation.outcome())
                self.deliveries.extend(rotation.deliveries)
                self.checks.extend(rotation.checks)
                carried = rotation.carried_states()
                if carried and item.check is not None:
                    self.states[item.label] = carried
        return row

    def _unexpected(self, rotation, exc, client):
        """One token's error that no step expects fails that token, never the step."""
        rotation.awaiting = False
        if isinstance(exc, EnvironmentError) and exc.errno == errno.ENOSPC:
            with self._lock:
                self.full.add(getattr(exc, 'filename', None) or '?')
        return rotation.fail(unexpected_failure(exc, rotation.item, client))

    def full_disk_warning(self):
        """After ENOSPC: the files that could not be written and the rotations left open."""
        if not self.full:
            return []
        left = sorted('%s (%s)' % (entry.get('label'), entry.get('step'))
                      for entry in self.journal.unfinished().values())
        return ['No space left on device writing %s: the rotations left open are %s. Free '
                'space there, then run again: the next run finishes them from the journal'
                % (', '.join(sorted(self.full)), ', '.join(left) or 'none')]

    def _stop_if_failed(self, row):
        if row['action'] == 'failed' and self.fail_fast:
            self.stop.set()
        return row

    # -- finish -----------------------------------------------------------------------------
    def finish(self, rows, outcomes, task_failures, check_failures=None, states=None):
        """Close the rotations that waited for task-file sinks and consumer checks; return the
        final rows. ``states``: the preflight states the issue step carried, by label."""
        by_label = dict((row['label'], dict(row)) for row in rows)
        failures = {}
        for failure in task_failures or []:
            failures.setdefault(failure.get('label'), []).append(failure)
        checks = {}
        for failure in check_failures or []:
            checks.setdefault(failure.get('label'), check_failure_text(failure))
        states = states or {}
        items = dict((item.label, item) for item in self.items)
        work = [(items[o['label']], o) for o in outcomes or [] if o['label'] in items]
        groups = {}
        for item, outcome in work:
            groups.setdefault(item.connection, []).append((item, outcome))

        def finish_group(pairs):
            # the credential's request budget, as in the issue step: the revocations of many
            # tokens would otherwise go at full speed into the platform's rate limit
            budget = Limits([item for item, outcome in pairs]).budget
            client = traced(make_client(pairs[0][0].provider.api, pairs[0][0].params,
                                        budget=budget))
            return [self._finish_one(client, item, outcome, by_label[item.label],
                                     failures.get(item.label), checks.get(item.label),
                                     states.get(item.label))
                    for item, outcome in pairs]

        for row in [r for group in run_groups(list(groups.values()), finish_group) for r in group]:
            by_label[row['label']] = row
        return list(by_label.values())      # in the order of V(issue)'s rows

    def _finish_one(self, client, item, outcome, row, failed, check_failure, states):
        rotation = Rotation(item, client, self.journal, self.now, dict(row))
        mismatch = not_recorded(self.journal.get(item), outcome)
        if mismatch:
            return rotation.fail('the hand-off from the issue step does not match what this run '
                                 'recorded in the journal (%s): nothing was revoked, and the next '
                                 'run finishes the rotation from the journal' % mismatch)
        try:
            return rotation.resume(outcome, states).after_task_files(failed, check_failure)
        except Exception as exc:  # pylint: disable=broad-except
            return self._unexpected(rotation, exc, client)


def not_recorded(entry, outcome):
    """Why ``outcome`` (what the hand-off says the issue step did for a token) is not what the
    issue step recorded in the journal, or None. The finish step revokes only the predecessor and
    the abandoned successors that this run recorded: the hand-off alone never names a token to
    revoke."""
    if not entry:
        return 'no rotation of this token is open in the journal'
    named = dict(previous=(outcome.get('previous') or {}).get('id'),
                 new=(outcome.get('token') or {}).get('id'))
    recorded = dict(previous=entry.get('previous_id'), new=entry.get('token_id'))
    for what in ('previous', 'new'):
        if named[what] != recorded[what]:
            return 'it names %s token %s, the journal %s' % (what, named[what], recorded[what])
    extra = set(outcome.get('superseded') or []) - set(entry.get('superseded') or [])
    if extra:
        return 'it names superseded tokens %s that the journal does not' % ', '.join(sorted(extra))
    return None


def named_check_failures(failures, checks):
    """The failed consumer checks as the role recorded them, each failed task's name left out
    when it holds the new secret its check was given (``checks``: the issue step's) or an
    untemplated template: ansible-core templates task names, and a name may quote the secret."""
    given = {}
    for check in checks or []:
        given.setdefault(check.get('label'), []).append(check.get('secret'))
    named = []
    for failure in failures or []:
        task = str(failure.get('task') or '')
        if '{{' in task or any(secret and secret in task
                               for secret in given.get(failure.get('label'), [])):
            task = ''
        named.append(dict(failure, task=task))
    return named


def check_failure_text(failure):
    """Why a consumer check failed, as the role recorded it (a file, maybe a task's name)."""
    text = 'the check task file %s failed' % (failure.get('file') or '?')
    if failure.get('task'):
        text += ' at the task "%s"' % failure['task']
    return text


def failed_labels(rows):
    return [row['label'] for row in rows if row['action'] == 'failed']


NO_JOURNAL = ('rotate_state_dir %s holds no journal yet, so this is taken as the first rotation '
              'run here; the journal starts with this run. If the directory does not outlive a run '
              '(AWX and other container-based runners start every job in a fresh file system), '
              'keep it on persistent storage (docs/awx.md): without a journal, a run cannot finish '
              'a rotation that an earlier run left half done, and PactFlow ages are counted from '
              'scratch')


def plan_step(tokens, state_dir, check_mode, now=None, durations=None):
    """Plan only; ``durations``: see ``Run.hygiene``."""
    run = Run(tokens, state_dir, check_mode=True, now=now)
    rows, work = run.plan_rows(show_deliveries=check_mode)
    generated = isoformat(run.now)
    found = run.hygiene(rows, durations)
    result = dict(rows=rows, work=work, summary=report.summary(rows), hygiene=found,
                  **_no_journal_notice(run.journal))
    if check_mode:
        result['report_md'] = report.markdown(rows, generated, check_mode=True, hygiene=found)
        result['report'] = report.document(rows, generated, check_mode=True, hygiene=found)
    return result


def _no_journal_notice(journal):
    """Say so, as information, when the state directory holds no journal (read before the step
    writes one): a first run is no fault. The action plugin prints ``notices``."""
    return {} if journal.exists else dict(notices=[NO_JOURNAL % journal.state_dir])


def issue_step(tokens, state_dir, fail_fast, now=None, cancelled=None, durations=None):
    """Plan (the listings are read here, under the step lock) and issue what is due; once
    ``cancelled`` is set, no further token is started. ``durations``: see ``Run.hygiene``."""
    run = Run(tokens, state_dir, fail_fast=fail_fast, now=now, cancelled=cancelled)
    notice = _no_journal_notice(run.journal)
    rows = run.issue()
    warnings = run.full_disk_warning()
    return dict(rows=rows, outcomes=run.outcomes, deliveries=run.deliveries, checks=run.checks,
                states=run.states, failed_tokens=failed_labels(rows),
                hygiene=run.hygiene(rows, durations), **dict(notice, **(
                    dict(warnings=warnings) if warnings else {})))


def finish_step(tokens, state_dir, report_dir, rows, outcomes, task_failures, now=None,
                check_failures=None, states=None, hygiene=None):
    """Close what waited for the task-file sinks and consumer checks, and write the report
    (with the ``hygiene`` the issue step found). Only the items with such an outcome are
    checked again (the issue step checked them all)."""
    run = Run(tokens, state_dir, now=now, only=set(o['label'] for o in outcomes or []))
    rows = run.finish(rows, outcomes, task_failures, check_failures, states)
    try:
        run.journal.create()         # the next run knows this directory outlived a run
    except EnvironmentError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        run.full.add(exc.filename or run.journal.path)
    generated = isoformat(run.now)
    json_path, md_path, text = report.write(report_dir, rows, generated, hygiene)
    result = dict(rows=rows, failed_tokens=failed_labels(rows), summary=report.summary(rows),
                  report_md=text, report_json_path=json_path, report_md_path=md_path)
    if run.full:
        result['warnings'] = run.full_disk_warning()
    return result

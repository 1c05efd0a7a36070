# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The steps of a rotation run, for every token at once: plan, issue, finish.

``issue``: for each due token, record the rotation in the journal, issue a new secret, verify
it with a read that needs it, deliver it to the file and vault sinks (all or none), and, when the
token has no task-file sink, revoke the previous secret where the platform kept it alive.
``finish``: after the user's task files ran, revoke what is left to revoke, close the journal
entries and write the report. A token whose verification or delivery failed keeps its previous
secret (where the platform can keep two) and is reported as failed; the others carry on.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    AmbiguousWriteError, TokenOpsError,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._module import make_client
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    InputError, isoformat, utcnow,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils import _rotation_report as report
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_journal import (
    DELIVERED, ISSUED, ISSUING, UNVERIFIED, Journal,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_plan import (
    _ids_matching, failure_text, for_each_token, group_by_connection, plan_group, run_groups,
    validate_items, verify_secret,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_sinks import (
    SinkError, deliver_files, describe, preflight,
)

ERRORS = (InputError, TokenOpsError)
IN_PLACE_NOTE = ('replaced in place: the previous secret stopped working when the new one was '
                 'issued, so it was delivered at once')


def issue_secret(adapter, current):
    """``(token, secret)`` of a replacement for ``current``."""
    try:
        return adapter.issue_replacement(current)
    except NotImplementedError:
        if adapter.overlaps:
            raise
        # An in-place adapter without issue_replacement: its rotate() is issue-and-replace.
        token, secret, dummy = adapter.rotate(current)
        return token, secret


def sink_problem(item):
    """Why a sink of ``item`` could not take a new secret (the first found), or None."""
    try:
        for sink in item.sinks:
            preflight(sink)
    except SinkError as exc:
        return str(exc)
    return None


class Run:
    """Shared state of one step: the journal, the rows, fail-fast."""

    def __init__(self, tokens, state_dir, fail_fast=False, check_mode=False, now=None,
                 only=None):
        self.now = now or utcnow()
        self.items = validate_items(tokens, self.now, only)
        self.journal = Journal(state_dir, write=not check_mode)
        self.fail_fast = fail_fast
        self.check_mode = check_mode
        self.stop = threading.Event()
        self.deliveries = []
        self.outcomes = []
        self._lock = threading.Lock()

    # -- plan -------------------------------------------------------------------------------
    def plan(self):
        """``[(client, [Planned])]`` per connection group, groups planned in parallel."""
        groups = group_by_connection(self.items)
        return run_groups(groups, lambda group: plan_group(group, self.journal, self.now))

    def plan_rows(self):
        planned = [p for client, plans in self.plan() for p in plans]
        for p in planned:
            why = p.due and not p.error and sink_problem(p.item)
            if why:
                p.notes.append('will fail before issuing: %s' % why)
        rows = self._ordered([p.row(self.now, self.check_mode) for p in planned])
        work = any(p.due or p.retire_now_ids or p.finish_entry for p in planned if not p.error)
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
        if not (planned.due or planned.retire_now_ids or planned.finish_entry):
            return row
        if self.stop.is_set():
            row.update(action='skipped', reason='not attempted: rotate_fail_fast stopped the run '
                                                'at the first failure')
            return row
        why = planned.due and sink_problem(item)
        if why:
            return self._fail(row, 'a sink cannot take a new secret, so none was issued '
                                   '(nothing was changed on %s): %s' % (item.provider.title, why))
        try:
            self._cleanup(client, planned)
        except ERRORS as exc:
            return self._fail(row, 'cleaning up after an interrupted run failed: %s'
                              % failure_text(exc))
        if not planned.due:
            self.journal.finish(item)
            return row
        previous = planned.current
        known = []
        if item.overlaps and planned.listing is not None:
            matching = _ids_matching(item, client, planned.listing, self.now)
            known = [token_id for token_id, raw in matching]
        earlier = dict(planned.entry) if planned.entry else None
        self.journal.record(item, step=ISSUING, token_id=None,
                            previous_id=previous.get('id') if previous else None,
                            known_ids=known, delivered=[], superseded=planned.superseded_ids,
                            overlaps=item.overlaps, started_at=isoformat(self.now))
        try:
            if planned.create:
                token, secret = planned.adapter.create()
            else:
                token, secret = issue_secret(planned.adapter, previous)
        except AmbiguousWriteError as exc:
            return self._fail(row, '%s. Whether a new secret was issued is unknown; the journal '
                                   'keeps this rotation and the next run finishes it'
                              % failure_text(exc))
        except ERRORS as exc:
            if not item.overlaps:
                # In place, a failed issue may already have ended the previous secret (TFE deletes
                # a described token before creating its successor): the journal keeps the
                # rotation open, so the next run rotates again (or recreates it) and delivers.
                return self._fail(row, 'issuing a new secret failed: %s. On %s this may already '
                                       'have ended the previous secret; the journal keeps this '
                                       'rotation and the next run rotates again'
                                  % (failure_text(exc), item.provider.title))
            self._restore(item, earlier)
            return self._fail(row, 'issuing a new secret failed: %s' % failure_text(exc))
        self.journal.record(item, step=ISSUED, token_id=token.get('id'))
        if previous and not item.overlaps:
            # In place, the previous secret is dead now: if it was this group's credential, the
            # group's later tokens carry on with the new one.
            self._follow(planned.adapter, previous, secret, row)
        row.update(token_id=token.get('id'), previous_id=previous.get('id') if previous else None,
                   age_days=0, expires_at=token.get('expires_at'), reason=planned.reason)
        ok, why, conclusive = verify_secret(planned.adapter, secret)
        unverified = None
        if not ok and (conclusive or item.overlaps):
            return self._undo(client, planned, token, row, 'verification of the new secret '
                              'failed: %s' % why, earlier)
        if not ok:
            # In place, the previous secret is dead for certain and the new one only could not
            # be checked: the consumers get it, and the next run checks it again.
            unverified = why
        try:
            delivered = deliver_files(item.file_sinks, secret, token, item.label,
                                      item.provider.name)
        except SinkError as exc:
            return self._undo(client, planned, token, row, 'delivery failed: %s' % exc, earlier)
        row['delivered'] = delivered
        self.journal.record(item, delivered=delivered)
        outcome = dict(label=item.label, provider=item.provider.name, previous=previous,
                       token=token, superseded=planned.superseded_ids, delivered=delivered,
                       earlier=earlier, unverified=unverified,
                       previous_fate=planned.adapter.previous_fate)
        if item.task_sinks:
            with self._lock:
                self.outcomes.append(outcome)
                for sink in item.task_sinks:
                    self.deliveries.append(dict(label=item.label, index=item.index,
                                                file=sink['file'], secret=secret, token=token))
            row.update(action='rotated', notes=row['notes'] + ['awaiting the task-file sinks'])
            return row
        return self._complete(client, item, planned.adapter, outcome, row, secret)

    @staticmethod
    def _follow(adapter, previous, secret, row):
        try:
            adapter.follow_credential(previous, secret)
        except ERRORS:
            pass        # the next request says what is wrong with the credential
        row['notes'] = list(row.get('notes') or []) + adapter.notes
        del adapter.notes[:]

    def _cleanup(self, client, planned):
        """Delete what an interrupted run left before issuing again."""
        for token_id in planned.orphan_ids + planned.retire_now_ids:
            planned.item.new_adapter(client, self.now).delete(dict(planned.current or {},
                                                                   id=token_id))

    def _restore(self, item, earlier):
        if earlier is None:
            self.journal.finish(item)
        else:
            self.journal.record(item, **earlier)

    def _undo(self, client, planned, token, row, message, earlier):
        """After a failed verification or delivery: keep the previous secret where possible."""
        item = planned.item
        if not item.overlaps:
            return self._fail(row, '%s. %s replaces secrets in place, so the previous secret '
                                   'no longer works: the next run rotates again and delivers '
                                   '(the journal keeps this rotation)'
                              % (message, item.provider.title))
        try:
            item.new_adapter(client, self.now).delete(token)
        except ERRORS as exc:
            return self._fail(row, '%s. The previous secret still works; deleting the unused new '
                                   'token %s failed (%s): the next run deletes it'
                              % (message, token.get('id'), failure_text(exc)))
        self._restore(item, earlier)
        row.update(token_id=planned.current.get('id') if planned.current else None,
                   previous_id=None, age_days=planned.row(self.now)['age_days'],
                   expires_at=planned.row(self.now)['expires_at'])
        return self._fail(row, '%s. The previous secret still works and every sink keeps its '
                               'previous content; the unused new token %s was deleted'
                          % (message, token.get('id')))

    def _complete(self, client, item, adapter, outcome, row, secret=None):
        """Every sink holds the new secret: revoke the previous one (overlapping platforms)."""
        self.journal.record(item, step=DELIVERED)
        previous = outcome.get('previous')
        notes = list(row.get('notes') or [])
        if item.overlaps:
            try:
                if previous:
                    adapter.retire(previous)
                    notes.append('previous token %s revoked after delivery' % previous.get('id'))
                    if secret is not None:
                        row['notes'] = notes
                        self._follow(adapter, previous, secret, row)
                        notes = row['notes']
                for token_id in outcome.get('superseded') or []:
                    item.new_adapter(client, self.now).delete(dict(previous or {}, id=token_id))
                    notes.append('superseded token %s from an interrupted run revoked' % token_id)
            except ERRORS as exc:
                row['notes'] = notes
                return self._fail(row, 'the new secret was delivered, but revoking the previous '
                                       'one failed: %s; the next run revokes it'
                                  % failure_text(exc))
        elif outcome.get('previous_fate'):
            # A window the platform keeps (CloudTruth's rekey): it ends by itself.
            notes.append('rekeyed with a window: %s (read back from the platform)'
                         % outcome['previous_fate'])
        else:
            notes.append(IN_PLACE_NOTE)
        token = outcome.get('token') or {}
        if outcome.get('unverified'):
            notes.append('delivered, not verified: %s; the next run checks the secret again'
                         % outcome['unverified'])
            self.journal.record(item, step=UNVERIFIED, token_id=token.get('id'),
                                unverified=outcome['unverified'])
        else:
            self.journal.finish(item)
        # Remembered always: a platform may say when a secret was issued in a shape the module
        # cannot read (then the role counts the age from here), not only say nothing.
        if token.get('id'):
            self.journal.remember_rotation(item, token['id'],
                                           isoformat(self.now))
        row.update(action='rotated', notes=notes)
        return row

    # -- finish -----------------------------------------------------------------------------
    def finish(self, rows, outcomes, task_failures):
        """Close the rotations that waited for task-file sinks; return the final rows."""
        by_label = dict((row['label'], dict(row)) for row in rows)
        failures = {}
        for failure in task_failures or []:
            failures.setdefault(failure.get('label'), []).append(failure)
        items = dict((item.label, item) for item in self.items)
        work = [(items[o['label']], o) for o in outcomes or [] if o['label'] in items]
        groups = {}
        for item, outcome in work:
            groups.setdefault(item.connection, []).append((item, outcome))

        def finish_group(pairs):
            client = make_client(pairs[0][0].provider.api, pairs[0][0].params)
            return [self._finish_one(client, item, outcome, by_label[item.label],
                                     failures.get(item.label))
                    for item, outcome in pairs]

        for row in [r for group in run_groups(list(groups.values()), finish_group) for r in group]:
            by_label[row['label']] = row
        return list(by_label.values())      # in the order of V(issue)'s rows

    def _finish_one(self, client, item, outcome, row, failed):
        row = dict(row)
        row['notes'] = [n for n in row.get('notes') or [] if n != 'awaiting the task-file sinks']
        sinks = [describe(s) for s in item.task_sinks]
        if failed:
            message = 'the task file %s failed' % ', '.join(sorted(set(f.get('file') or '?'
                                                                       for f in failed)))
            if not item.overlaps:
                return self._fail(row, '%s. %s replaces secrets in place: the next run rotates '
                                       'again and delivers' % (message, item.provider.title))
            if outcome.get('delivered'):
                return self._fail(row, '%s. The previous secret still works and was not revoked; '
                                       'the new token %s also stays, since %s holds it: the next '
                                       'run rotates again and then revokes both'
                                  % (message, outcome['token'].get('id'),
                                     ', '.join(outcome['delivered'])))
            try:
                item.new_adapter(client, self.now).delete(outcome['token'])
            except ERRORS as exc:
                return self._fail(row, '%s. The previous secret still works; deleting the unused '
                                       'new token failed (%s): the next run deletes it'
                                  % (message, failure_text(exc)))
            self._restore(item, outcome.get('earlier'))
            row.update(token_id=(outcome.get('previous') or {}).get('id'), previous_id=None)
            return self._fail(row, '%s. The previous secret still works; the unused new token %s '
                                   'was deleted' % (message, outcome['token'].get('id')))
        row['delivered'] = list(outcome.get('delivered') or []) + sinks
        self.journal.record(item, delivered=row['delivered'])
        adapter = item.new_adapter(client, self.now)
        return self._complete(client, item, adapter, outcome, row)


def failed_labels(rows):
    return [row['label'] for row in rows if row['action'] == 'failed']


NO_JOURNAL = ('rotate_state_dir %s holds no journal yet, so this is taken as the first rotation '
              'run here; the journal starts with this run. If the directory does not outlive a run '
              '(AWX and other container-based runners start every job in a fresh file system), '
              'keep it on persistent storage (docs/awx.md): without a journal, a run cannot finish '
              'a rotation that an earlier run left half done, and PactFlow ages are counted from '
              'scratch')


def plan_step(tokens, state_dir, check_mode, now=None):
    run = Run(tokens, state_dir, check_mode=True, now=now)
    rows, work = run.plan_rows()
    generated = isoformat(run.now)
    result = dict(rows=rows, work=work, summary=report.summary(rows),
                  **_no_journal_notice(run.journal))
    if check_mode:
        result['report_md'] = report.markdown(rows, generated, check_mode=True)
        result['report'] = report.document(rows, generated, check_mode=True)
    return result


def _no_journal_notice(journal):
    """Say so, as information, when the state directory holds no journal (read before the step
    writes one): a first run is no fault. The action plugin prints ``notices``."""
    return {} if journal.exists else dict(notices=[NO_JOURNAL % journal.state_dir])


def issue_step(tokens, state_dir, fail_fast, now=None):
    """Plan (the listings are read here, under the step lock) and issue what is due."""
    run = Run(tokens, state_dir, fail_fast=fail_fast, now=now)
    notice = _no_journal_notice(run.journal)
    rows = run.issue()
    return dict(rows=rows, outcomes=run.outcomes, deliveries=run.deliveries,
                failed_tokens=failed_labels(rows), **notice)


def finish_step(tokens, state_dir, report_dir, rows, outcomes, task_failures, now=None):
    """Close what waited for the task-file sinks and write the report. Only the items with such
    an outcome are checked again (the issue step checked them all)."""
    run = Run(tokens, state_dir, now=now, only=set(o['label'] for o in outcomes or []))
    rows = run.finish(rows, outcomes, task_failures)
    run.journal.create()         # the next run knows this directory outlived a run
    generated = isoformat(run.now)
    json_path, md_path, text = report.write(report_dir, rows, generated)
    return dict(rows=rows, failed_tokens=failed_labels(rows), summary=report.summary(rows),
                report_md=text, report_json_path=json_path, report_md_path=md_path)

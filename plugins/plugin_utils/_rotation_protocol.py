# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The rotation protocol of one token, in one place: its steps, their transitions, and what the
next run does with a journal entry an interrupted run left at each step.

::

    issuing → issued → verified ──→ delivered ──→ checked → done
                  ↘ unverified ↗ ↘             ↗
                  ↘ unusable_here ↗ checking ───→ rolled_back   (an item with check_tasks)
    issuing, issued, verified, unusable_here, checking → undone  (overlapping platforms: the
                                                                   new token deleted)

:data:`STEPS` is the table; :class:`Rotation` walks it for one token (the engine,
``_rotation_engine.py``, runs many at once and keeps the rows); :func:`recover` reads a journal
entry back through the same table. Every step name the journal writes comes from here.

A step is *journaled* when reaching it rewrites the journal entry (before the work of the next
step, so a killed run leaves the entry at the last step it reached); ``recovery`` says what the
next run does with an entry left there. ``done`` and ``undone`` close the entry (``undone``
puts back the entry of an earlier run, if there was one); a rotation that ends ``done`` without
a conclusive verification keeps an ``unverified`` entry instead (not one that cannot be used
from the controller by design, which no later check from there changes).

A failure that is neither undone nor rolled back leaves the entry at its step: the next run
recovers from there.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    AmbiguousWriteError, TokenOpsError,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._power import (
    issue_first, issue_successor,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    InputError, isoformat,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._verification import (
    INCONCLUSIVE, Verification,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_journal import fingerprint
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks import SinkError

ISSUING = 'issuing'
ISSUED = 'issued'
VERIFIED = 'verified'
UNVERIFIED = 'unverified'
UNUSABLE_HERE = 'unusable_here'
DELIVERED = 'delivered'
CHECKING = 'checking'
CHECKED = 'checked'
DONE = 'done'
UNDONE = 'undone'
ROLLED_BACK = 'rolled_back'

#: what the next run does with an entry left at a step
REISSUE = 'reissue'         # overlap: delete the unreceived replacement (or keep it while a sink
#                             holds it) and rotate again; in place: rotate again and deliver
RETIRE = 'retire'           # every sink holds the new secret: revoke the previous one, close
CHECK_AGAIN = 'check again'  # in place, delivered unverified: read a sink back, verify again


class Step:
    """One row of :data:`STEPS`."""

    def __init__(self, name, successors, journaled, recovery, meaning):
        self.name = name
        self.successors = successors
        self.journaled = journaled
        self.recovery = recovery
        self.meaning = meaning


STEPS = dict((step.name, step) for step in (
    Step(ISSUING, (ISSUED, UNDONE), True, REISSUE,
         'the request that issues a secret is about to be sent: the platform may act even if no '
         'answer comes back'),
    Step(ISSUED, (VERIFIED, UNVERIFIED, UNUSABLE_HERE, UNDONE), True, REISSUE,
         'the new token\'s id is known; its secret has not reached every sink'),
    Step(VERIFIED, (DELIVERED, CHECKING, UNDONE), False, REISSUE,
         'the platform accepted the new secret (the journal still says issued)'),
    Step(UNVERIFIED, (DELIVERED, CHECKING), False, CHECK_AGAIN,
         'in place, the check of the new secret could not conclude; it is delivered anyway (the '
         'previous secret is dead). Journaled when the rotation is done, for the next run'),
    Step(UNUSABLE_HERE, (DELIVERED, CHECKING, UNDONE), False, REISSUE,
         'the new secret cannot be used from the controller by design (an IP condition that '
         'excludes it, a disabled token, a not_before ahead): it is delivered on every strategy '
         'and not checked again from here (the journal still says issued)'),
    Step(DELIVERED, (CHECKED,), True, RETIRE,
         'every sink holds the new secret, and no consumer check was asked for'),
    Step(CHECKING, (CHECKED, ROLLED_BACK, UNDONE, DONE), True, REISSUE,
         'the sinks the engine writes hold the new secret; the task-file sinks and the consumer '
         'check (check_tasks) run in the role. The previous secret stays until the check '
         'passed: a run killed here leaves the replacement to be superseded by a new rotation'),
    Step(CHECKED, (DONE,), False, RETIRE,
         'the consumers accept the new secret (or no check was asked for): only revoking the '
         'previous secret is left. Journaled when reached from checking'),
    Step(DONE, (), False, None, 'the entry is closed'),
    Step(UNDONE, (), False, None,
         'the new token was deleted before it reached every sink; the previous secret works and '
         'every sink holds it'),
    Step(ROLLED_BACK, (), True, REISSUE,
         'the consumer check failed: the sinks that can were put back and the previous secret '
         'kept; the new token stays (for the sinks that could not be put back) or was deleted'),
))
FIRST = ISSUING

ERRORS = (InputError, TokenOpsError)
#: a failed consumer check on a platform that replaced the secret in place (docs/rotation.md)
IN_PLACE_CHECK_FAILED = ('the consumer check failed: %s. %s replaces secrets in place: the '
                         'previous secret stopped working when the new one was issued, so '
                         'nothing was rolled back; the consumers hold the new secret')
#: the same where the platform keeps the previous secret for a window of its own (CloudTruth's
#: rekey): what became of it, read back, and why nothing goes back to it
WINDOW_CHECK_FAILED = ('the consumer check failed: %s. %s rekeys in place: %s (read back from the '
                       'platform); nothing was rolled back to a secret that ends by itself, '
                       'since the new one cannot be revoked alone; the consumers hold the new '
                       'secret')
IN_PLACE_NOTE = ('replaced in place: the previous secret stopped working when the new one was '
                 'issued, so it was delivered at once')
AWAITING = 'awaiting the task-file sinks'


class ProtocolError(Exception):
    """A step taken out of order: a bug, never a platform's or a user's fault."""


def recovery_of(step):
    """What the next run does with an entry left at ``step`` (None: nothing; unknown steps, from
    a newer version, are left alone)."""
    found = STEPS.get(step)
    return found.recovery if found else None


def failure_text(exc):
    """The message of an error the engine reports for one token (already redacted)."""
    return str(exc) or type(exc).__name__


def unexpected_failure(exc, item, client):
    """The message for an error that no step of the protocol expects (an answer of a shape the
    adapter cannot read, a date out of range, a full disk): it fails this token only, and names
    the platform, the request it followed and, for an ``OSError``, the file."""
    request = getattr(client, 'last_request', None)
    after = ' after %s %s' % request if request else ''
    if isinstance(exc, EnvironmentError) and getattr(exc, 'filename', None):
        what = '%s: %s' % (exc.strerror or type(exc).__name__, exc.filename)
    else:
        what = '%s: %s' % (type(exc).__name__, str(exc) or 'no message')
    text = ('%s: an unexpected error%s: %s. This token failed alone; what its rotation reached is '
            'in the journal, and the next run carries on from there'
            % (item.provider.title, after, what))
    return client.redact(text) if client is not None else text


def verify_secret(adapter, secret, token=None):
    """What a check of ``secret`` (newly issued for ``token``) learned: a ``Verification`` that
    says it works, is refused (a 401/403 that stayed one for ``max_verify_wait``), cannot be
    used from the controller by design, or that the check said nothing (404, 5xx, timeout):
    ``TokenAdapter.check_secret``.

    The only place the protocol asks a platform whether a secret works (after issuing it, and
    when a later run checks an unverified secret again).
    """
    try:
        return adapter.check_secret(secret, token)
    except ERRORS as exc:
        return Verification(INCONCLUSIVE, 'the check failed: %s' % failure_text(exc))


def previous_words(item, previous):
    """What became of the previous secret, in the words of the item's strategy."""
    if not item.overlaps:
        return 'the previous secret stopped working when the new one was issued'
    expires = (previous or {}).get('expires_at')
    return ('the previous secret still works until %s' % (
        'it expires at %s or is revoked' % expires if expires
        else 'it is revoked after a new one reached every sink'))


def issue_secret(adapter, current):
    """``(token, secret)`` of a replacement for ``current`` that carries its power (``_power``)."""
    try:
        return issue_successor(adapter, current)
    except NotImplementedError:
        if adapter.overlaps:
            raise
        # An in-place adapter without issue_replacement: its rotate() is issue-and-replace.
        token, secret, dummy = adapter.rotate(current)
        return token, secret


def preflight(sinks, check_mode=False):
    """``(states, problem)``: each sink's preflight state by its description, and why a sink
    could not take a new secret (the first found) or None. In ``check_mode`` a sink changes
    nothing (a store sink does not create an absent secret)."""
    states = {}
    for sink in sinks:
        sink.check_mode = check_mode
        try:
            states[sink.describe()] = sink.preflight()
        except SinkError as exc:
            return states, str(exc)
        except Exception as exc:  # pylint: disable=broad-except
            # A bug or a library's surprise stays this token's failure; its message may quote
            # what the store holds, so only its kind is told.
            return states, '%s: its check failed unexpectedly (%s)' % (
                sink.describe(), type(exc).__name__)
    return states, None


class DeliveryFailure(SinkError):
    """A failed delivery, with where the new secret went (sink descriptions): ``holders`` hold
    it, ``unsure`` may hold it (a write whose outcome is unknown), ``restored`` were written and
    put back; every other sink holds what it held before the run. ``stuck``: why each holder
    was not put back (``(description, why)``). The message is the cause alone (it names the
    failed sink): :func:`delivery_fate` says the rest in the protocol's words."""

    def __init__(self, causes, holders=(), unsure=(), restored=(), stuck=()):
        super(DeliveryFailure, self).__init__('; '.join(causes))
        self.causes = list(causes)
        self.holders = list(holders)
        self.unsure = list(unsure)
        self.restored = list(restored)
        self.stuck = list(stuck)

    @property
    def reached(self):
        """The sinks whose consumers hold, or may hold, the new secret."""
        return self.holders + [d for d in self.unsure if d not in self.holders]


def deliver(sinks, secret, token, records=None, states=None, all_or_none=True):
    """Write ``secret`` to every sink; return their descriptions. Raises
    :class:`DeliveryFailure` saying which sink failed and where the new secret went.

    ``all_or_none`` (where the previous secret still works): every sink is staged first (a file
    sink writes its temporary file), then each is committed (renamed, or written where a store
    cannot stage); on a failure the staged ones are abandoned and the committed ones rolled back
    with their preflight ``states``, so that, but for a sink that cannot be put back (or whose
    write's outcome is unknown), every sink keeps what it held. Otherwise (in place: the
    previous secret is dead), as many sinks as possible: a failed sink does not stop the others,
    and nothing is put back over a dead secret.
    """
    records = records or {}
    if not all_or_none:
        return _deliver_each(sinks, secret, token, records)
    staged, committed = [], []
    committing = None
    try:
        for sink in sinks:
            staged.append((sink, _unexpected(sink, sink.stage, secret, token,
                                             records.get(sink.describe()))))
        for sink, write in staged:
            committing = sink
            _unexpected(sink, write.commit)
            committed.append(sink)
    except BaseException as exc:
        for sink, write in staged[len(committed):]:
            _quietly(write.abort)
        restored, stuck = _roll_back(committed, states or {})
        if not isinstance(exc, SinkError):
            raise
        # Staging never reaches a consumer: only a commit whose outcome is unknown may have.
        unsure = [committing.describe()] if exc.maybe_written and committing is not None else []
        raise DeliveryFailure([str(exc)], holders=[d for d, why in stuck], unsure=unsure,
                              restored=restored, stuck=stuck)
    return [sink.describe() for sink in sinks]


def _deliver_each(sinks, secret, token, records):
    """Every sink written on its own (staged and committed at once); the failures collected."""
    causes, holders, unsure = [], [], []
    for sink in sinks:
        write = None
        try:
            write = _unexpected(sink, sink.stage, secret, token, records.get(sink.describe()))
            _unexpected(sink, write.commit)
            holders.append(sink.describe())
        except SinkError as exc:
            if write is not None:
                _quietly(write.abort)
                if exc.maybe_written:
                    unsure.append(sink.describe())
            causes.append(str(exc))
    if causes:
        raise DeliveryFailure(causes, holders=holders, unsure=unsure)
    return [sink.describe() for sink in sinks]


def _quietly(call):
    """``call()``, whatever it raises (abandoning a staged write is best effort)."""
    try:
        call()
    except Exception:  # pylint: disable=broad-except
        pass


def _listed(names):
    """``a``, ``a and b``, ``a, b and c``."""
    names = list(names)
    return ' and '.join(names) if len(names) < 3 else '%s and %s' % (', '.join(names[:-1]),
                                                                     names[-1])


def delivery_fate(failure, overlaps):
    """Where a failed delivery left each sink, true to the case: the parts of a sentence that
    follows the cause (``'; '``-joined)."""
    why = dict(failure.stuck)
    parts = []
    plain = [d for d in failure.holders if d not in why]
    if plain:
        parts.append('%s hold%s the new secret' % (_listed(plain), '' if len(plain) > 1 else 's'))
    parts.extend('%s holds the new secret (not put back: %s)' % (d, why[d])
                 for d in failure.holders if d in why)
    unsure = [d for d in failure.unsure if d not in failure.holders]
    if unsure:
        parts.append('%s may hold it (whether the write happened is unknown)' % _listed(unsure))
    if failure.restored:
        parts.append('put back: %s' % _listed(failure.restored))
    if not overlaps:
        parts.append('every other sink holds the previous one' if failure.reached
                     else 'no sink holds the new secret')
    return parts


def _unexpected(sink, call, *args):
    """``call(*args)``; an exception other than SinkError (a bug, a library's surprise) becomes
    one, as a write whose outcome is unknown (its message may quote the secret: only its kind
    is told)."""
    try:
        return call(*args)
    except SinkError:
        raise
    except Exception as exc:  # pylint: disable=broad-except
        raise SinkError('%s: the write failed unexpectedly (%s)' % (
            sink.describe(), type(exc).__name__), maybe_written=True)


def sink_notes(sinks):
    """What the sinks said of their last write beside success (taken once)."""
    notes = []
    for sink in sinks:
        notes.extend(sink.notes)
        del sink.notes[:]
    return notes


def _roll_back(sinks, states):
    """Put each of ``sinks`` back as its preflight state says; ``(restored, [(sink, why)])``."""
    restored, stuck = [], []
    for sink in sinks:
        described = sink.describe()
        if sink.runs_as_task_file:
            stuck.append((described, 'a task file cannot be undone'))
        elif not sink.can_roll_back:
            stuck.append((described, 'this store keeps no earlier version'))
        elif described not in states:
            stuck.append((described, 'what it held before was not kept in this step'))
        else:
            try:
                sink.rollback(states[described])
                restored.append(described)
            except SinkError as exc:
                stuck.append((described, str(exc)))
            except Exception as exc:  # pylint: disable=broad-except
                # A bug or a library's surprise: its message may quote what the store holds.
                stuck.append((described, 'putting it back failed unexpectedly (%s)'
                              % type(exc).__name__))
    return restored, stuck


class Rotation:
    """One token's rotation, walked through :data:`STEPS`.

    The issue step calls :meth:`start`; when the token has task-file sinks it stops there
    (``awaiting``) and the finish step, in another process, builds the rotation again from
    :meth:`outcome` (:meth:`resume`) and calls :meth:`after_task_files`. Every method returns
    the token's report row.
    """

    def __init__(self, item, client, journal, now, row):
        self.item = item
        self.client = client
        self.journal = journal
        self.now = now
        self.row = row
        self.adapter = None
        self.step = None
        #: the steps this rotation went through in this process, in order
        self.path = []
        self.planned = None
        self.previous = None
        self.token = None
        self.earlier = None
        self.superseded = []
        self.delivered = []
        self.unverified = None
        #: the new secret cannot be used from the controller by design (``UNUSABLE_HERE``)
        self.unusable_here = False
        self.previous_fate = None
        #: the fingerprint of the new secret (``_rotation_journal.fingerprint``), never the secret
        self.secret_digest = None
        #: preflight states by sink description (in memory only: they may hold a secret)
        self.states = {}
        #: what the role runs for each task-file sink (holds the secret)
        self.deliveries = []
        #: what the role runs for the consumer check, check_tasks (holds the secret)
        self.checks = []
        self.awaiting = False

    # -- transitions ----------------------------------------------------------------------------
    def _to(self, step, journal=None, **fields):
        """Move to ``step``; journal it as :data:`STEPS` says (``journal``: say otherwise)."""
        allowed = STEPS[self.step].successors if self.step else (FIRST,)
        if step not in allowed:
            raise ProtocolError('%s: %s cannot follow %s' % (self.item.label, step, self.step))
        self.step = step
        self.path.append(step)
        if STEPS[step].journaled if journal is None else journal:
            self.journal.record(self.item, step=step, **fields)

    def fail(self, message):
        self.row.update(action='failed', error=message)
        return self.row

    # -- the issue step -------------------------------------------------------------------------
    def start(self, planned, adapter, known_ids=list):
        """Check the sinks, clean up what an earlier run left, then issue, verify and deliver
        (``planned``: the plan of this token; ``known_ids()``: the ids of the listed tokens
        that match it, read before anything is issued, so that the next run can tell the token
        of a create whose answer was lost from those that were there before)."""
        item, row = self.item, self.row
        self.planned, self.adapter = planned, adapter
        if planned.due:
            self.states, why = preflight(item.checked_before_issuing)
            if why:
                return self.fail('a sink cannot take a new secret, so none was issued (nothing '
                                 'was changed on %s): %s' % (item.provider.title, why))
        try:
            self._clean_up(planned)
        except ERRORS as exc:
            return self.fail('cleaning up after an interrupted run failed: %s'
                             % failure_text(exc))
        if not planned.due:
            self.journal.finish(item)
            if planned.redeliver:
                return self._deliver_again(planned)
            return row
        secret = self._issue(planned, known_ids())
        if secret is None or not self._verify(secret):
            return row
        if not self._deliver(secret):
            return row
        if item.check is not None:
            self._to(CHECKING, delivered=self.delivered)
            self.checks = [item.check.delivery(secret, self.token, item.index)]
        if item.task_sinks:
            self.deliveries = [sink.delivery(secret, self.token, item.index)
                               for sink in item.task_sinks]
        if item.task_sinks or item.check is not None:
            self.awaiting = True
            row.update(action='rotated', notes=row['notes'] + [AWAITING])
            return row
        return self.complete(secret)

    def _deliver_again(self, planned):
        """The current secret, read from the platform, to the sinks the engine writes (another
        run rotated the token; this run's sinks held a dead secret). Nothing changes on the
        platform; task-file sinks are not run again."""
        item, row = self.item, self.row
        self.states, why = preflight(item.engine_sinks)
        if why:
            return self.fail('the current secret could not be delivered again: %s' % why)
        try:
            self.delivered = deliver(item.engine_sinks, planned.redeliver, planned.current,
                                     states=self.states)
        except SinkError as exc:
            return self.fail('the current secret could not be delivered again: %s' % exc)
        row.update(action='delivered again', delivered=self.delivered)
        self.journal.adopt(item, planned.current.get('id'), fingerprint(planned.redeliver))
        if item.task_sinks:
            row['notes'] = row['notes'] + ['the task-file sinks were not run again: their '
                                           'consumers may hold the dead secret']
        return row

    def _clean_up(self, planned):
        """Delete what an interrupted run left before issuing again."""
        for token_id in planned.orphan_ids + planned.retire_now_ids:
            self.item.new_adapter(self.client, self.now).delete(dict(planned.current or {},
                                                                     id=token_id))

    def _issue(self, planned, known_ids):
        """``issuing`` → ``issued``; the new secret, or None after a failure."""
        item, row = self.item, self.row
        self.previous = previous = planned.current
        self.superseded = planned.superseded_ids
        self.earlier = dict(planned.entry) if planned.entry else None
        self._to(ISSUING, token_id=None, previous_id=previous.get('id') if previous else None,
                 known_ids=list(known_ids), delivered=[], superseded=planned.superseded_ids,
                 overlaps=item.overlaps, started_at=isoformat(self.now))
        try:
            if planned.create:
                token, secret = issue_first(self.adapter)
            else:
                token, secret = issue_secret(self.adapter, previous)
        except AmbiguousWriteError as exc:
            self.fail('%s. Whether a new secret was issued is unknown; the journal keeps this '
                      'rotation and the next run finishes it' % failure_text(exc))
            return None
        except ERRORS as exc:
            details = getattr(exc, 'details', None) or {}
            told, fate = failure_text(exc), self.adapter.previous_fate
            if not item.overlaps and (details.get('fate_told') or fate):
                # In place, the platform said what became of the previous secret (stopped, or
                # working until the end of CloudTruth's window): its words, not a "may".
                if fate and fate not in told:
                    told = '%s; %s' % (told, fate)
                self.fail('issuing a new secret failed: %s. The journal keeps this rotation and '
                          'the next run rotates again' % told)
                return None
            if not item.overlaps and not details.get('previous_kept'):
                # In place, a failed issue may already have ended the previous secret (TFE deletes
                # a described token before creating its successor): the journal keeps the
                # rotation open, so the next run rotates again (or recreates it) and delivers.
                self.fail('issuing a new secret failed: %s. On %s this may already have ended '
                          'the previous secret; the journal keeps this rotation and the next run '
                          'rotates again' % (failure_text(exc), item.provider.title))
                return None
            self._close_undone()
            self.fail('issuing a new secret failed: %s' % failure_text(exc))
            return None
        self.token = token
        # What became of the previous secret, as the platform says (CloudTruth's window)
        self.previous_fate = self.adapter.previous_fate
        self.secret_digest = fingerprint(secret)
        self.client.remember_secret(secret)     # masked in any later message of this run
        self._to(ISSUED, token_id=token.get('id'))
        if previous and not item.overlaps:
            # In place, the previous secret is dead now: if it was this group's credential, the
            # group's later tokens carry on with the new one.
            self._follow(previous, secret)
        row.update(token_id=token.get('id'), previous_id=previous.get('id') if previous else None,
                   age_days=0, expires_at=token.get('expires_at'), reason=planned.reason)
        # What the issue found (a lifetime cut to the platform's cap, a power difference in place)
        row['notes'] = list(row.get('notes') or []) + [n for n in self.adapter.notes
                                                       if n not in (row.get('notes') or [])]
        del self.adapter.notes[:]
        return secret

    def _verify(self, secret):
        """``issued`` → ``verified``, ``unusable_here`` (delivered on every strategy: no check
        from here can tell), or ``unverified`` (in place, when the check cannot conclude); False
        when the new secret is refused (then undone where it overlaps)."""
        checked = verify_secret(self.adapter, secret, self.token)
        if checked.ok:
            self._to(VERIFIED)
            return True
        if checked.unusable_here:
            self.unverified, self.unusable_here = checked.why, True
            self._to(UNUSABLE_HERE)
            return True
        if checked.refused or self.item.overlaps:
            self._undo('verification of the new secret failed: %s' % checked.why)
            return False
        # In place, the previous secret is dead for certain and the new one only could not be
        # checked: the consumers get it, and the next run checks it again.
        self.unverified = checked.why
        self._to(UNVERIFIED)
        return True

    def _deliver(self, secret):
        """Write the sinks the engine writes (all or none where the previous secret still
        works, as many as possible in place); False after a failure."""
        item = self.item
        sinks = item.engine_sinks
        records = dict((sink.describe(), sink.journal_record(self.token)) for sink in sinks)
        records = dict((key, value) for key, value in records.items() if value)
        if records:
            self.journal.record(item, sink_records=records)
        try:
            self.delivered = deliver(sinks, secret, self.token, records, self.states,
                                     all_or_none=item.overlaps)
        except DeliveryFailure as exc:
            self._delivery_failed(exc)
            return False
        self.row['delivered'] = self.delivered
        self.row['notes'] = list(self.row.get('notes') or []) + sink_notes(sinks)
        if item.check is None:
            self.journal.record(item, delivered=self.delivered)
        return True

    def _follow(self, previous, secret):
        try:
            self.adapter.follow_credential(previous, secret)
        except ERRORS:
            pass        # the next request says what is wrong with the credential
        self.row['notes'] = list(self.row.get('notes') or []) + self.adapter.notes
        del self.adapter.notes[:]

    def _close_undone(self):
        """``undone``: the entry of an earlier run back as it was (or none)."""
        self._to(UNDONE)
        self._restore_earlier()

    def _restore_earlier(self):
        """The journal entry of an earlier run back as it was (or none)."""
        if self.earlier is None:
            self.journal.finish(self.item)
        else:
            self.journal.record(self.item, **dict(self.earlier,
                                                  sink_records=self.earlier.get('sink_records')))

    def _delivery_failed(self, failure):
        """After a failed delivery, say where the new secret went. Where the previous secret
        still works and no sink holds the new one, it is deleted (:meth:`_undo`). A sink that
        holds (or may hold) it keeps it alive, since deleting it would break its consumers, and
        so is the previous one: the journal says where it went, and the next run rotates again
        and revokes both once a newer secret reached every sink (``_reissue``)."""
        item = self.item
        parts = ['delivery failed: %s' % failure]
        parts.extend(delivery_fate(failure, item.overlaps))
        message = '; '.join(parts)
        if not item.overlaps or not failure.reached:
            return self._undo(message)
        self.journal.record(item, delivered=failure.reached)
        return self.fail('%s. The new token %s is kept for %s, and the previous secret still '
                         'works for every other sink: the next run rotates again and revokes '
                         'both once every sink holds a newer secret'
                         % (message, self.token.get('id'),
                            'it' if len(failure.reached) == 1 else 'them'))

    def _undo(self, message):
        """After a failed verification, or a delivery that left the new secret in no sink: keep
        the previous secret where possible."""
        item, row, planned = self.item, self.row, self.planned
        if not item.overlaps:
            return self.fail('%s. %s, so the next run rotates again and delivers (the journal '
                             'keeps this rotation)' % (message, self._in_place_words()))
        token = self.token
        try:
            item.new_adapter(self.client, self.now).delete(token)
        except ERRORS as exc:
            return self.fail('%s. %s, and every sink holds it; deleting the unused new token %s '
                             'failed (%s): the next run deletes it'
                             % (message, _capital(previous_words(item, self.previous)),
                                token.get('id'), failure_text(exc)))
        self._close_undone()
        before = planned.row(self.now)
        row.update(token_id=planned.current.get('id') if planned.current else None,
                   previous_id=None, age_days=before['age_days'], expires_at=before['expires_at'])
        return self.fail('%s. %s, and every sink holds it; the unused new token %s was deleted'
                         % (message, _capital(previous_words(item, self.previous)),
                            token.get('id')))

    def _in_place_words(self):
        """What an in-place rotation did to the previous secret: what the platform read back
        when it said (CloudTruth's window), else the strategy's words."""
        if self.previous_fate:
            return '%s rekeys in place: %s (read back from the platform)' % (
                self.item.provider.title, self.previous_fate)
        return '%s replaces secrets in place: %s' % (
            self.item.provider.title, previous_words(self.item, self.previous))

    # -- between the steps ----------------------------------------------------------------------
    def outcome(self):
        """What the finish step needs to carry on (:meth:`resume`): ids and metadata, never a
        secret nor a preflight state."""
        return dict(label=self.item.label, provider=self.item.provider.name,
                    previous=self.previous, token=self.token, superseded=self.superseded,
                    delivered=self.delivered, earlier=self.earlier, unverified=self.unverified,
                    unusable_here=self.unusable_here, previous_fate=self.previous_fate,
                    secret_digest=self.secret_digest)

    def carried_states(self):
        """The preflight states of the sinks that can be rolled back, as JSON-able data for the
        finish step (by sink description). They may hold a previous secret: they travel only in
        the issue step's ``no_log`` result, in the ``ansible-playbook`` process's memory."""
        carried = {}
        for sink in self.item.engine_sinks:
            described = sink.describe()
            if sink.can_roll_back and described in self.states:
                data = sink.export_state(self.states[described])
                if data is not None:
                    carried[described] = data
        return carried

    def resume(self, outcome, states=None):
        """Carry on in the finish step from what :meth:`outcome` gave the issue step
        (``states``: :meth:`carried_states`, when the role kept them)."""
        self.previous = outcome.get('previous')
        self.token = outcome.get('token') or {}
        self.superseded = outcome.get('superseded') or []
        self.delivered = list(outcome.get('delivered') or [])
        self.earlier = outcome.get('earlier')
        self.unverified = outcome.get('unverified')
        self.unusable_here = bool(outcome.get('unusable_here'))
        self.previous_fate = outcome.get('previous_fate')
        self.secret_digest = outcome.get('secret_digest')
        if self.item.check is not None:
            self.step = CHECKING
        else:
            self.step = (UNUSABLE_HERE if self.unusable_here
                         else UNVERIFIED if self.unverified else VERIFIED)
        for sink in self.item.engine_sinks:
            described = sink.describe()
            if (states or {}).get(described) is not None:
                self.states[described] = sink.import_state(states[described])
        self.adapter = self.item.new_adapter(self.client, self.now)
        return self

    # -- the finish step ------------------------------------------------------------------------
    def after_task_files(self, failed, check_failure=None):
        """The role ran the task-file sinks (``failed``: the ones that failed, as the role
        recorded them): complete the rotation, or keep the previous secret."""
        item = self.item
        row = self.row
        row['notes'] = [n for n in row.get('notes') or [] if n != AWAITING]
        if failed:
            return self._task_file_failed(failed)
        row['delivered'] = self.delivered = self.delivered + [s.describe()
                                                              for s in item.task_sinks]
        self.journal.record(item, delivered=row['delivered'])
        return self.complete(check_failure=check_failure)

    def _task_file_failed(self, failed):
        item, row, token = self.item, self.row, self.token
        message = 'the task file %s failed' % ', '.join(sorted(set(f.get('file') or '?'
                                                                   for f in failed)))
        fate = previous_words(item, self.previous)
        if not item.overlaps:
            return self.fail('%s. %s, so the next run rotates again and delivers'
                             % (message, self._in_place_words()))
        if self.delivered:
            return self.fail('%s. %s (it was not revoked); the new token %s also stays, since %s '
                             'hold%s it: the next run rotates again and then revokes both'
                             % (message, _capital(fate), token.get('id'),
                                _listed(self.delivered),
                                '' if len(self.delivered) > 1 else 's'))
        try:
            item.new_adapter(self.client, self.now).delete(token)
        except ERRORS as exc:
            return self.fail('%s. %s; deleting the unused new token failed (%s): the next run '
                             'deletes it' % (message, _capital(fate), failure_text(exc)))
        self._close_undone()
        row.update(token_id=(self.previous or {}).get('id'), previous_id=None)
        return self.fail('%s. %s; the unused new token %s was deleted'
                         % (message, _capital(fate), token.get('id')))

    def complete(self, secret=None, check_failure=None):
        """``delivered`` (or ``checking``) → ``checked`` → ``done``: every sink holds the new
        secret (and the consumer check passed); revoke the previous one (overlapping platforms).
        ``check_failure``: why the consumer check failed (then :meth:`roll_back`). ``secret`` is
        known in the issue step only."""
        item, row = self.item, self.row
        if self.step == CHECKING:
            if check_failure:
                return self.roll_back(check_failure)
            # The check passed: journaled, so that a run killed now revokes the previous secret
            # instead of rotating again.
            self._to(CHECKED, journal=True)
        else:
            if check_failure:
                raise ProtocolError('%s: a consumer check failed, but none was asked for'
                                    % item.label)
            self._to(DELIVERED)
            self._to(CHECKED)
        previous = self.previous
        notes = list(row.get('notes') or [])
        if item.overlaps:
            try:
                if previous:
                    self.adapter.retire(previous)
                    notes.append('previous token %s revoked after delivery' % previous.get('id'))
                    if secret is not None:
                        row['notes'] = notes
                        self._follow(previous, secret)
                        notes = row['notes']
                for token_id in self.superseded or []:
                    item.new_adapter(self.client, self.now).delete(dict(previous or {},
                                                                        id=token_id))
                    notes.append('superseded token %s from an interrupted run revoked' % token_id)
            except ERRORS as exc:
                row['notes'] = notes
                return self.fail('the new secret was delivered, but revoking the previous one '
                                 'failed: %s; the next run revokes it' % failure_text(exc))
        elif self.previous_fate:
            # A window the platform keeps (CloudTruth's rekey): it ends by itself.
            notes.append('rekeyed with a window: %s (read back from the platform)'
                         % self.previous_fate)
        else:
            notes.append(IN_PLACE_NOTE)
        token = self.token or {}
        self._to(DONE)
        if self.unusable_here:
            # No later check from here can tell: the entry closes, and the next run does not
            # rotate the token again for that.
            notes.append('delivered, not verified: %s' % self.unverified)
            self.journal.finish(item)
        elif self.unverified:
            notes.append('delivered, not verified: %s; the next run checks the secret again'
                         % self.unverified)
            self.journal.record(item, step=UNVERIFIED, token_id=token.get('id'),
                                unverified=self.unverified)
        else:
            self.journal.finish(item)
        # Remembered always: a platform may say when a secret was issued in a shape the module
        # cannot read (then the role counts the age from here), not only say nothing.
        if token.get('id'):
            self.journal.remember_rotation(item, token['id'], isoformat(self.now),
                                           self.secret_digest,
                                           sinks=[sink.describe() for sink in item.sinks])
        row.update(action='rotated', notes=notes)
        return row

    def roll_back(self, why):
        """``delivered`` → ``rolled_back``: the consumer check failed. Every sink that can is
        put back as its preflight state says, the previous secret is kept, and the new token is
        deleted unless a sink that could not be put back still holds it. In place there is
        nothing to go back to: the failure is reported and nothing is rolled back."""
        item, row, token = self.item, self.row, self.token or {}
        if not item.overlaps:
            # Nothing to go back to: the rotation is closed (rotating again would not help the
            # consumer), and the failure is reported.
            self._to(DONE)
            self.journal.finish(item)
            if token.get('id'):
                self.journal.remember_rotation(item, token['id'], isoformat(self.now),
                                               sinks=[sink.describe() for sink in item.sinks])
            if self.previous_fate:
                return self.fail(WINDOW_CHECK_FAILED % (why, item.provider.title,
                                                        self.previous_fate))
            return self.fail(IN_PLACE_CHECK_FAILED % (why, item.provider.title))
        sinks = [s for s in item.sinks if s.describe() in set(self.delivered)]
        restored, stuck = _roll_back(sinks, self.states)
        kept = [described for described, reason in stuck]
        self._to(ROLLED_BACK, delivered=kept)
        parts = ['rolled back: %s' % why]
        if restored:
            parts.append('put back: %s' % ', '.join(restored))
        if stuck:
            parts.append('not rolled back: %s' % '; '.join('%s (%s)' % pair for pair in stuck))
        previous_id = (self.previous or {}).get('id')
        if kept:
            # A sink whose rollback was tried and failed may hold another writer's value now.
            task_files = set(s.describe() for s in sinks if s.runs_as_task_file)
            tried = [d for d in kept if d in self.states and d not in task_files]
            holders = [d for d in kept if d not in tried]
            said = []
            if holders:
                said.append('%s hold%s it' % (_listed(holders), '' if len(holders) > 1 else 's'))
            if tried:
                said.append('%s may hold it' % _listed(tried))
            parts.append('the previous token %s still works; the new token %s stays, since %s: '
                         'the next run rotates again and then revokes it'
                         % (previous_id, token.get('id'), ' and '.join(said)))
            return self.fail('. '.join(parts))
        try:
            item.new_adapter(self.client, self.now).delete(token)
        except ERRORS as exc:
            parts.append('the previous token %s still works; deleting the new token %s failed '
                         '(%s): the next run deletes it'
                         % (previous_id, token.get('id'), failure_text(exc)))
            return self.fail('. '.join(parts))
        self._restore_earlier()
        row.update(token_id=previous_id, previous_id=None)
        parts.append('the previous token %s still works; the new token %s was deleted'
                     % (previous_id, token.get('id')))
        return self.fail('. '.join(parts))


# -- recovery: what the next run does with an entry an interrupted run left -----------------------

def recover(planned, entry, matched):
    """Apply what an unfinished earlier rotation left (``entry``; ``matched``: the ids of the
    listed tokens that match the item); return the ids to leave out of the listing."""
    planned.entry = entry
    how = recovery_of(entry.get('step'))
    if how == CHECK_AGAIN:
        planned.check_again = True      # once the token is found: check_again (plan_group)
        return set()
    if how == RETIRE:
        return _retire(planned, entry, matched)
    if how == REISSUE:
        return _reissue(planned, entry, matched)
    return set()


def _retire(planned, entry, matched):
    """Every sink held the new secret: only the previous token is left to revoke.

    Only when the platform lists the new token the entry names: an entry whose successor is not
    there (another run's journal, an edited file) would have the previous token revoked with
    nothing to replace it, so it is reported and not acted on.
    """
    previous_id = entry.get('previous_id')
    planned.finish_entry = True
    if planned.item.overlaps and previous_id:
        new_id = entry.get('token_id')
        if new_id and new_id not in matched:
            planned.notes.append('the journal says new token %s replaced token %s, but %s does not '
                                 'list it: the entry was not acted on (closed), and token %s is '
                                 'kept' % (new_id, previous_id, planned.item.provider.title,
                                           previous_id))
            return set()
        if previous_id in matched:
            planned.retire_now_ids.append(previous_id)
            planned.notes.append('an earlier run delivered the new secret but did not revoke '
                                 'the previous token %s; revoking it now' % previous_id)
        return set([previous_id])
    return set()


def _reissue(planned, entry, matched):
    """The new secret did not reach every sink (or was rolled back): rotate again."""
    step = entry.get('step')
    previous_id = entry.get('previous_id')
    if not planned.item.overlaps:
        planned.due = True
        if step == CHECKING:
            planned.reason = ('an earlier run replaced the secret in place and was stopped '
                              'before its task files and consumer check finished; rotating '
                              'again now')
        else:
            planned.reason = ('an earlier run replaced the secret in place (step %s) and did '
                              'not deliver it everywhere; rotating again now' % step)
        return set()
    known = set(entry.get('known_ids') or [])
    if entry.get('token_id'):
        new_ids = set([entry['token_id']]) & set(matched)
    else:
        new_ids = set(matched) - known - set([previous_id])
    superseded = set(entry.get('superseded') or []) & set(matched)
    # A sink's journal record is written just before the sink is: such a sink may hold the
    # replacement although the run died before it could say so.
    if entry.get('delivered') or entry.get('sink_records'):
        planned.superseded_ids = sorted(new_ids | superseded)
        note = ('an earlier run delivered replacement %s to some sinks only; it is revoked once '
                'a new secret reached every sink' % ', '.join(sorted(new_ids)))
    else:
        planned.orphan_ids = sorted(new_ids)
        planned.superseded_ids = sorted(superseded)
        note = ('an earlier run issued replacement %s and never delivered it: it is deleted, the '
                'previous secret still works' % (', '.join(sorted(new_ids)) or '(none found)'))
    planned.notes.append(note)
    planned.due = True
    planned.reason = 'recovering an interrupted rotation (step %s); rotating again' % step
    return new_ids | superseded


def check_again(planned, entry):
    """An earlier run delivered an in-place secret it could not verify: check it now, once the
    token is found (``planned.current``), so that what the token is decides how a refusal
    reads."""
    planned.entry = entry
    secret = None
    for sink in planned.item.sinks:
        try:
            secret = sink.read_back() if sink.can_read_back else None
        except SinkError:
            secret = None
        if secret:
            break
    if not secret:
        planned.finish_entry = True
        planned.notes.append('an earlier run delivered a secret it could not verify (%s); no file '
                             'sink holds it to check again' % entry.get('unverified'))
        return
    checked = verify_secret(planned.adapter, secret, planned.current)
    if checked.ok:
        planned.finish_entry = True
        planned.notes.append('the secret an earlier run delivered without verifying it was '
                             'checked now: it works')
    elif checked.refused:
        planned.due = True
        planned.reason = ('the secret an earlier run delivered without verifying it is refused '
                          'by the platform (%s); rotating again' % checked.why)
    elif checked.unusable_here:
        # By design, not broken: rotating again would only end the consumer's secret again.
        planned.finish_entry = True
        planned.notes.append('the secret an earlier run delivered cannot be checked from here: '
                             '%s; it is not rotated again for that' % checked.why)
    else:
        planned.notes.append('the secret an earlier run delivered is still not verified: %s'
                             % checked.why)


def added_sinks(planned, journal):
    """A token that is not due: a sink added to its item since this role last rotated it (into
    the sinks the journal remembers) makes it due, so that the new sink gets a working secret
    (the platforms never give a secret out twice: delivering is rotating). Nothing is said of a
    token whose last rotation the journal does not remember with its sinks."""
    record = journal.last_rotation(planned.item)
    if not record or not isinstance(record.get('sinks'), list) or \
            record.get('token_id') != (planned.current or {}).get('id'):
        return
    added = [sink.describe() for sink in planned.item.sinks
             if sink.describe() not in record['sinks']]
    if added:
        planned.due = True
        planned.reason = ('%s %s added since the last rotation; rotating to deliver a working '
                          'secret there' % (', '.join(added), 'was' if len(added) == 1
                                            else 'were'))


def confirm_consumers(planned):
    """A token that is not due: read back what each sink that ``confirms_each_run`` holds and
    ask the platform whether it still works. A sink that holds no secret, or one the platform
    refuses, makes the token due, so that a working secret is delivered again (the platforms
    never give a secret out twice: re-delivering is rotating). Each distinct secret is checked
    once; a check that cannot conclude changes nothing."""
    checked = {}
    for sink in planned.item.sinks:
        if not (sink.can_read_back and sink.confirms_each_run):
            continue
        described = sink.describe()
        try:
            held = sink.read_back()
        except SinkError as exc:
            planned.notes.append('could not read back what %s holds: %s' % (described, exc))
            continue
        if held is None:
            planned.due = True
            planned.reason = ('%s holds no secret; rotating to deliver a working one'
                              % described)
            return
        if held not in checked:
            checked[held] = verify_secret(planned.adapter, held, planned.current)
        verdict = checked[held]
        if verdict.refused:
            planned.due = True
            planned.reason = ('the secret %s holds is refused by %s (%s); rotating to deliver a '
                              'working one' % (described, planned.item.provider.title,
                                               verdict.why))
            return
        if verdict.unusable_here:
            planned.notes.append('whether the secret %s holds still works cannot be checked '
                                 'from here: %s' % (described, verdict.why))
        elif not verdict.ok:
            planned.notes.append('whether the secret %s holds still works could not be '
                                 'checked: %s' % (described, verdict.why))


def _capital(text):
    return text[:1].upper() + text[1:]

# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""Two runs over one token that share no journal (two AWX job templates, a disaster-recovery
controller with its own state directory): what the platform and the sinks show, made to agree.

No platform offers a lock that two runs could take, and each run's lock and journal are its
own, so two such runs may both rotate a token: an overlapping platform is left with two new
tokens (one per run), an in-place platform with the secret of whichever run issued last, and a
shared sink with whichever run wrote last. Each run therefore reconciles while it plans, from
what it can see:

- the tokens of the item's identity in the listing (no request);
- what its first sink that can be read back holds, by :func:`fingerprint` (no request);
- its own record (``journal.rotated``): the token it last delivered and the fingerprint of that
  secret.

When these disagree (another token of the identity, a sink holding a secret this run did not
deliver, a token issued after this run's last rotation, a readable current secret that is not
the one the sink holds), the run checks the secret its sink holds (one request):

- it works, and this run's own last successor is a token that its sinks no longer hold: another
  run's secret replaced it there, so that successor is this run's *abandoned* one and is
  deleted; the token the sinks hold is the token from now on (``adopt``);
- it is refused: the consumers are stranded. Where the platform lets the current secret be read
  (PactFlow) it is delivered again; elsewhere the token is rotated again;
- tokens of the identity that this run never made are left alone and named in the notes: the
  run that made them removes them once its own sinks hold another secret.

Every such finding is written in the token's notes (the report says the run met another's work).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.tokenops.tokens.plugins.module_utils._client import TokenOpsError
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    InputError, parse_optional_timestamp,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_journal import fingerprint
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_protocol import (
    verify_secret,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks import SinkError

#: a token issued this long after this run last delivered it was issued by someone else (the
#: platform's clock and the controller's may differ by a few minutes)
SKEW = 300
ANOTHER_RUN = 'another run over this token (one with another state directory?)'


def held_secret(item):
    """What the first sink that can be read back holds, and that sink; (None, None). A store
    that cannot be read now is passed over (the sink's own checks say why, when it matters)."""
    for sink in item.sinks:
        if sink.can_read_back:
            try:
                secret = sink.read_back()
            except SinkError:
                continue
            if secret:
                return secret, sink
    return None, None


def identity_tokens(item, client, listing, now):
    """``[(id, raw, token, live)]`` of the listed tokens of ``item``'s identity (``live``: not
    expired, and not revoked or disabled where the platform says so); one probe of the adapter per
    candidate, no request."""
    probe = item.new_adapter(client, now)
    found = []
    for raw in listing.candidates(probe):
        try:
            token = probe.find_in([raw])
        except (InputError, TokenOpsError):
            token = None
        if token is None or not token.get('id'):
            continue
        expires = probe.expires_at(token)
        live = (expires is None or expires > now) and not probe.cannot_authenticate(raw)
        found.append((token['id'], raw, token, live))
    return found


class Reconciler:
    """The reconciliation of one planned token (see the module's docstring)."""

    def __init__(self, planned, journal, now):
        self.planned = planned
        self.item = planned.item
        self.journal = journal
        self.now = now
        self.record = journal.last_rotation(planned.item) or {}
        self.held, self.holder = held_secret(planned.item)
        self.sink = self.holder.describe() if self.holder is not None else None
        self.digest = fingerprint(self.held) if self.held else None
        self._checked = None

    def _works(self):
        """``(ok, why, conclusive)`` of the held secret, asked once."""
        if self._checked is None:
            checked = verify_secret(self.planned.adapter, self.held, self.planned.current)
            self._checked = (checked.ok, checked.why, checked.ok or checked.refused)
        return self._checked

    def narrow(self, matches):
        """Before the lookup: with more than one live token of the identity (``matches`` from
        :func:`identity_tokens`), the ids to leave out of the listing (this run's abandoned
        successor deleted; tokens it never made set aside)."""
        if len(matches) < 2 or not self.held:
            return set()
        self.duplicates = True
        ids = [token_id for token_id, raw, token, live in matches]
        own = self.record.get('token_id')
        ok, why, conclusive = self._works()
        notes = self.planned.notes
        if own in ids and self.digest == self.record.get('fingerprint'):
            others = [token_id for token_id in ids if token_id != own]
            notes.append('%s: %s left alone (not made by this run, and %s holds this run\'s '
                         'secret of token %s)' % (ANOTHER_RUN, ', '.join(others), self.sink, own))
            return set(others)
        if ok and own in ids:
            self.planned.retire_now_ids.append(own)
            notes.append('%s replaced the secret in %s with a working one of its own: this run\'s '
                         'successor %s, which no sink of it holds any more, is deleted'
                         % (ANOTHER_RUN, self.sink, own))
            rest = [token_id for token_id in ids if token_id != own]
            self.adopted = True
            return set([own]) | self._newest_only(matches, rest)
        return self._newest_only(matches, ids)

    def _newest_only(self, matches, ids):
        """Which of ``ids`` the sinks hold cannot be told: the newest is taken as the token, the
        others are left alone and named."""
        if len(ids) < 2:
            return set()
        dated = sorted(((parse_optional_timestamp(token.get('created_at')) is not None,
                         token.get('created_at') or '', token_id)
                        for token_id, raw, token, live in matches if token_id in ids))
        newest = dated[-1][2]
        others = sorted(token_id for token_id in ids if token_id != newest)
        self.planned.notes.append('%s: more than one token of this identity exists; %s is taken '
                                  'as the token, %s left alone' % (ANOTHER_RUN, newest,
                                                                   ', '.join(others)))
        return set(others)

    adopted = False
    duplicates = False

    def after_lookup(self, current):
        """After the lookup: whether what the sink holds still works when the platform or the
        sink shows another run's work; sets the plan due, or to deliver again, or adopts."""
        planned, record = self.planned, self.record
        if current is None or not self.held or planned.due or planned.error:
            return
        readable = planned.adapter.readable_secret(current)
        changed = []
        if record.get('token_id') and record['token_id'] != current.get('id'):
            changed.append('the token is %s, this run last delivered %s'
                           % (current.get('id'), record['token_id']))
        if record.get('fingerprint') and record['fingerprint'] != self.digest:
            changed.append('%s holds a secret this run did not deliver' % self.sink)
        issued = planned.adapter.secret_issued_at(current)
        delivered = parse_optional_timestamp(record.get('delivered_at'))
        if (issued is not None and delivered is not None
                and (issued - delivered).total_seconds() > SKEW):
            changed.append('the secret was issued after this run last delivered it')
        if readable and readable != self.held:
            changed.append('the platform\'s current secret is not the one %s holds' % self.sink)
        if self.duplicates and not self.adopted:
            changed.append('more than one token of this identity exists')
        if not changed and not self.adopted:
            return
        ok, why, conclusive = self._works()
        if ok:
            if changed and not self.duplicates:
                planned.notes.append('%s changed this token since this run last rotated it (%s); '
                                     'the secret in %s works'
                                     % (ANOTHER_RUN, '; '.join(changed), self.sink))
            if record:
                self.journal.adopt(self.item, current.get('id'), self.digest)
            return
        if not conclusive:
            planned.notes.append('%s may have changed this token (%s); whether the secret in %s '
                                 'still works could not be told: %s'
                                 % (ANOTHER_RUN, '; '.join(changed), self.sink, why))
            return
        if getattr(self.holder, 'confirms_each_run', False):
            return      # confirm_consumers (the protocol) rotates it, saying why
        if readable:
            planned.redeliver = readable
            planned.notes.append('%s rotated this token (%s) and the secret in %s no longer '
                                 'works: the current secret is delivered again'
                                 % (ANOTHER_RUN, '; '.join(changed), self.sink))
            return
        planned.due = True
        planned.reason = ('%s rotated this token (%s) and the secret in %s no longer works: '
                          'rotating again so that its consumers hold a working one'
                          % (ANOTHER_RUN, '; '.join(changed) or 'the platform refuses it',
                             self.sink))

# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The journal of rotations in progress, so that the next run can finish what a dead run began.

One JSON file (``journal.json`` in ``rotate_state_dir``), rewritten atomically at every step of
every rotation. An entry never holds a secret: only the label, the platform, the ids of the
previous and the new token, the step reached and where the new secret was delivered. A finished
rotation's entry is removed.

An entry's ``step`` is the last journaled step of the rotation protocol that its rotation
reached (``_rotation_protocol.STEPS`` names them, says when each is written and what the next
run does with an entry left there); ``delivered`` lists the sinks that hold the new secret, and
``sink_records`` what a sink asked the journal to keep before it was written (never a secret).
``rotated`` remembers when the role last rotated each token, for platforms that do not say when
a secret was issued.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import threading

from ansible_collections.tokenops.tokens.plugins.module_utils._secret_file import (
    atomic_write, make_private_dir,
)

VERSION = 1


class JournalError(Exception):
    pass


def legacy_key(item):
    """The key of journals written before entries were keyed by token (label alone)."""
    return '%s/%s' % (item.provider.name, item.label)


class Journal:
    """``journal.json`` under ``state_dir``; ``write=False`` (check mode) never touches disk."""

    def __init__(self, state_dir, write=True):
        self.path = os.path.join(state_dir, 'journal.json')
        self.state_dir = state_dir
        self.write = write
        self._lock = threading.Lock()
        self.entries, self.rotated = self._load()

    def _load(self):
        try:
            with open(self.path) as handle:
                data = json.load(handle)
        except (IOError, OSError):
            if os.path.exists(self.path):
                raise JournalError('rotate_state_dir: cannot read %s' % self.path)
            return {}, {}
        except ValueError:
            raise JournalError('rotate_state_dir: %s is not valid JSON; move it away after '
                               'checking the platforms by hand' % self.path)
        if not isinstance(data, dict) or not isinstance(data.get('entries'), dict):
            raise JournalError('rotate_state_dir: %s is not a rotation journal' % self.path)
        return data['entries'], data.get('rotated') or {}

    @property
    def exists(self):
        """Whether a run ever wrote the journal here (a first run, or storage that did not
        persist, finds none)."""
        return os.path.exists(self.path)

    def create(self):
        """Write the journal if no run wrote it here yet."""
        with self._lock:
            if not self.exists:
                self._save()

    @staticmethod
    def _find(table, item):
        found = table.get(item.journal_key)
        if found is None:
            found = table.get(legacy_key(item))
        return found

    def get(self, item):
        return self._find(self.entries, item)

    def unfinished(self):
        return dict(self.entries)

    def record(self, item, **fields):
        """Create or update the entry of ``item``'s token and save the journal at once."""
        with self._lock:
            entry = self.entries.pop(legacy_key(item), None) or {}
            entry = self.entries.setdefault(item.journal_key, entry)
            entry.update(label=item.label, provider=item.provider.name)
            entry.update(fields)
            self._save()
            return dict(entry)

    def finish(self, item):
        with self._lock:
            found = [self.entries.pop(key, None) for key in (item.journal_key, legacy_key(item))]
            if any(entry is not None for entry in found):
                self._save()

    def last_rotation(self, item):
        """``{token_id, rotated_at}`` of this role's last rotation of the token, or None.

        The age of a secret on a platform that reports no issue date (PactFlow) is counted from
        here.
        """
        return self._find(self.rotated, item)

    def remember_rotation(self, item, token_id, rotated_at):
        with self._lock:
            self.rotated.pop(legacy_key(item), None)
            self.rotated[item.journal_key] = dict(label=item.label, token_id=token_id,
                                                  rotated_at=rotated_at)
            self._save()

    def _save(self):
        if not self.write:
            return
        make_private_dir(self.state_dir)
        text = json.dumps(dict(version=VERSION, entries=self.entries, rotated=self.rotated), indent=2, sort_keys=True)
        atomic_write(self.path, text + '\n', 0o600)

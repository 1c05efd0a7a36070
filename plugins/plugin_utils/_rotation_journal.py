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

Steps: ``issuing`` (written before the request that issues a secret: the platform may have
acted even if no answer came back), ``issued`` (the new token's id is known; its secret was not
delivered everywhere), ``delivered`` (every sink holds the new secret; only retiring the
previous one is left). ``rotated`` remembers when the role last rotated each token, for platforms
that do not say when a secret was issued.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import threading

from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_sinks import atomic_write

VERSION = 1
ISSUING, ISSUED, DELIVERED = 'issuing', 'issued', 'delivered'


class JournalError(Exception):
    pass


def entry_key(label, provider):
    return '%s/%s' % (provider, label)


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

    def get(self, label, provider):
        return self.entries.get(entry_key(label, provider))

    def unfinished(self):
        return dict(self.entries)

    def record(self, label, provider, **fields):
        """Create or update the entry of ``label`` and save the journal at once."""
        with self._lock:
            entry = self.entries.setdefault(entry_key(label, provider),
                                            dict(label=label, provider=provider))
            entry.update(fields)
            self._save()
            return dict(entry)

    def finish(self, label, provider):
        with self._lock:
            if self.entries.pop(entry_key(label, provider), None) is not None:
                self._save()

    def last_rotation(self, label, provider):
        """``{token_id, rotated_at}`` of this role's last rotation of the token, or None.

        The age of a secret on a platform that reports no issue date (PactFlow) is counted from
        here.
        """
        return self.rotated.get(entry_key(label, provider))

    def remember_rotation(self, label, provider, token_id, rotated_at):
        with self._lock:
            self.rotated[entry_key(label, provider)] = dict(token_id=token_id,
                                                            rotated_at=rotated_at)
            self._save()

    def _save(self):
        if not self.write:
            return
        if not os.path.isdir(self.state_dir):
            os.makedirs(self.state_dir, 0o700)
        text = json.dumps(dict(version=VERSION, entries=self.entries, rotated=self.rotated), indent=2, sort_keys=True)
        atomic_write(self.path, text + '\n', 0o600)

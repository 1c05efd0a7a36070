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
a secret was issued, and which sinks that rotation delivered to.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import json
import os
import threading

from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import isoformat, utcnow

from ansible_collections.tokenops.tokens.plugins.module_utils import _safe_path as safe_path

VERSION = 1
FILE = 'journal.json'


class JournalError(Exception):
    pass


def fingerprint(secret):
    """A one-way digest of a secret: whether a sink still holds what this run delivered can be
    told later without keeping the secret (API secrets are long and random, so the digest tells
    nothing of them)."""
    return hashlib.sha256(('tokenops.tokens:%s' % secret).encode('utf-8')).hexdigest()[:32]


def legacy_key(item):
    """The key of journals written before entries were keyed by token (label alone)."""
    return '%s/%s' % (item.provider.name, item.label)


class Journal:
    """``journal.json`` under ``state_dir``; ``write=False`` (check mode) never touches disk.

    The directory is checked (``_safe_path.private_directory``: the run's user's or root's, and
    writable by no one else) and kept open; the journal is read and written relative to it,
    never through a symbolic link, and only a journal of the run's own user is read: another
    one fails the step before any request, since whoever wrote it could steer what the run
    deletes or rotates.
    """

    def __init__(self, state_dir, write=True):
        self.path = os.path.join(state_dir, FILE)
        self.state_dir = state_dir
        self.write = write
        self._lock = threading.Lock()
        self.dir_fd = self._open_directory()
        self.entries, self.rotated = self._load()

    def _open_directory(self):
        try:
            return safe_path.private_directory(self.state_dir, 'rotate_state_dir',
                                               create=self.write)
        except FileNotFoundError:
            return None         # check mode, and no run wrote here yet
        except safe_path.UnsafePath as exc:
            raise JournalError(str(exc))

    def close(self):
        if self.dir_fd is not None:
            os.close(self.dir_fd)
            self.dir_fd = None

    __del__ = close

    def _load(self):
        if self.dir_fd is None:
            return {}, {}
        try:
            text = safe_path.read_file(self.dir_fd, FILE, self.path)
        except safe_path.UnsafePath as exc:
            raise JournalError('rotate_state_dir: %s; move it away after checking the platforms '
                               'by hand (a journal steers what a run deletes and rotates)' % exc)
        except (IOError, OSError) as exc:
            raise JournalError('rotate_state_dir: cannot read %s (%s)'
                               % (self.path, exc.strerror or exc))
        if text is None:
            return {}, {}
        try:
            data = json.loads(text.decode('utf-8'))
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
        return self.dir_fd is not None and safe_path.file_info(self.dir_fd, FILE) is not None

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

    def remember_rotation(self, item, token_id, rotated_at, secret_digest=None, sinks=None):
        """This run rotated the token: ``token_id``, when, the :func:`fingerprint` of the secret
        it delivered (how a later run tells its own delivery from another run's), and the
        descriptions of the ``sinks`` it delivered to (a later run delivers to a sink added
        since)."""
        with self._lock:
            self.rotated.pop(legacy_key(item), None)
            record = dict(label=item.label, token_id=token_id, rotated_at=rotated_at,
                          fingerprint=secret_digest, delivered_at=isoformat(utcnow()))
            if sinks is not None:
                record['sinks'] = list(sinks)
            self.rotated[item.journal_key] = record
            self._save()

    def adopt(self, item, token_id, secret_digest):
        """The sinks hold another run's working secret of ``token_id``: remember it as what this
        run's sinks hold (when this run last rotated the token stays as it was)."""
        with self._lock:
            record = self._find(self.rotated, item)
            if record is None:
                return
            record.update(token_id=token_id, fingerprint=secret_digest,
                          delivered_at=isoformat(utcnow()))
            self._save()

    def _save(self):
        if not self.write:
            return
        text = json.dumps(dict(version=VERSION, entries=self.entries, rotated=self.rotated),
                          indent=2, sort_keys=True)
        safe_path.write_file(self.dir_fd, FILE, text + '\n', self.path)

# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The interface every sink type implements: where a rotated secret goes.

A sink is built from one element of an item's ``deliver`` list (:meth:`Sink.check_options`
checks it before any request and names the option, ``rotate_tokens[label].deliver[N].opt``).
The rotation protocol (``_rotation_protocol.py``) then calls, for one token:

1. :meth:`Sink.preflight` before anything is issued: reachable, authorised, writable. It returns
   what the sink held (the *preflight state*, kept in memory only: it may hold the previous
   secret) for :meth:`Sink.rollback`;
2. :meth:`Sink.journal_record` just before the write: what the journal keeps for this sink
   (a request token, a check-and-set version; never a secret), so that a run that replays the
   write after a crash writes the same thing once;
3. :meth:`Sink.stage` then ``commit()`` (:meth:`Sink.write` for a sink that cannot stage): all
   sinks of a token are staged first and committed after, and a failure rolls back the ones
   already committed, so a token's sinks take the new secret all or none;
4. :meth:`Sink.read_back` (where ``can_read_back``): the secret its consumers read, for the next
   run's check of an unverified secret, and, for a sink that ``confirms_each_run``, for every
   later run's check that its consumers' secret still works;
5. :meth:`Sink.rollback` (where ``can_roll_back``): what the preflight state held, put back,
   after a failed consumer check (``check_tasks``). That check runs in the role between the
   engine's steps: :meth:`Sink.export_state` and :meth:`Sink.import_state` carry the preflight
   state across, in the ``ansible-playbook`` process's memory only (a ``no_log`` result), never
   on disk.

A sink with ``runs_as_task_file`` is not written by the engine: the role runs it as a task file
between the engine's steps (:meth:`Sink.delivery` is what the role gets), and it can be neither
read back nor rolled back.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class SinkError(Exception):
    """A sink that cannot take (or give back) a secret; the message names the sink.

    ``maybe_written``: the write failed in a way that leaves unknown whether the store took the
    new secret (a store that acted and then dropped the answer): the protocol then keeps the
    new token, as if the sink held it.
    """

    def __init__(self, message, maybe_written=False):
        super(SinkError, self).__init__(message)
        self.maybe_written = maybe_written


class Sink:
    """One sink of one token. Subclasses set ``type`` and ``OPTIONS`` and override what their
    store can do."""

    #: the value of the ``type`` option that selects this class
    type = None
    #: the options this type takes, ``type`` first, in the order errors list them
    OPTIONS = ('type',)
    #: :meth:`read_back` returns what the consumers read
    can_read_back = False
    #: :meth:`rollback` can put back what :meth:`preflight` saw
    can_roll_back = False
    #: the role runs this sink as a task file between the engine's steps
    runs_as_task_file = False
    #: every run that finds the token not due reads this sink back and checks with the platform
    #: that the secret its consumers read still works (a store others may write)
    confirms_each_run = False
    #: set by the protocol before :meth:`preflight`: check mode, where nothing may change
    check_mode = False

    def __init__(self, options, where, label, provider):
        #: the checked options (:meth:`check_options`)
        self.options = options
        #: the option path of this sink, ``rotate_tokens[label].deliver[N]``
        self.where = where
        self.label = label
        self.provider = provider
        #: what the report should say of this sink's last write beside success (no secret)
        self.notes = []

    @classmethod
    def check_options(cls, raw, where, default_variable):
        """The options of ``raw`` with defaults filled in, after checks that need no request;
        raises :class:`SinkError` naming ``where.option``. ``raw`` holds only known options."""
        return dict(type=cls.type)

    def rotating(self, platform, base_url, credential):
        """Told, once the item is checked, which token this sink delivers: its ``platform``,
        API ``base_url`` and the ``credential`` the rotation authenticates with. A sink that
        authenticates to that same platform with that same credential (a token writing its own
        consumer's copy) must write with the new secret: an in-place rotation kills the
        previous one before delivery."""

    @property
    def target(self):
        """What two tokens must never share (a file path, a secret's name), or None."""
        return None

    def describe(self):
        """``type:where`` for the report and the journal: never a secret."""
        raise NotImplementedError

    def preflight(self):
        """Raise :class:`SinkError` when this sink could not take a new secret; return the
        preflight state (what :meth:`rollback` needs), which never leaves the process."""
        return None

    def journal_record(self, token):
        """What the journal keeps for this sink before it is written (a JSON-able dict, never a
        secret), or None when a replayed write needs nothing."""
        return None

    def stage(self, secret, token, record):
        """Prepare the write; return an object with ``commit()`` and ``abort()``. By default the
        write itself happens at ``commit()``."""
        return _Deferred(self, secret, token, record)

    def write(self, secret, token, record):
        """Write ``secret``; writing it again with the same ``record`` changes nothing more."""
        raise NotImplementedError

    def read_back(self):
        """The secret this sink's consumers read now, or None when it holds none
        (``can_read_back``); raises :class:`SinkError` when it cannot tell."""
        return None

    def rollback(self, state):
        """Put back what :meth:`preflight` returned as ``state`` (``can_roll_back``)."""
        raise SinkError('%s: cannot be rolled back' % self.describe())

    def export_state(self, state):
        """``state`` as JSON-able data for the finish step (it may hold a secret: it travels
        only in a ``no_log`` result), or None when there is nothing to carry."""
        return None

    def import_state(self, data):
        """The preflight state :meth:`export_state` gave as ``data``."""
        return data

    def delivery(self, secret, token, index):
        """What the role gets to run this sink (``runs_as_task_file``)."""
        raise NotImplementedError


class _Deferred:
    """The staged write of a sink that cannot stage: written at commit."""

    def __init__(self, sink, secret, token, record):
        self._args = (sink, secret, token, record)

    def commit(self):
        sink, secret, token, record = self._args
        sink.write(secret, token, record)

    def abort(self):
        pass

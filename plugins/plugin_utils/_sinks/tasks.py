# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The ``tasks`` sink: the user's task file, run by the role (``roles/rotate/tasks/deliver.yml``)
with ``rotate_secret``, ``rotate_token`` and ``rotate_item``, between the engine's issue and
finish steps. The engine never writes it: it hands the role a delivery and learns at the finish
step whether the task file failed. What the task file did can be neither read back nor undone.

An item's ``check_tasks`` (:class:`CheckTasks`) is run the same way (``check.yml``), after the
deliveries.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re

from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.base import Sink, SinkError
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.file import check_path
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.vault_file import _first_line


#: the modules whose failure message ansible-core prints even when the task is ``no_log``, and
#: the arguments that become it
FAILURE_MESSAGES = {
    'fail': ('msg',),
    'assert': ('fail_msg', 'msg', 'success_msg'),
}
SECRET_VARIABLE = re.compile(r'\brotate_secret\b')


def printed_secret(tasks, where='task'):
    """Where a task file puts ``rotate_secret`` into text ansible-core prints whatever
    ``no_log`` says (a task's or a block's name, a ``fail`` or ``assert`` message), as
    ``task 2 (its name)``, or None. Only what the file says: a message built elsewhere (a
    variable, an include) is not followed."""
    for number, task in enumerate(tasks, 1):
        if not isinstance(task, dict):
            continue
        here = '%s %d' % (where, number)
        if _mentions(task.get('name')):
            return '%s (its name)' % here
        for section in ('block', 'rescue', 'always'):
            if isinstance(task.get(section), list):
                found = printed_secret(task[section], '%s, %s task' % (here, section))
                if found:
                    return found
        for action, value in task.items():
            short = str(action).rsplit('.', 1)[-1]
            if short not in FAILURE_MESSAGES or not str(action).startswith(
                    ('ansible.builtin.', 'ansible.legacy.', short)):
                continue
            if isinstance(value, str):
                if _mentions(value):
                    return '%s (its %s message)' % (here, short)
            elif isinstance(value, dict):
                for argument in FAILURE_MESSAGES[short]:
                    if _mentions(value.get(argument)):
                        return '%s (its %s %s)' % (here, short, argument)
    return None


def _mentions(value):
    if isinstance(value, (list, tuple)):
        return any(_mentions(v) for v in value)
    return isinstance(value, str) and SECRET_VARIABLE.search(value) is not None


class TasksSink(Sink):
    """A task file the role includes with the new secret."""

    type = 'tasks'
    OPTIONS = ('type', 'file')
    runs_as_task_file = True

    @classmethod
    def check_options(cls, raw, where, default_variable):
        return dict(type=cls.type, file=check_path(raw.get('file'), where + '.file'))

    @property
    def file(self):
        return self.options['file']

    def describe(self):
        return '%s:%s' % (self.type, self.file)

    def preflight(self):
        """The task file parses as a list of tasks, so that a typo is found before issuing
        rather than by ansible-core aborting the play after the secret was issued."""
        from ansible.errors import AnsibleError
        from ansible.parsing.dataloader import DataLoader
        path = self.file
        try:
            if not os.path.isfile(path) or not os.access(path, os.R_OK):
                raise SinkError('the task file does not exist or cannot be read')
            try:
                tasks = DataLoader().load_from_file(path)
            except AnsibleError as exc:
                raise SinkError('the task file is not valid YAML: %s' % _first_line(exc))
            if tasks is not None and not isinstance(tasks, list):
                raise SinkError('the task file must hold a list of tasks')
            printed = printed_secret(tasks or [])
            if printed:
                raise SinkError(
                    '%s holds rotate_secret, which ansible-core prints even with no_log (every '
                    'task\'s name, a failed task\'s message): leave the secret out of it, or '
                    'the new secret would be in the run\'s output' % printed)
        except SinkError as exc:
            raise SinkError('%s: %s' % (self.describe(), exc))
        return None

    def write(self, secret, token, record):
        raise NotImplementedError('a task file is run by the role between the engine\'s steps')

    def delivery(self, secret, token, index):
        """The role's ``deliveries`` element (``deliver.yml``): it holds the secret, so the
        engine's result that carries it is ``no_log``."""
        return dict(label=self.label, index=index, file=self.file, secret=secret, token=token)


class CheckTasks(TasksSink):
    """An item's consumer check, ``check_tasks``: a task file the role runs after delivery,
    with the new secret, before the previous one is revoked. Not a sink (it delivers nothing,
    and is not in ``deliver``), but checked before issuing and handed to the role as one is."""

    type = 'check_tasks'

    @classmethod
    def for_item(cls, value, where, label, provider):
        return cls(dict(type=cls.type, file=check_path(value, where)), where, label, provider)

    def describe(self):
        return 'check_tasks:%s' % self.file

# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A stdout callback that prints the whole run as one JSON document at its end, the way
ansible.posix.json does (which is not installed here, and no such callback ships with
ansible-core): what it prints is all that stdout may hold for ``ansible-playbook | jq`` to work.
Test-only (tests/functional/test_secret_hiding.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
name: json_document
type: stdout
short_description: the run as one JSON document (tests only)
description: Collects every task result and prints one JSON document when the run ends.
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'stdout'
    CALLBACK_NAME = 'json_document'

    def __init__(self, display=None):
        super(CallbackModule, self).__init__(display)
        self.tasks = []

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.tasks.append({'task': task.get_name(), 'hosts': {}})

    def _record(self, result, **status):
        entry = dict(result._result)
        entry.update(status)
        self.tasks[-1]['hosts'][result._host.get_name()] = entry

    def v2_runner_on_ok(self, result, **kwargs):
        self._record(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, failed=True)

    def v2_runner_on_skipped(self, result):
        self._record(result, skipped=True)

    def v2_playbook_on_stats(self, stats):
        hosts = sorted(stats.processed)
        self._display.display(json.dumps({
            'tasks': self.tasks,
            'stats': dict((host, stats.summarize(host)) for host in hosts)}, default=str,
            sort_keys=True))

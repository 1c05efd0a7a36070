# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes ``content`` to ``dest`` (mode 0600) on the controller: how a test's playbook hands its
registered results to the test (tests/functional/harness.py). Test-only.

An action of its own rather than ``ansible.builtin.copy``: copy runs two modules (stat, then
copy) for each playbook, about 0.8 s of CPU, and the tests run hundreds of playbooks."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dest = self._task.args['dest']
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, 'w') as handle:
            handle.write(str(self._task.args['content']))
        result['changed'] = True
        return result

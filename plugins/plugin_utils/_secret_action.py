# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The action plugin behind every module of the collection: it hides results that carry a secret.

A module cannot do this itself: ansible-core drops ``_ansible_no_log`` from module results.
Set here, on the controller, it censors the result for every callback (any verbosity,
``ANSIBLE_LOG_PATH``, ansible-runner job events and artifacts), ad-hoc runs included, while
``register`` still receives the whole result.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.plugins.action import ActionBase


def carries_secret(result):
    """True when a module result holds a secret: ``secret``, or a listing with secrets."""
    if result.get('secret') is not None:
        return True
    for item in result.get('tokens') or []:
        if isinstance(item, dict) and item.get('secret') is not None:
            return True
    return False


class SecretHidingAction(ActionBase):
    """Runs the module of the same name, then hides the result if it carries a secret."""

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super(SecretHidingAction, self).run(tmp, task_vars)
        wrap_async = self._task.async_val and not self._connection.has_native_async
        result.update(self._execute_module(task_vars=task_vars, wrap_async=wrap_async))
        if carries_secret(result):
            result['_ansible_no_log'] = True
        return result

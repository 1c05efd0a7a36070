#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: rotation_engine
short_description: The engine of the tokenops.tokens.rotate role (not for direct use)
version_added: 1.0.0
description:
  - Runs one step of a rotation for every token of the C(tokenops.tokens.rotate) role at once, on
    the controller. Use the role; the steps, their order and their arguments are internal
    to it and may change without notice.
  - V(lock) starts a holder process that takes an exclusive C(flock) on O(lock_path) and keeps it
    until V(unlock) or until the C(ansible-playbook) process ends.
  - V(plan) validates every item (before any request), lists each scope once, reads the journal of
    unfinished rotations in O(state_dir) and decides what is due. It sends only GET requests and
    writes nothing.
  - V(issue) issues, verifies and delivers new secrets to file and vault sinks, journaling every
    step, and revokes previous secrets of tokens that have no task-file sink.
  - V(finish) closes the rotations that waited for task-file sinks and writes C(report.json) and
    C(report.md) to O(report_dir).
author:
  - tokenops engineering (@tokenops)
attributes:
  check_mode:
    description: V(plan) runs in check mode and changes nothing; the other steps are skipped.
    support: full
  diff_mode:
    description: Not supported.
    support: none
  action:
    description: Runs on the controller as an action plugin.
    support: full
  async:
    description: Not supported.
    support: none
  platform:
    description: Runs on the controller.
    support: full
    platforms: posix
options:
  step:
    description: The step to run.
    type: str
    required: true
    choices: [lock, plan, issue, finish, unlock]
  tokens:
    description: The role's C(rotate_tokens).
    type: list
    elements: dict
    default: []
  state_dir:
    description: Directory of the journal of unfinished rotations (C(journal.json)).
    type: path
  lock_path:
    description: The lock file (V(lock)).
    type: path
  lock_timeout:
    description: Seconds to wait for another run to release the lock.
    type: float
    default: 600
  report_dir:
    description: Directory where V(finish) writes C(report.json) and C(report.md).
    type: path
  fail_fast:
    description: Stop issuing at the first failed token.
    type: bool
    default: false
  holder:
    description: Process id of the lock holder, from V(lock) (for V(unlock)).
    type: int
  rows:
    description: The report rows of the V(issue) (or V(plan)) step (for V(finish)).
    type: list
    elements: dict
    default: []
  outcomes:
    description: The rotations of the V(issue) step that wait for task-file sinks (for V(finish)).
    type: list
    elements: dict
    default: []
  task_failures:
    description: The task-file deliveries that failed (for V(finish)).
    type: list
    elements: dict
    default: []
notes:
  - The results of V(issue) carry new secrets for the task-file sinks when there are some; such a
    result is hidden from every callback, as with O(ignore:no_log=true).
seealso:
  - name: The rotation guide
    description: Strategies per platform and recovery after a failed run.
    link: https://github.com/tokenops/tokens/blob/main/docs/rotation.md
'''

EXAMPLES = r'''
- name: Use the role, not this module
  ansible.builtin.include_role:
    name: tokenops.tokens.rotate
'''

RETURN = r'''
rows:
  description: One report row per token (no secret).
  returned: on plan, issue and finish
  type: list
  elements: dict
report_md:
  description: The Markdown report.
  returned: on finish, and on plan in check mode
  type: str
failed_tokens:
  description: Labels of the tokens that failed.
  returned: on issue and finish
  type: list
  elements: str
holder:
  description: Process id of the lock holder.
  returned: on lock
  type: int
'''

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(
        step=dict(type='str', required=True, choices=['lock', 'plan', 'issue', 'finish', 'unlock']),
        tokens=dict(type='list', elements='dict', default=[], no_log=True),
        state_dir=dict(type='path'),
        lock_path=dict(type='path'),
        lock_timeout=dict(type='float', default=600),
        report_dir=dict(type='path'),
        fail_fast=dict(type='bool', default=False),
        holder=dict(type='int'),
        rows=dict(type='list', elements='dict', default=[]),
        outcomes=dict(type='list', elements='dict', default=[]),
        task_failures=dict(type='list', elements='dict', default=[]),
    ), supports_check_mode=True)
    module.fail_json(msg='tokenops.tokens.rotation_engine runs only as the action plugin of the '
                         'tokenops.tokens.rotate role')


if __name__ == '__main__':
    main()

# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The engine of the ``tokenops.tokens.rotate`` role: one task per step for all tokens.

Runs on the controller and drives the platform adapters directly, so a run costs one task per
step, not one per token. The logic lives in ``plugin_utils/_rotation_*.py``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

from ansible.plugins.action import ActionBase

from ansible_collections.tokenops.tokens.plugins.plugin_utils import _rotation_engine as engine
from ansible_collections.tokenops.tokens.plugins.plugin_utils import _rotation_lock as lock
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_journal import (
    JournalError,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_plan import (
    ValidationError,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_sinks import (
    atomic_write, make_private_dir,
)

ARGUMENT_SPEC = dict(
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
    handoff=dict(type='bool', default=False),
)
#: what V(plan) and V(issue) hand to V(finish) through the state directory when ``handoff``
HANDOFF = ('rows', 'outcomes')
HANDOFF_FILE = 'handoff.json'
NEEDS = {'lock': ('lock_path',), 'plan': ('state_dir',), 'issue': ('state_dir',),
         'finish': ('state_dir', 'report_dir'), 'unlock': ('holder',)}
CHANGES = ('lock', 'issue', 'finish', 'unlock')
STEP_LOCKED = ('plan', 'issue', 'finish')


class ActionModule(ActionBase):
    """See ``plugins/modules/rotation_engine.py``."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        validation, args = self.validate_argument_spec(ARGUMENT_SPEC)
        step = args['step']
        missing = [name for name in NEEDS[step] if args.get(name) in (None, '')]
        if missing:
            result.update(failed=True, msg='step %s needs %s' % (step, ', '.join(missing)))
            return result
        if self._task.check_mode and step in CHANGES:
            result.update(skipped=True, msg='check mode: only the plan runs')
            return result
        try:
            if step in STEP_LOCKED and args.get('lock_path') and not self._task.check_mode:
                # The worker holds the lock itself while it may issue, deliver or revoke, so a
                # killed run's surviving worker keeps the next run waiting (_rotation_lock.py).
                with lock.step_lock(args['lock_path'], args['lock_timeout']):
                    result.update(self._step(step, args))
            else:
                result.update(self._step(step, args))
        except (ValidationError, JournalError, lock.LockError) as exc:
            result.update(failed=True, msg=str(exc))
        except (IOError, OSError) as exc:
            where = getattr(exc, 'filename', None) or step
            result.update(failed=True, msg='%s: %s' % (where, exc.strerror or exc))
        if result.get('deliveries'):
            # The new secrets cross to the task-file sinks in this result only: hide it from
            # every callback, log and ansible-runner event; register still receives it.
            result['_ansible_no_log'] = True
        return result

    def _step(self, step, args):
        if step == 'lock':
            holder = lock.acquire(args['lock_path'], os.getppid(), args['lock_timeout'])
            return dict(changed=False, holder=holder, lock_path=args['lock_path'])
        if step == 'unlock':
            return dict(changed=False, released=lock.release(args['holder']))
        if step == 'plan':
            answer = dict(changed=False, **engine.plan_step(args['tokens'], args['state_dir'],
                                                            self._task.check_mode))
            return self._hand_off(args, answer)
        if step == 'issue':
            answer = engine.issue_step(args['tokens'], args['state_dir'], args['fail_fast'])
            answer['changed'] = any(r['action'] in ('rotated', 'failed') and r.get('previous_id')
                                    for r in answer['rows'])
            return self._hand_off(args, answer)
        if args['handoff']:
            args.update(_take_handoff(args['state_dir']))
        answer = engine.finish_step(args['tokens'], args['state_dir'], args['report_dir'],
                                    args['rows'], args['outcomes'], args['task_failures'])
        answer['changed'] = any(r['action'] == 'rotated' for r in answer['rows'])
        if args['handoff']:
            del answer['rows']
        return answer

    def _hand_off(self, args, answer):
        """With ``handoff``, keep the rows and outcomes in the state directory for V(finish)
        instead of in the result: a task result of one row per token would be copied into every
        later task's variables (about 0.3 s per task for 500 tokens)."""
        if not args['handoff']:
            return answer
        kept = dict((key, answer.pop(key, [])) for key in HANDOFF)
        if not self._task.check_mode:
            make_private_dir(args['state_dir'])
            atomic_write(os.path.join(args['state_dir'], HANDOFF_FILE), json.dumps(kept), 0o600)
        return answer


def _take_handoff(state_dir):
    """The rows and outcomes V(issue) (or V(plan)) kept for this V(finish); read once."""
    path = os.path.join(state_dir, HANDOFF_FILE)
    with open(path) as handle:
        kept = json.load(handle)
    os.unlink(path)
    return dict((key, kept.get(key) or []) for key in HANDOFF)

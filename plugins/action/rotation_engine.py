# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The engine of the ``tokenops.tokens.rotate`` role: one task per step for all tokens.

Runs on the controller and drives the platform adapters directly, so a run costs one task per
step, not one per token. The logic lives in ``plugin_utils``: ``_rotation_engine.py`` (the
steps for every token), ``_rotation_protocol.py`` (one token's rotation), ``_sinks/`` (where
secrets go).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import hashlib
import hmac
import json
import os
import threading
from binascii import hexlify
from collections.abc import Mapping

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.errors import AnsibleActionFail, AnsibleValueOmittedError
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.tokenops.tokens.plugins.module_utils import _safe_path as safe_path
from ansible_collections.tokenops.tokens.plugins.module_utils._text import printable
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    InputError, isoformat, parse_duration, utcnow,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils import _rotation_engine as engine
from ansible_collections.tokenops.tokens.plugins.plugin_utils import _rotation_lock as lock
from ansible_collections.tokenops.tokens.plugins.plugin_utils import _rotation_metrics as metrics
from ansible_collections.tokenops.tokens.plugins.plugin_utils import _rotation_report as report
from ansible_collections.tokenops.tokens.plugins.plugin_utils._plain_data import plain
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_journal import (
    Journal, JournalError,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_plan import (
    ValidationError,
)

ARGUMENT_SPEC = dict(
    step=dict(type='str', required=True, choices=['lock', 'plan', 'issue', 'finish', 'unlock']),
    tokens=dict(type='list', elements='dict', default=[], no_log=True),
    tokens_var=dict(type='str', no_log=False),   # a variable's name
    state_dir=dict(type='path'),
    lock_path=dict(type='path'),
    lock_timeout=dict(type='float', default=600),
    report_dir=dict(type='path'),
    fail_fast=dict(type='bool', default=False),
    holder=dict(type='int'),
    rows=dict(type='list', elements='dict', default=[]),
    outcomes=dict(type='list', elements='dict', default=[]),
    task_failures=dict(type='list', elements='dict', default=[]),
    check_failures=dict(type='list', elements='dict', default=[]),
    issued_var=dict(type='str', no_log=False),   # a variable's name
    handoff=dict(type='bool', default=False),
    handoff_key=dict(type='str', no_log=True),
    hygiene=dict(type='bool', default=False),
    expiring_within=dict(type='str', default='30d'),
    unused_for=dict(type='str', default='90d'),
    metrics_file=dict(type='path'),
    pushgateway_url=dict(type='str'),
    pushgateway_job=dict(type='str', default='tokenops_rotate'),
)
#: what V(plan) and V(issue) hand to V(finish) through the state directory when ``handoff``
HANDOFF = ('rows', 'outcomes', 'hygiene')
HANDOFF_FILE = 'handoff.json'
NEEDS = {'lock': ('lock_path',), 'plan': ('state_dir',), 'issue': ('state_dir',),
         'finish': ('state_dir', 'report_dir'), 'unlock': ('holder',)}
CHANGES = ('lock', 'issue', 'finish', 'unlock')
STEP_LOCKED = ('plan', 'issue', 'finish')
display = Display()
#: what a template that resolved to ``omit`` leaves: its key or list element is dropped
OMITTED = object()


#: the default of the connection option ``timeout`` (module_utils/_module.py)
DEFAULT_TIMEOUT = 30.0


def cancel_grace(tokens):
    """Seconds a step goes on after its run is gone (cancelled): the tokens under way finish
    their requests, each bounded by the largest ``timeout`` of the items (twice, for the request
    and its answer); then the worker ends (``_rotation_lock.cancel_watch``)."""
    timeouts = []
    for item in tokens if isinstance(tokens, list) else []:
        params = item.get('params') if isinstance(item, Mapping) else None
        value = params.get('timeout') if isinstance(params, Mapping) else None
        try:
            timeouts.append(float(value))
        except (TypeError, ValueError):
            timeouts.append(DEFAULT_TIMEOUT)
    return 2 * max(timeouts or [DEFAULT_TIMEOUT]) + 5


class ActionModule(ActionBase):
    """See ``plugins/modules/rotation_engine.py``."""

    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        self._cancelled = threading.Event()
        args = self._checked_args(task_vars or {})
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
                # killed run's surviving worker keeps the next run waiting (_rotation_lock.py);
                # once its run is gone it starts no further token and ends within a grace.
                with lock.step_lock(args['lock_path'], args['lock_timeout']):
                    with lock.cancel_watch(cancel_grace(args['tokens']), self._cancelled.set):
                        result.update(self._step(step, args, task_vars))
            else:
                result.update(self._step(step, args, task_vars))
        except (ValidationError, JournalError, lock.LockError, safe_path.UnsafePath,
                HandoffError) as exc:
            result.update(failed=True, msg=str(exc))
        except (IOError, OSError) as exc:
            where = getattr(exc, 'filename', None) or step
            result.update(failed=True, msg='%s: %s' % (where, exc.strerror or exc))
        # Messages may quote what a platform sent (an error body, a token id): text only.
        if result.get('msg'):
            result['msg'] = printable(result['msg'])
        if result.get('warnings'):
            result['warnings'] = [printable(warning) for warning in result['warnings']]
        for notice in result.get('notices') or []:
            # Information, not a warning: shown at default verbosity, once per run.
            display.display('tokenops.tokens: %s' % printable(notice))
        if result.get('deliveries') or result.get('checks') or result.get('states'):
            # The new secrets cross to the task-file sinks and consumer checks in this result
            # only, and the preflight states (a previous secret) to the finish step: hide it from
            # every callback, log and ansible-runner event; register still receives it.
            result['_ansible_no_log'] = True
        return result

    def _checked_args(self, task_vars):
        """The task's options, checked, except the tokens (see ``_tokens``): the engine checks
        every item itself and names the option, and the list is not copied once more."""
        given = dict(self._task.args)
        tokens = given.pop('tokens', None)
        spec = dict((name, option) for name, option in ARGUMENT_SPEC.items() if name != 'tokens')
        validated = ArgumentSpecValidator(spec).validate(given)
        if validated.error_messages:
            raise AnsibleActionFail('rotation_engine: %s' % validated.errors.msg)
        args = validated.validated_parameters
        name = args.get('tokens_var')
        if name and tokens is not None:
            raise AnsibleActionFail('rotation_engine: tokens and tokens_var are mutually '
                                    'exclusive')
        if name and name not in task_vars:
            raise AnsibleActionFail('tokens_var: no variable named %s' % name)
        args['tokens'] = task_vars[name] if name else tokens
        return args

    def _tokens(self, args, labels=None):
        """The items as plain data, templated where they hold a template; with ``labels``, only
        the items of those labels (V(finish) needs no others)."""
        tokens = args['tokens']
        if args.get('tokens_var'):
            if labels is not None and isinstance(tokens, list):
                tokens = [raw for raw in tokens if self._wanted(raw, labels)]
            tokens = self._templated(tokens)
        tokens = plain([] if tokens is None or tokens is OMITTED else tokens)
        if not isinstance(tokens, list) or not all(isinstance(item, dict) for item in tokens):
            raise ValidationError('%s: must be a list of dictionaries'
                                  % (args.get('tokens_var') or 'tokens (rotate_tokens)'))
        return tokens

    def _wanted(self, raw, labels):
        """Whether V(finish) needs the item ``raw``: one of ``labels`` (or not an item)."""
        if not isinstance(raw, Mapping):
            return True
        return self._templated(raw.get('id')) in labels

    def _templated(self, value):
        """``value`` with every string that holds a template templated, as Ansible would have
        templated the whole (strings without one, most of a token list, are taken as they are);
        a key or list element whose template resolved to ``omit`` is dropped, as Ansible drops
        it from a templated container (``OMITTED`` when ``value`` itself was omitted)."""
        if isinstance(value, Mapping):
            pairs = ((self._templated(key), self._templated(item)) for key, item in value.items())
            return dict((key, item) for key, item in pairs if item is not OMITTED)
        if isinstance(value, (list, tuple)):
            return [item for item in (self._templated(item) for item in value)
                    if item is not OMITTED]
        if isinstance(value, str) and self._templar.is_possibly_template(value):
            try:
                return self._templar.template(value)
            except AnsibleValueOmittedError:
                return OMITTED
        return value

    def _step(self, step, args, task_vars=None):
        if step == 'lock':
            holder = lock.acquire(args['lock_path'], os.getppid(), args['lock_timeout'])
            return dict(changed=False, holder=holder, lock_path=args['lock_path'])
        if step == 'unlock':
            return dict(changed=False, released=lock.release(args['holder']))
        if step in ('plan', 'issue'):
            _check_metrics(args)            # before any request
            durations = _hygiene_durations(args)
        if step == 'plan':
            answer = dict(changed=False, **engine.plan_step(self._tokens(args), args['state_dir'],
                                                            self._task.check_mode,
                                                            durations=durations))
            return self._hand_off(args, answer)
        if step == 'issue':
            if args.get('report_dir'):
                report.check_directory(args['report_dir'])      # before any request
            answer = engine.issue_step(self._tokens(args), args['state_dir'], args['fail_fast'],
                                       cancelled=self._cancelled, durations=durations)
            answer['changed'] = any(r['action'] in ('rotated', 'failed') and r.get('previous_id')
                                    for r in answer['rows'])
            rows = answer['rows']
            try:
                return self._hand_off(args, answer)
            except EnvironmentError as exc:
                return dict(self._no_hand_off(args, rows, exc),
                            **dict((key, answer[key]) for key in ('warnings', 'notices')
                                   if key in answer))
        found = None             # the hygiene V(issue) found, handed over with the rows
        if args['handoff']:
            kept = _take_handoff(args['state_dir'], args.get('handoff_key'))
            found = kept.pop('hygiene') or None
            args.update(kept)
        tokens = self._tokens(args, set(outcome.get('label') for outcome in args['outcomes']))
        answer = engine.finish_step(tokens, args['state_dir'], args['report_dir'],
                                    args['rows'], args['outcomes'], args['task_failures'],
                                    check_failures=self._check_failures(args, task_vars),
                                    states=self._carried_states(args, task_vars),
                                    hygiene=found)
        answer['changed'] = any(r['action'] == 'rotated' for r in answer['rows'])
        if args['metrics_file'] or args['pushgateway_url']:
            _export_metrics(args, answer)
        if args['handoff']:
            del answer['rows']
        return answer

    def _check_failures(self, args, task_vars):
        """The failed consumer checks, with what V(issue) handed the checks (O(issued_var))."""
        issued = (task_vars or {}).get(args.get('issued_var') or '')
        checks = plain(issued.get('checks') or []) if isinstance(issued, Mapping) else []
        return engine.named_check_failures(plain(args['check_failures']), checks)

    def _carried_states(self, args, task_vars):
        """The preflight states V(issue) returned, read from the variable its result was
        registered as (O(issued_var)): they may hold a previous secret, so they are never an
        argument of this task, nor written to disk."""
        name = args.get('issued_var')
        if not name:
            return {}
        issued = (task_vars or {}).get(name)
        if not isinstance(issued, Mapping):
            return {}
        states = plain(issued.get('states') or {})
        return states if isinstance(states, dict) else {}

    def _hand_off(self, args, answer):
        """With ``handoff``, keep the rows and outcomes in the state directory for V(finish)
        instead of in the result: a task result of one row per token would be copied into every
        later task's variables (about 0.3 s per task for 500 tokens).

        The file is bound to this run: it carries an HMAC under a key that never touches disk
        and goes to V(finish) through the result (``handoff_key``), so a file that anyone else
        wrote or changed is refused, and nothing is revoked on its word.
        """
        if not args['handoff']:
            return answer
        kept = dict((key, answer.pop(key, [])) for key in HANDOFF)
        if not self._task.check_mode:
            key = os.urandom(32)
            payload = json.dumps(kept).encode('utf-8')
            mac = hmac.new(key, payload, hashlib.sha256).hexdigest().encode('ascii')
            dir_fd = safe_path.private_directory(args['state_dir'], 'rotate_state_dir')
            try:
                safe_path.write_file(dir_fd, HANDOFF_FILE, mac + b'\n' + payload,
                                     os.path.join(args['state_dir'], HANDOFF_FILE))
            finally:
                os.close(dir_fd)
            answer['handoff_key'] = hexlify(key).decode('ascii')
        return answer

    def _no_hand_off(self, args, rows, exc):
        """The hand-off could not be written (a full disk): write the report now, so that what
        each token reached is known, and fail naming the file and the rotations left open."""
        written = ''
        if args.get('report_dir'):
            try:
                path = report.write(args['report_dir'], rows, isoformat(utcnow()))[1]
                written = ' The report in %s says what each token reached.' % path
            except (EnvironmentError, safe_path.UnsafePath):
                written = ' The report could not be written either.'
        try:
            journal = Journal(args['state_dir'], write=False)
            left = sorted('%s (%s)' % (entry.get('label'), entry.get('step'))
                          for entry in journal.unfinished().values())
            journal.close()
        except (JournalError, EnvironmentError):
            left = ['see the journal']
        return dict(failed=True, changed=any(r['action'] == 'rotated' for r in rows),
                    failed_tokens=engine.failed_labels(rows),
                    msg='%s: %s. The task-file sinks do not run and nothing more is revoked; the '
                        'rotations left open are %s: free space, then run again, and the next run '
                        'finishes them from the journal.%s'
                        % (getattr(exc, 'filename', None) or HANDOFF_FILE,
                           exc.strerror or exc, ', '.join(left) or 'none', written))


def _hygiene_durations(args):
    """``(expiring_within, unused_for)`` in seconds when the report's hygiene is wanted."""
    if not args['hygiene']:
        return None
    try:
        return (parse_duration(args['expiring_within'], 'rotate_expiring_within'),
                parse_duration(args['unused_for'], 'rotate_unused_for'))
    except InputError as exc:
        raise ValidationError(str(exc))


def _check_metrics(args):
    try:
        metrics.check_metrics_file(args['metrics_file'])
        metrics.check_pushgateway(args['pushgateway_url'], args['pushgateway_job'])
    except InputError as exc:
        raise ValidationError(str(exc))


def _export_metrics(args, answer):
    """Write and push the run's metrics; a failure is a warning, never a failed rotation."""
    now = utcnow()
    try:
        last_success = metrics.remember_run(args['state_dir'], now, not answer['failed_tokens'])
    except metrics.MetricsError as exc:
        answer.setdefault('warnings', []).append(str(exc))
        last_success = isoformat(now) if not answer['failed_tokens'] else None
    text = metrics.exposition(answer['rows'], now, last_success)
    outputs = []
    if args['metrics_file']:
        outputs.append(lambda: metrics.write_metrics_file(args['metrics_file'], text))
    if args['pushgateway_url']:
        outputs.append(lambda: metrics.push(args['pushgateway_url'], args['pushgateway_job'],
                                            text))
    for output in outputs:
        try:
            output()
        except metrics.MetricsError as exc:
            answer.setdefault('warnings', []).append(str(exc))


class HandoffError(Exception):
    pass


def _take_handoff(state_dir, key):
    """The rows and outcomes V(issue) (or V(plan)) kept for this V(finish); read once, and only
    when its HMAC under ``key`` (V(issue)'s ``handoff_key``) holds."""
    path = os.path.join(state_dir, HANDOFF_FILE)
    if not key:
        raise HandoffError('step finish with handoff needs handoff_key, the issue step\'s '
                           'handoff_key; nothing was revoked')
    dir_fd = safe_path.private_directory(state_dir, 'rotate_state_dir')
    try:
        data = safe_path.read_file(dir_fd, HANDOFF_FILE, path)
        if data is None:
            raise HandoffError('%s is missing: the issue step of this run left no hand-off; '
                               'nothing was revoked' % path)
        safe_path.remove_file(dir_fd, HANDOFF_FILE)
    except safe_path.UnsafePath as exc:
        raise HandoffError('%s; nothing was revoked' % exc)
    finally:
        os.close(dir_fd)
    mac, dummy, payload = data.partition(b'\n')
    try:
        expected = hmac.new(bytes(bytearray.fromhex(key)), payload,
                            hashlib.sha256).hexdigest().encode('ascii')
    except ValueError:
        expected = b''
    if not expected or not hmac.compare_digest(mac, expected):
        raise HandoffError('%s was not written by this run\'s issue step (its HMAC does not '
                           'match this run\'s key): another process changed or replaced it. '
                           'Nothing was revoked; the next run finishes the rotations from the '
                           'journal' % path)
    kept = json.loads(payload.decode('utf-8'))
    return dict((name, kept.get(name) or []) for name in HANDOFF)

# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The action plugin behind every module of the collection: no secret leaves it in plaintext
except into the registered result and the file the user named.

What it does, in order, for every task:

1. Refuses, before any request, what would put a secret out of the collection's reach:
   ``async`` on a call that may return a secret (the job file and ``async_status`` are
   ansible-core's), and a managing call that may issue a secret while nothing keeps it (no
   ``register``, no ``secret_dest``, as in every ad-hoc run) unless ``allow_secret_loss``.
2. Hands the module a one-time key (``seal_key``, a ``no_log`` option), so that the module's
   raw output (``ANSIBLE_DEBUG``, kept remote files) holds only sealed secrets
   (``module_utils/_seal.py``), and unseals them here, on the controller.
3. Withholds the secret from a result that fails, by the module or by the task's
   ``failed_when``: a failed result reaches ``ansible_failed_result`` and error handlers.
4. Hides a result that carries a secret from every callback (``_ansible_no_log``: any
   verbosity, ``ANSIBLE_LOG_PATH``, ansible-runner events and artifacts) and says why;
   ``register`` still receives the whole result. A module cannot do this itself: ansible-core
   drops ``_ansible_no_log`` from module results.

5. Hides a result whose ``api_token`` came from the loop item: ansible-core shows the item with
   every result (the item label, the result's loop variable, ansible-runner events), where the
   option's ``no_log`` does not reach. A failed result's (redacted) message is shown as a warning.
6. Warns when ``api_token`` is given on an ad-hoc command line (``-a``): ansible-core quotes the
   task's arguments in its own error message when the task fails (the ``Origin:`` block), and
   other local users can read a command line.

What stays the user's own act: ``debug: var=`` of a registered result, or any task that is
given the secret without ``no_log``, prints what it is given.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections.abc import Mapping

from ansible import context
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import PLATFORMS
from ansible_collections.tokenops.tokens.plugins.module_utils._seal import (
    SealError, carries_secret, new_key, unseal_result,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._text import printable

display = Display()

#: the line that replaces a hidden result, at default verbosity: what happened to which token,
#: and where its secret is (never the secret itself)
NOTICE = 'tokenops.tokens hid the result of %s because it carries a secret: %s; %s'
WHERE_REGISTERED = ('the secret is in the registered result %s (use it in a no_log task, or give '
                    'secret_dest to have the module write it to a file)')
WHERE_FILE = 'the secret is in %s on the target'
WHERE_LOST = ('this task neither registers its result nor sets secret_dest: the secret is not '
              'kept anywhere')
LOOP_NOTICE = ('tokenops.tokens hid the result of %s%s because its api_token comes from '
               'the loop item, which ansible-core shows with every result (the item label, the '
               'result\'s "%s", ansible-runner events) where no_log does not reach. Loop over '
               'names and look each credential up instead, for example loop: "{{ creds | '
               'dict2items }}" with api_token: "{{ creds[item.key] }}" and loop_control.label '
               '(the collection README, "Secrets")')
LOOP_FAILURE = 'The hidden result failed: %s'
COMMAND_LINE = ('%s: api_token is given on the ad-hoc command line (-a). ansible-core quotes the '
                'task\'s arguments, api_token among them, in its own error message when the task '
                'fails (its "Origin:" block), and other local users can read a command line: put '
                'the credential in the %s environment variable instead (the collection README, '
                '"Secrets")')
WITHHELD = ('the collection withheld the secret from this failed result, so that error '
            'handlers and ansible_failed_result never see it')


class _Unprinted(str):
    """A ``no_log`` module argument whose ``repr`` is masked: ansible-core's debug mode prints
    the module's arguments (``done with _execute_module``) with ``%s`` of their dict."""

    def __repr__(self):
        return "'********'"


#: the module options whose values are never printed, not even by ANSIBLE_DEBUG
UNPRINTED_OPTIONS = ('api_token', 'seal_key')


def _holds(value, text):
    """Whether ``text`` is, or is inside, a string anywhere in ``value``."""
    if isinstance(value, str):
        return text in value
    if isinstance(value, Mapping):
        return any(_holds(key, text) or _holds(item, text) for key, item in value.items())
    if isinstance(value, (list, tuple, set)):
        return any(_holds(item, text) for item in value)
    return False


def _withhold_secrets(result):
    found = False
    holders = [result] + [item for item in result.get('tokens') or [] if isinstance(item, dict)]
    for holder in holders:
        if holder.pop('secret', None) is not None:
            found = True
    if found:
        result['secret_withheld'] = WITHHELD


class SecretHidingAction(ActionBase):
    """Runs the module of the same name with a one-time seal key, unseals and hides its result."""

    _supports_check_mode = True
    _supports_async = True

    # ------------------------------------------------------------------------------------
    def _module_name(self):
        return self._task.action.split('.')[-1]

    def _is_info_module(self):
        return self._module_name().endswith('_info')

    def _may_return_secret(self):
        args = self._task.args
        if self._is_info_module():
            return bool(args.get('include_values'))
        return args.get('state', 'present') != 'absent'

    def _register_names(self):
        register = self._task.register
        if not register:
            return []
        if isinstance(register, dict):    # ansible-core 2.21: register projections
            return [str(name) for name in register]
        return [str(register)]

    def _refusal(self):
        """Why this task must not run at all, or None. Checked before any request."""
        name = 'tokenops.tokens.' + self._module_name()
        may_return = self._may_return_secret()
        if self._task.async_val and may_return:
            return ('%s does not run with async when it may return a secret: ansible-core would '
                    'keep the result in its async job file and hand it to async_status, out of '
                    'this collection\'s reach, so the secret could only be hidden by losing it. '
                    'Run the task without async (a state: absent call may use it). No request '
                    'was sent.' % name)
        args = self._task.args
        if (may_return and not self._is_info_module() and not self._task.check_mode
                and not self._register_names() and not args.get('secret_dest')
                and not _truthy(args.get('allow_secret_loss'))):
            return ('%s may issue a new secret, and nothing would keep it: the collection hides '
                    'secrets from all output, and this task neither registers its result nor '
                    'names a file. Give secret_dest=/path/to/file (written atomically, mode 0600, '
                    'on the target host), or register the result in a playbook, or set '
                    'allow_secret_loss=true to go ahead anyway. No request was sent.' % name)
        return None

    def _fails_by_condition(self, result, task_vars):
        """Whether the task's ``failed_when`` will fail this result (as the executor will
        evaluate it after this plugin returns). When it cannot be told, assume it fails."""
        conditions = self._task.failed_when
        if not conditions:
            return False
        view = dict(result)
        view.setdefault('failed', False)
        view.setdefault('changed', False)
        variables = dict(task_vars or {})
        for name in self._register_names():
            variables[name] = view
        try:
            return bool(self._task._resolve_conditional(conditions, variables))
        except Exception:  # pylint: disable=broad-exception-caught
            return True

    def _loop_variable(self, task_vars):
        """The name of the loop variable when this task runs in a loop, else None."""
        if self._task.loop is None and not self._task.loop_with:
            return None
        return (task_vars or {}).get('ansible_loop_var') or getattr(
            self._task.loop_control, 'loop_var', None) or 'item'

    def _credential_in_loop_item(self, task_vars):
        """The loop variable's name when ``api_token`` (templated) is in the loop item."""
        token = self._task.args.get('api_token')
        name = self._loop_variable(task_vars)
        if not name or not isinstance(token, str) or not token:
            return None
        return name if _holds((task_vars or {}).get(name), token) else None

    def _credential_on_command_line(self):
        token = self._task.args.get('api_token')
        raw = (context.CLIARGS or {}).get('module_args')
        return isinstance(token, str) and bool(token) and isinstance(raw, str) and token in raw

    def _token_env(self):
        """The platform's credential variable (every module's name starts with its platform)."""
        found = PLATFORMS.get(self._module_name().split('_')[0])
        return found.token_env if found else 'platform\'s credential'

    # ------------------------------------------------------------------------------------
    def run(self, tmp=None, task_vars=None):
        result = super(SecretHidingAction, self).run(tmp, task_vars)
        refusal = self._refusal()
        if refusal:
            result.update(failed=True, msg=refusal)
            return result
        if self._credential_on_command_line():
            display.warning(COMMAND_LINE % ('tokenops.tokens.' + self._module_name(),
                                            self._token_env()))
        key = new_key()
        module_args = dict(self._task.args)
        module_args['seal_key'] = key
        for option in UNPRINTED_OPTIONS:
            if isinstance(module_args.get(option), str):
                module_args[option] = _Unprinted(module_args[option])
        wrap_async = self._task.async_val and not self._connection.has_native_async
        result.update(self._execute_module(module_args=module_args, task_vars=task_vars,
                                           wrap_async=wrap_async))
        try:
            unseal_result(result, key)
        except SealError as exc:
            _withhold_secrets(result)
            result.update(failed=True, msg='tokenops.tokens: %s' % exc)
        if carries_secret(result) and (result.get('failed')
                                       or self._fails_by_condition(result, task_vars)):
            _withhold_secrets(result)
        if carries_secret(result):
            result['_ansible_no_log'] = True
            # The line quotes a token's name and id, which the platform chose: text only. On
            # stderr: stdout holds only what the stdout callback prints (one JSON document for
            # ``ansible-playbook | jq``, one line per result for oneline). Information, not a
            # warning: a run that hides a secret it was asked for has nothing to warn about.
            display.display(printable(NOTICE % (self._task.get_name(),
                                                self._what_happened(result),
                                                self._where_the_secret_is())), stderr=True)
        loop_variable = self._credential_in_loop_item(task_vars)
        if loop_variable:
            result['_ansible_no_log'] = True
            loop = (task_vars or {}).get('ansible_loop')
            position = loop.get('index') if isinstance(loop, Mapping) else None
            notice = LOOP_NOTICE % (self._task.get_name(),
                                    ' (item %s)' % position if position else '', loop_variable)
            if result.get('failed'):
                notice += '. ' + LOOP_FAILURE % result.get('msg')
            display.warning(notice)
        return result

    def _where_the_secret_is(self):
        names = self._register_names()
        if names:
            # In a loop, each item's result is in <register>.results[N].
            where = names[0] + ('.results[N]' if self._task.loop else '')
            secret = '%s.tokens[N].secret' if self._is_info_module() else '%s.secret'
            return WHERE_REGISTERED % (secret % where)
        if self._task.args.get('secret_dest') and not self._task.check_mode:
            return WHERE_FILE % self._task.args['secret_dest']
        return WHERE_LOST

    def _what_happened(self, result):
        """Which token's secret the hidden result carries, and what was done: public metadata
        only (platform, id, name, expiry)."""
        title = PLATFORMS.get(self._module_name().split('_')[0])
        title = title.title if title else 'the platform'
        if self._is_info_module():
            listed = [t for t in result.get('tokens') or []
                      if isinstance(t, dict) and t.get('secret') is not None]
            return '%d value(s) of %s tokens read: %s' % (
                len(listed), title, ', '.join(describe_token(t) for t in listed))
        token = result.get('token') if isinstance(result.get('token'), dict) else {}
        if not result.get('rotated'):    # a secret the platform lets be read again (PactFlow)
            done = '%s, its value read' % ('updated' if result.get('changed') else 'unchanged')
        elif result.get('previous_id'):
            done = 'rotated (previous token %s)' % result['previous_id']
        elif 'rotation_reason' in result:   # it existed before this run
            done = 'rotated'
        else:
            done = 'created'
        return '%s token %s %s' % (title, describe_token(token), done)


def describe_token(token):
    """``id ("name", team ..., expires ...)`` from a token's public metadata."""
    details = []
    name = token.get('name') or token.get('description')
    if name:
        details.append('"%s"' % name)
    if token.get('team_id'):
        details.append('team %s' % token['team_id'])
    details.append('expires %s' % token['expires_at'] if token.get('expires_at')
                   else 'no expiry')
    return '%s (%s)' % (token.get('id') or 'without id', ', '.join(details))


def _truthy(value):
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ('1', 'true', 'yes', 'on', 'y', 't')

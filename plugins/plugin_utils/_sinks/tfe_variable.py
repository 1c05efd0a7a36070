# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The ``tfe_variable`` sink: a variable of an HCP Terraform / Terraform Enterprise workspace or
variable set (the TFE API's ``/workspaces/:id/vars`` and ``/varsets/:id/relationships/vars``).

The variable is found by key and category in the preflight, then updated in place with one
``PATCH`` (or created with one ``POST`` when absent; a run that died after that ``POST`` finds
it by key next time and updates it). A sensitive value is write-only: no read returns it, so
delivery is confirmed by the variable's ``version-id``, which changes on every update, and the
sink can be neither read back nor rolled back. ``api_url`` and ``api_token`` fall back to
``TFE_ADDRESS`` and ``TFE_TOKEN`` and may name another organization or instance than the token
being rotated.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
from urllib.parse import quote

from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    ApiClient, AuthenticationError, TokenOpsError,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._paging import iter_jsonapi
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API, PLATFORMS
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks import _options as opt
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.base import Sink, SinkError
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.github_secret import (
    _check_url, _said, connection_options, write_refused,
)

DEFAULT_API_URL = 'https://app.terraform.io'
CATEGORIES = ('env', 'terraform')
#: how many of a variable set's workspaces the check for their own variable of the key reads
SHADOW_CHECKS = 20


def _flag(raw, name, where, default):
    value = raw.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise SinkError('%s.%s: must be true or false' % (where, name))
    return value


class TfeVariableSink(Sink):
    """A workspace variable or a variable-set variable, by key and category."""

    type = 'tfe_variable'
    OPTIONS = ('type', 'organization', 'workspace', 'variable_set', 'key', 'category', 'hcl',
               'sensitive', 'description', 'api_url', 'api_token', 'validate_certs', 'timeout',
               'max_retry_wait')

    @classmethod
    def check_options(cls, raw, where, default_variable):
        workspace, variable_set = raw.get('workspace'), raw.get('variable_set')
        if (workspace is None) == (variable_set is None):
            raise SinkError('%s: give either workspace or variable_set (a name)' % where)
        for option in ('organization', 'key'):
            if not isinstance(raw.get(option), str) or not raw.get(option):
                raise SinkError('%s.%s: required' % (where, option))
        if raw['organization'] in ('.', '..') or '/' in raw['organization']:
            raise SinkError('%s.organization: must be a name' % where)
        holder = workspace if workspace is not None else variable_set
        if not isinstance(holder, str) or not holder or '/' in holder or holder in ('.', '..'):
            option = 'workspace' if workspace is not None else 'variable_set'
            raise SinkError('%s.%s: must be a name' % (where, option))
        category = raw.get('category') or 'env'
        if category not in CATEGORIES:
            raise SinkError('%s.category: must be one of %s, got %r'
                            % (where, ', '.join(CATEGORIES), category))
        description = raw.get('description')
        if description is not None and not isinstance(description, str):
            raise SinkError('%s.description: must be a string' % where)
        api_url = raw.get('api_url') or os.environ.get('TFE_ADDRESS') or DEFAULT_API_URL
        token = raw.get('api_token') or os.environ.get('TFE_TOKEN')
        if not token:
            raise SinkError('%s.api_token: no credential given; set api_token or the TFE_TOKEN '
                            'environment variable' % where)
        if any(c.isspace() for c in token):
            raise SinkError('%s.api_token: must not contain white space' % where)
        return dict(type=cls.type, organization=raw['organization'], workspace=workspace,
                    variable_set=variable_set, key=raw['key'], category=category,
                    hcl=_flag(raw, 'hcl', where, False),
                    sensitive=_flag(raw, 'sensitive', where, True), description=description,
                    api_url=_check_url(api_url, where + '.api_url'), api_token=token,
                    **connection_options(raw, where))

    def __init__(self, options, where, label, provider):
        super(TfeVariableSink, self).__init__(options, where, label, provider)
        self._client = None
        #: the variables path of the workspace or set, once found
        self._vars_path = None
        #: ``(id, version-id, sensitive)`` of the variable with this key and category, or None
        self._existing = None
        #: the sink authenticates as the rotation does (same instance, same credential)
        self._shares_rotation_credential = False
        #: the variable set's document, once found (``variable_set`` only)
        self._varset = None

    def rotating(self, platform, base_url, credential):
        self._shares_rotation_credential = (
            platform == 'tfe' and credential == self.options['api_token'] and (
                opt.same_place(base_url) == opt.same_place(self.options['api_url'])))

    @property
    def _holder_option(self):
        return 'workspace' if self.options['workspace'] is not None else 'variable_set'

    @property
    def target(self):
        """The variable: by key and category in its workspace or set. Organization names are
        case-insensitive to the TFE API (hashicorp/terraform-provider-tfe#299)."""
        options = self.options
        return '%s:%s/%s/%s %s/%s (%s)' % (
            self.type, opt.same_place(options['api_url']), options['organization'].lower(),
            self._holder_option, options[self._holder_option], options['key'],
            options['category'])

    def describe(self):
        options = self.options
        holder = ('workspace %s' % options['workspace'] if options['workspace'] is not None
                  else 'variable set %s' % options['variable_set'])
        host = '' if options['api_url'] == DEFAULT_API_URL else ' on %s' % options['api_url']
        return '%s:%s/%s %s (%s)%s' % (self.type, options['organization'], holder,
                                       options['key'], options['category'], host)

    @property
    def client(self):
        if self._client is None:
            spec = API['tfe']
            options = self.options
            self._client = ApiClient(options['api_url'] + spec.path_prefix,
                                     'Bearer %s' % options['api_token'], spec.decode_error,
                                     timeout=options['timeout'],
                                     validate_certs=options['validate_certs'],
                                     retry=opt.retry_policy(options['max_retry_wait']),
                                     accept=spec.accept, content_type=spec.content_type,
                                     content_type_on=spec.content_type_on,
                                     platform=PLATFORMS['tfe'].title,
                                     credential_option='%s.api_token' % self.where)
        return self._client

    def _failure(self, exc, what, subject=None):
        if isinstance(exc, AuthenticationError):
            return SinkError('%s.api_token: the TFE API did not accept the credential'
                             % self.where)
        status = getattr(exc, 'status', None)
        said = getattr(exc, 'platform_message', None) or str(exc)
        if status == 404:
            return SinkError('%s.%s: %s not found, or not visible to api_token'
                             % (self.where, self._holder_option, subject or what))
        if status == 403:
            return SinkError('%s.api_token: the TFE API refused %s (%s); the token needs '
                             'permission to write variables there' % (self.where, what, said))
        return SinkError('%s: %s failed: %s' % (self.describe(), what, said))

    # -- preflight -------------------------------------------------------------------------
    def _find_holder(self):
        """The variables path of the workspace or variable set; refuses a read-only token."""
        options, org = self.options, quote(self.options['organization'], safe='')
        try:
            if options['workspace'] is not None:
                words = 'workspace %s in organization %s' % (
                    options['workspace'], options['organization'])
                body = self.client.get('/organizations/%s/workspaces/%s'
                                       % (org, quote(options['workspace'], safe='')))
                data = body.get('data') or {}
                permissions = (data.get('attributes') or {}).get('permissions') or {}
                if permissions.get('can-update-variable') is False:
                    raise SinkError('%s.api_token: may not write the variables of %s'
                                    % (self.where, words))
                return '/workspaces/%s/vars' % data['id'], False
            words = 'variable set %s in organization %s' % (
                options['variable_set'], options['organization'])
            for varset in iter_jsonapi(self.client, '/organizations/%s/varsets' % org,
                                       params={'q': options['variable_set']}):
                attributes = varset.get('attributes') or {}
                if attributes.get('name') == options['variable_set']:
                    if (attributes.get('permissions') or {}).get('can-update') is False:
                        raise SinkError('%s.api_token: may not update %s' % (self.where, words))
                    self._varset = varset
                    return '/varsets/%s/relationships/vars' % varset['id'], True
        except TokenOpsError as exc:
            raise self._failure(exc, 'reading the %s' % words, words)
        except (KeyError, TypeError, AttributeError):
            raise SinkError('%s: the TFE API answered with an unexpected document'
                            % self.describe())
        raise SinkError('%s.variable_set: %s not found, or not visible to api_token'
                        % (self.where, words))

    def _variables(self, paged, credential=None):
        if paged:
            return list(iter_jsonapi(self.client, self._vars_path))
        return self.client.request('GET', self._vars_path,
                                   credential=credential).get('data') or []

    def _find_variable(self, variables):
        """The variable with this key and category (its ``attributes`` a dict), or None."""
        found = None
        for variable in variables:
            attributes = variable.get('attributes') or {}
            if attributes.get('key') == self.options['key'] and \
                    attributes.get('category') == self.options['category']:
                found = dict(variable, attributes=attributes)
        return found

    def preflight(self):
        """The workspace or set exists and may be written; the variable, if any, found by key
        and category (a sensitive one that the sink would make non-sensitive is refused)."""
        self._vars_path, paged = self._find_holder()
        try:
            variables = self._variables(paged)
        except TokenOpsError as exc:
            raise self._failure(exc, 'listing the variables')
        self._existing = None
        variable = self._find_variable(variables)
        if variable is not None:
            attributes = variable['attributes']
            self._existing = (variable['id'], attributes.get('version-id'),
                              bool(attributes.get('sensitive')))
        if self._existing and self._existing[2] and not self.options['sensitive']:
            raise SinkError('%s.sensitive: the variable is sensitive, and TFE cannot make a '
                            'sensitive variable non-sensitive' % self.where)
        if self._varset is not None:
            self._note_shadowing_workspaces()
        return dict(exists=self._existing is not None)

    def _note_shadowing_workspaces(self):
        """A workspace's own variable of the same key and category wins over a variable set's,
        unless the set is a priority set (TFE's variable precedence): its runs would keep reading
        their own value. Said in the report's notes (the set's other workspaces do read the new
        secret); at most :data:`SHADOW_CHECKS` workspaces are looked at."""
        attributes = self._varset.get('attributes') or {}
        if attributes.get('priority') or attributes.get('global'):
            return
        related = ((self._varset.get('relationships') or {}).get('workspaces') or {}).get(
            'data') or []
        shadowed = []
        for workspace in related[:SHADOW_CHECKS]:
            try:
                own = self.client.get('/workspaces/%s/vars' % quote(str(workspace.get('id')),
                                                                    safe='')).get('data') or []
            except (TokenOpsError, AttributeError):
                continue
            if self._find_variable(own) is not None:
                shadowed.append(str(workspace.get('id')))
        if shadowed:
            self.notes.append(
                '%s: workspace%s %s ha%s a variable %s (%s) of %s own, which wins over the '
                'variable set\'s (it is not a priority set): %s runs keep reading %s own value'
                % (self.describe(), 's' if len(shadowed) > 1 else '', ', '.join(shadowed),
                   've' if len(shadowed) > 1 else 's', self.options['key'],
                   self.options['category'], 'their' if len(shadowed) > 1 else 'its',
                   'their' if len(shadowed) > 1 else 'its',
                   'their' if len(shadowed) > 1 else 'its'))

    # -- write -----------------------------------------------------------------------------
    def write(self, secret, token, record):
        """One ``PATCH`` of the variable found by key (or one ``POST`` when there is none),
        confirmed by a new ``version-id``. When the sink authenticates as the rotation does and
        that credential is refused now, it was the token being rotated, replaced in place: the
        write is made with the new secret (only ever sent to the same instance). A write without
        a clear answer is settled by reading the variable again."""
        self.client.remember_secret(secret)
        credential = None
        try:
            try:
                body = self._send(secret, None)
            except AuthenticationError:
                if not self._shares_rotation_credential:
                    raise
                credential = secret
                body = self._send(secret, credential)
        except TokenOpsError as exc:
            if write_refused(exc):
                raise self._failure(exc, 'writing variable %s' % self.options['key'])
            # No clear answer: TFE may have acted (a POST is never sent twice).
            body = self._settle(exc, credential)
        data = (body or {}).get('data') or {}
        version = (data.get('attributes') or {}).get('version-id')
        before = self._existing[1] if self._existing else None
        if not data.get('id') or not version or version == before:
            raise SinkError('%s: the TFE API did not confirm the write (no new version-id)'
                            % self.describe(), maybe_written=True)
        self._existing = (data['id'], version, self.options['sensitive'])

    def _send(self, secret, credential):
        """One PATCH of the existing variable, or one POST; what the client raises is raised
        as it is."""
        if self._vars_path is None:
            self.preflight()
        options = self.options
        attributes = dict(key=options['key'], value=secret, category=options['category'],
                          hcl=options['hcl'], sensitive=options['sensitive'])
        if options['description'] is not None:
            attributes['description'] = options['description']
        if self._existing:
            var_id = self._existing[0]
            return self.client.request(
                'PATCH', '%s/%s' % (self._vars_path, var_id), idempotent=True,
                body=dict(data=dict(type='vars', id=var_id, attributes=attributes)),
                credential=credential)
        return self.client.request('POST', self._vars_path, body=dict(
            data=dict(type='vars', attributes=attributes)), idempotent=False,
            credential=credential)

    def _settle(self, exc, credential):
        """After a write without a clear answer: the variable as it is now (a document like the
        write's answer) when it changed since the preflight (a new version, or created), else
        the write's failure; ``maybe_written`` when the variable cannot be read."""
        what = 'writing variable %s' % self.options['key']
        try:
            found = self._find_variable(self._variables(self._vars_path.startswith('/varsets/'),
                                                        credential))
        except (TokenOpsError, KeyError, TypeError, AttributeError):
            raise SinkError('%s: %s failed (%s) and whether TFE took it cannot be read back'
                            % (self.describe(), what, _said(exc)), maybe_written=True)
        before = self._existing[1] if self._existing else None
        if found is not None and found['attributes'].get('version-id') not in (None, before):
            return dict(data=found)
        raise self._failure(exc, what)

# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: tokens
short_description: Every API token your credentials can see, as an inventory
version_added: 1.1.0
description:
  - Lists the tokens of PactFlow, HCP Terraform / Terraform Enterprise, Cloudflare, Pulumi Cloud and
    CloudTruth that the credentials of O(connections) can see, managed by this collection or not,
    and makes each one a host.
  - Each host has one variable, C(tokenops_token), with the token's metadata and what its times say
    (see the examples), and C(ansible_connection=local). It never holds a secret or a credential,
    and neither does the inventory cache.
  - "Groups: C(tokenops_<platform>) for each of the five platforms, C(tokenops_expired),
    C(tokenops_expiring) (expires within O(expiring_within)), C(tokenops_never_expires),
    C(tokenops_unused) (not used for O(unused_for); a token never used counts from its issue)
    and C(tokenops_never_used). Every one of them exists even when empty."
  - "PactFlow tells nothing of a token's creation, expiry or use: its tokens are only in
    C(tokenops_pactflow), with those fields null. (PactFlow tokens do not expire unless an
    administrator turned on the account-wide token expiry.)"
  - Each connection is listed as the matching C(_info) module lists (every page), and all connections
    are listed at once. Every option of every connection is checked before any request; a mistake
    fails the whole source with a message that names C(connections[N].option).
  - A connection that fails while listing (a refused credential, an unreachable API) is reported as a
    warning and the other connections still load, unless O(strict) is set, in which case the whole
    source fails. A source with a failed connection is not written to the cache.
  - The configuration file's name must end in C(tokens.yml) or C(tokens.yaml).
author:
  - tokenops engineering (@tokenops)
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin; it must always be V(tokenops.tokens.tokens).
    type: str
    required: true
    choices: [tokenops.tokens.tokens]
  connections:
    description:
      - The platform connections to list, each the options of that platform's C(_info) module that
        authenticate and choose what is listed.
      - String values may be Jinja templates, with lookups and extra variables (such as those of a
        vaulted C(-e @vault.yml)), or inline vault values (C(!vault)).
    type: list
    elements: dict
    required: true
    suboptions:
      platform:
        description: The platform.
        type: str
        required: true
        choices: [cloudflare, cloudtruth, pactflow, pulumi, tfe]
      api_token:
        description:
          - "The credential to list with. When not set, the platform's environment variable is used, as in
            its modules (E(PACT_BROKER_TOKEN), E(TFE_TOKEN), E(CLOUDFLARE_API_TOKEN),
            E(PULUMI_ACCESS_TOKEN), E(CLOUDTRUTH_API_KEY)): AWX credentials of the types in
            C(docs/awx.md) set them."
          - Never printed, logged, cached or returned.
        type: str
      api_url:
        description:
          - Base URL of the API. When not set, the platform's URL variable (E(PACT_BROKER_BASE_URL),
            E(TFE_ADDRESS), E(CLOUDFLARE_BASE_URL), E(PULUMI_BACKEND_URL), E(CLOUDTRUTH_SERVER_URL)),
            else its public endpoint (PactFlow has none).
        type: str
      validate_certs:
        description: Verify the TLS certificate of O(connections[].api_url).
        type: bool
        default: true
      timeout:
        description: Seconds to wait for each HTTP request.
        type: float
        default: 30
      max_retry_wait:
        description: The most seconds to wait in total before repeating reads that the platform rate
          limited or could not serve, as in the modules.
        type: float
        default: 120
      organization:
        description:
          - TFE (required; E(TFE_ORGANIZATION) when not set) and Pulumi (for O(connections[].kind=organization)
            and V(team)) organization.
        type: str
      team:
        description:
          - TFE, optional, a team name or C(team-...) id to list only that team's tokens (one more
            request); Pulumi, required for O(connections[].kind=team).
        type: str
      account_id:
        description: Cloudflare, the account whose tokens to list; when not set, the user tokens of the
          user O(connections[].api_token) belongs to.
        type: str
      kind:
        description: Pulumi, which tokens to list.
        type: str
        choices: [personal, organization, team]
        default: personal
  expiring_within:
    description:
      - A token that has not expired and expires within this duration is in C(tokenops_expiring).
      - A duration such as V(30d), V(12h), V(2w), or seconds.
    type: str
    default: 30d
  unused_for:
    description:
      - A token last used this long ago (or never used, and issued this long ago) is in
        C(tokenops_unused).
      - A duration such as V(90d), V(12h), V(2w), or seconds.
    type: str
    default: 90d
seealso:
  - module: tokenops.tokens.tfe_team_token_info
  - module: tokenops.tokens.cloudflare_token_info
  - module: tokenops.tokens.pulumi_token_info
  - module: tokenops.tokens.cloudtruth_service_account_info
  - module: tokenops.tokens.pactflow_token_info
'''

EXAMPLES = r'''
# estate.tokens.yml: every token of two platforms; credentials from the environment (AWX
# credentials set TFE_TOKEN and CLOUDFLARE_API_TOKEN), the Pulumi one from a vaulted extra var.
plugin: tokenops.tokens.tokens
connections:
  - platform: tfe
    organization: acme
  - platform: cloudflare
  - platform: cloudflare
    account_id: 01a7362d577a6c3019a474fd6f485823
  - platform: pulumi
    kind: organization
    organization: acme
    api_token: "{{ vault_pulumi_token }}"
expiring_within: 14d

# Extra groups and variables from tokenops_token (constructed).
keyed_groups:
  - key: tokenops_token.scope
    prefix: scope
  - key: tokenops_token.owner
    prefix: owner
    default_value: nobody
groups:
  old_tokens: tokenops_token.age_days is not none and tokenops_token.age_days > 365
compose:
  token_age_days: tokenops_token.age_days

# Keep the listing for an hour (ansible-inventory --flush-cache reads again).
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/tokenops-inventory
cache_timeout: 3600

# A host's variables (ansible-inventory --host tfe_ci-deploy_at-dcQjmwDsACzJPYtu):
# ansible_connection: local
# tokenops_token:
#   platform: tfe
#   api_url: https://app.terraform.io
#   scope: acme/team-xKbd9i0kufJ8dSw7
#   kind: described
#   id: at-dcQjmwDsACzJPYtu
#   name: ci-deploy
#   description: ci-deploy
#   status: active
#   owner: user-LV5ErY12nJDhVZjI
#   generation: 1
#   created_at: '2026-01-10T05:25:29Z'
#   issued_at: '2026-01-10T05:25:29Z'
#   expires_at: '2028-01-10T05:25:29Z'
#   last_used_at: '2026-11-29T05:24:14Z'
#   age_days: 324
#   expires_in_days: 406
#   never_expires: false
'''

from concurrent.futures import ThreadPoolExecutor

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.tokenops.tokens.plugins.module_utils import _estate as estate
from ansible_collections.tokenops.tokens.plugins.module_utils._client import (
    HAS_REQUESTS, TokenOpsError,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._module import (
    checked_base_url, checked_connection, make_client,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API, PLATFORMS
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    InputError, forget_unreadable_times, isoformat, parse_duration, utcnow,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._plain_data import plain

#: the cache's layout; a cache of another layout is read again from the platforms
CACHE_VERSION = 1
#: connections listed at once (each on its own client)
MAX_WORKERS = 8
GROUP_PREFIX = 'tokenops_'


def _redact(text, values):
    for value in values:
        if value:
            text = text.replace(value, '********')
    return text


class Connection:
    """One checked entry of ``connections``."""

    def __init__(self, index, platform, params, base_url):
        self.index = index
        self.platform = platform
        self.params = params
        self.base_url = base_url

    @property
    def source(self):
        """What the connection lists, without its credential: the key of its part of the cache."""
        scope = dict((name, self.params.get(name)) for name in estate.SCOPE_OPTIONS[self.platform])
        return dict(platform=self.platform, api_url=self.base_url, **scope)

    @property
    def where(self):
        return 'connections[%d] (%s)' % (self.index, self.platform)

    def list(self, warn):
        client = make_client(API[self.platform], self.params)
        records = []
        for token in estate.list_tokens(self.platform, client, self.params):
            token = forget_unreadable_times(token, lambda text: warn('%s: %s' % (self.where,
                                                                                 text)))
            records.append(estate.record(self.platform, self.params, token, self.base_url))
        return records


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = 'tokenops.tokens.tokens'

    def verify_file(self, path):
        named = path.endswith(('tokens.yml', 'tokens.yaml'))
        return named and super(InventoryModule, self).verify_file(path)

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        self._read_config_data(path)
        if not HAS_REQUESTS:
            raise AnsibleParserError('tokenops.tokens.tokens needs the Python library requests '
                                     'on the controller')
        expiring_within = self._duration('expiring_within')
        unused_for = self._duration('unused_for')
        connections = self._connections()       # every option checked before any request
        strict = self.get_option('strict')

        use_cache = self.get_option('cache')
        cache_key = self.get_cache_key(path)
        sources = [connection.source for connection in connections]
        data = None
        if use_cache and cache:
            try:
                data = self._cache[cache_key]
            except KeyError:
                data = None
            if not isinstance(data, dict) or data.get('version') != CACHE_VERSION \
                    or data.get('sources') != sources:
                data = None
        if data is None:
            data, complete = self._list(connections, strict)
            if use_cache and complete:
                self._cache[cache_key] = data
        self._populate(data['tokens'], utcnow(), expiring_within, unused_for, strict)

    # -- options --------------------------------------------------------------------------------
    def _duration(self, option):
        try:
            return parse_duration(plain(self.get_option(option)), option)
        except InputError as exc:
            raise AnsibleParserError(str(exc))

    def _connections(self):
        """Every connection templated and checked (argument spec, environment fallbacks, URL,
        credential, scope); all problems at once, before any request."""
        given = self.get_option('connections')
        if not isinstance(given, list) or not given:
            raise AnsibleParserError('connections: give a list of at least one platform '
                                     'connection')
        self.templar.available_variables = self._vars or {}
        connections, errors = [], []
        for index, raw in enumerate(given):
            try:
                connections.append(self._connection(index, raw))
            except InputError as exc:
                errors.append(str(exc))
        if errors:
            raise AnsibleParserError('; '.join(errors))
        return connections

    def _connection(self, index, raw):
        where = 'connections[%d]' % index
        if not isinstance(raw, dict):
            raise InputError('%s: must be a dictionary with platform and its options' % where)
        try:
            params = plain(self.templar.template(raw))
        except Exception as exc:  # pylint: disable=broad-except
            raise InputError('%s: a template could not be resolved: %s'
                             % (where, _redact(str(exc), [raw.get('api_token')])))
        platform = params.pop('platform', None)
        if platform not in estate.PLATFORMS:
            raise InputError('%s.platform: must be one of %s, got %r'
                             % (where, ', '.join(estate.PLATFORMS), platform))
        where = '%s (%s)' % (where, platform)
        result = ArgumentSpecValidator(estate.connection_spec(platform)).validate(params)
        secrets = list(getattr(result, '_no_log_values', ())) + [params.get('api_token')]
        if result.error_messages:
            raise InputError('; '.join('%s: %s' % (where, _redact(message, secrets))
                                       for message in result.error_messages))
        params = result.validated_parameters
        try:
            checked_connection(platform, params)
            estate.check_scope(platform, params)
            base_url = checked_base_url(platform, params)
        except InputError as exc:
            raise InputError('%s.%s' % (where, _redact(str(exc), secrets)))
        return Connection(index, platform, params, base_url)

    # -- listing --------------------------------------------------------------------------------
    def _list(self, connections, strict):
        """``(data, complete)``: the records of every connection that could be listed (each
        connection on its own client, all at once); a failed one is a warning, or with
        ``strict`` the end of the source."""
        warnings = []

        def one(connection):
            try:
                return connection.list(warnings.append), None
            except (InputError, TokenOpsError) as exc:
                return None, str(exc) or type(exc).__name__
            except Exception as exc:  # pylint: disable=broad-except
                return None, '%s: %s' % (type(exc).__name__, exc)

        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(connections))) as pool:
            outcomes = list(pool.map(one, connections))
        for text in warnings:
            self.display.warning(text)
        tokens, failures = [], []
        for connection, (records, error) in zip(connections, outcomes):
            if error is not None:
                failures.append('%s at %s could not be listed: %s' % (
                    connection.where, connection.base_url, _redact(
                        error, [connection.params.get('api_token')])))
            else:
                tokens.extend(records)
        if failures and strict:
            raise AnsibleParserError('; '.join(failures) + ' (strict: no token of this source '
                                                           'is loaded)')
        for failure in failures:
            self.display.warning('%s; its tokens are left out, the other connections are loaded'
                                 % failure)
        data = dict(version=CACHE_VERSION, listed_at=isoformat(utcnow()),
                    sources=[connection.source for connection in connections], tokens=tokens)
        return data, not failures

    # -- the inventory ----------------------------------------------------------------------------
    def _populate(self, records, now, expiring_within, unused_for, strict):
        groups = ['%s%s' % (GROUP_PREFIX, platform) for platform in sorted(PLATFORMS)]
        groups += ['%s%s' % (GROUP_PREFIX, flag) for flag in estate.FLAGS]
        for group in groups:
            self.inventory.add_group(group)
        compose = self.get_option('compose')
        composed = self.get_option('groups')
        keyed = self.get_option('keyed_groups')
        constructed = bool(compose or composed or keyed)
        for rec in records:
            host = estate.host_name(rec)
            derived, flags = estate.assess(rec, now, expiring_within, unused_for)
            variable = estate.token_variable(rec, derived)
            self.inventory.add_host(host, group='%s%s' % (GROUP_PREFIX, rec['platform']))
            self.inventory.set_variable(host, 'tokenops_token', variable)
            self.inventory.set_variable(host, 'ansible_connection', 'local')
            for flag in estate.FLAGS:
                if flag in flags:
                    self.inventory.add_child('%s%s' % (GROUP_PREFIX, flag), host)
            if constructed:
                hostvars = dict(tokenops_token=variable, ansible_connection='local')
                self._set_composite_vars(compose, hostvars, host, strict=strict)
                self._add_host_to_composed_groups(composed, hostvars, host, strict=strict)
                self._add_host_to_keyed_groups(keyed, hostvars, host, strict=strict)

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: cloudflare_token_info
short_description: List Cloudflare user or account API tokens with their age, expiry and due status
version_added: 1.0.0
description:
  - Lists the API tokens of the calling user, or of an account (O(account_id)), every page, with
    their policies, IP condition, status, age and whether they are due for rotation.
  - "The list is what Cloudflare lists: active, disabled and B(recently) expired tokens (a token
    that expired long ago is left out although it still exists), and, for a credential that holds only
    the C(list_self) permission, only the account tokens that credential created. Read a token that
    is left out by its id, with the C(token_id) option of M(tokenops.tokens.cloudflare_token)."
  - Can check the calling credential itself (O(verify_credential)).
  - Never changes anything and never returns a secret (Cloudflare never shows one after it was issued).
  - The age of a token's secret is counted from C(modified_on), because Cloudflare records no time at
    which a secret was issued and a roll keeps C(issued_on); see M(tokenops.tokens.cloudflare_token).
author:
  - tokenops engineering (@tokenops)
extends_documentation_fragment:
  - tokenops.tokens.connection
  - tokenops.tokens.connection.CLOUDFLARE
  - tokenops.tokens.info
  - tokenops.tokens.attributes.INFO_MODULE
  - tokenops.tokens.attributes.actiongroup_cloudflare
options:
  account_id:
    description:
      - List the tokens owned by this account (the 32-character account id).
      - When not set, the user tokens of the user O(api_token) belongs to are listed.
    type: str
  name:
    description:
      - List only tokens with exactly this name (there may be several).
    type: str
  status:
    description:
      - List only tokens with this status, such as V(active), V(disabled) or V(expired).
    type: str
  verify_credential:
    description:
      - Also check the credential in O(api_token) with Cloudflare's verify endpoint
        (C(/user/tokens/verify), or the account's for an account token) and return what it says
        as RV(credential).
      - "With an account-owned credential (C(cfat_...)) give O(account_id): Cloudflare answers such
        a credential on the user path as it answers a bad one (401 code 1000), so the module asks
        the account's verify path next."
      - "Cloudflare answers a working credential C(403) code 10000 (Authentication error) for a
        moment now and then: such an answer is asked again for O(max_verify_wait) seconds."
    type: bool
    default: false
seealso:
  - module: tokenops.tokens.cloudflare_token
'''

EXAMPLES = r'''
- name: User tokens due under a 90-day policy
  tokenops.tokens.cloudflare_token_info:
    max_age: 90d
    renew_before: 14d
  register: cf_tokens

- name: Show the ones that are due
  ansible.builtin.debug:
    msg: "{{ cf_tokens.tokens | selectattr('due') | map(attribute='name') | list }}"

- name: Account tokens that expire within 30 days
  tokenops.tokens.cloudflare_token_info:
    account_id: 01a7362d577a6c3019a474fd6f485823
    expiring_within: 30d

- name: Is the credential of this play still valid?
  tokenops.tokens.cloudflare_token_info:
    name: no-such-token
    verify_credential: true
  register: me
'''

RETURN = r'''
tokens:
  description: The tokens, with metadata, age and due status. Never a secret.
  returned: always
  type: list
  elements: dict
  sample:
    - id: 3e310667c6f74911a4236fa130268e01
      name: backup-reader
      status: disabled
      account_id: 01a7362d577a6c3019a474fd6f485823
      created_at: '2026-05-14T05:25:29Z'
      modified_at: '2026-05-14T05:25:29Z'
      last_used_at: '2026-11-30T05:25:57Z'
      not_before: '2026-11-22T00:00:00Z'
      expires_at: '2026-11-20T05:25:29Z'
      policies:
        - effect: allow
          permission_groups:
            - id: bbdffbeacde4505cb8f25ed5ff7a6e45
              name: DNS Write
            - id: c8fed203ed3043cba015a93ad1616f1f
              name: Zone Read
          resources:
            com.cloudflare.api.account.zone.*: '*'
      condition:
        request_ip:
          in:
            - 127.0.0.1/32
            - 192.0.2.0/24
      age_seconds: 17280028
      expired: false
      due: true
      due_reason: issued 120 days ago, at least max_age (30d)
  contains:
    id:
      description: The token id.
      type: str
      sample: "3e310667c6f74911a4236fa130268e01"
    name:
      description: The token's name.
      type: str
      sample: "backup-reader"
    status:
      description: V(active), V(disabled), V(expired), or "revoked (exposed)" after Cloudflare's leak scanning revoked it.
      type: str
      sample: "disabled"
    account_id:
      description: The account that owns the token; null for a user token.
      type: str
      sample: "01a7362d577a6c3019a474fd6f485823"
    created_at:
      description: When the token was created (C(issued_on)), ISO 8601.
      type: str
      sample: "2026-05-14T05:25:29Z"
    modified_at:
      description: When the token or its secret last changed (C(modified_on)), ISO 8601.
      type: str
      sample: "2026-05-14T05:25:29Z"
    last_used_at:
      description: Last use, ISO 8601, or null.
      type: str
      sample: "2026-11-30T05:25:57Z"
    not_before:
      description: The time before which the token is not valid, ISO 8601, or null.
      type: str
      sample: "2026-11-22T00:00:00Z"
    expires_at:
      description: Expiry (C(expires_on)), ISO 8601, or null for never.
      type: str
      sample: "2026-11-20T05:25:29Z"
    policies:
      description: The policies (effect, permission groups with id and name, resources), sorted, without policy ids.
      type: list
      elements: dict
      sample:
        - effect: allow
          permission_groups:
            - id: bbdffbeacde4505cb8f25ed5ff7a6e45
              name: DNS Write
            - id: c8fed203ed3043cba015a93ad1616f1f
              name: Zone Read
          resources:
            com.cloudflare.api.account.zone.*: '*'
    condition:
      description: The IP condition (C(request_ip) with C(in) and C(not_in) lists of canonical CIDR ranges), or null.
      type: dict
      sample: {"request_ip": {"in": ["127.0.0.1/32", "192.0.2.0/24"]}}
    age_seconds:
      description: Seconds since the secret was last issued, counted from RV(tokens[].modified_at).
      type: int
      sample: 17280028
    expired:
      description: Whether the token has expired.
      type: bool
      sample: false
    due:
      description: Whether it is due for rotation under O(max_age) and O(renew_before).
      type: bool
      sample: true
    due_reason:
      description: Why it is or is not due.
      type: str
      sample: "issued 120 days ago, at least max_age (30d)"
credential:
  description: What Cloudflare's verify endpoint says of the credential in O(api_token).
  returned: when O(verify_credential=true)
  type: dict
  sample:
    id: 882734339cdd4b769b27eabd786ad6c3
    status: active
    expires_at: '2027-02-28T00:00:00Z'
    not_before: '2026-11-22T00:00:00Z'
  contains:
    id:
      description: The id of the token in O(api_token); null when neither verify endpoint accepted it as its kind of token.
      type: str
      sample: "882734339cdd4b769b27eabd786ad6c3"
    status:
      description: Its status, such as V(active).
      type: str
      sample: "active"
    expires_at:
      description: Its expiry, ISO 8601, or null.
      type: str
      sample: "2027-02-28T00:00:00Z"
    not_before:
      description: Its start of validity, ISO 8601, or null.
      type: str
      sample: "2026-11-22T00:00:00Z"
'''

from ansible_collections.tokenops.tokens.plugins.module_utils._cloudflare import (
    caller_token, info_argument_spec, list_tokens, token_metadata, transient,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._cloudflare_options import (
    check_account_id,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._info import (
    Listing, info_argument_spec as shared_info_argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._module import (
    build_module, make_client, run,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import utcnow
from ansible_collections.tokenops.tokens.plugins.module_utils._verification import ask_again


def main():
    argument_spec = shared_info_argument_spec()
    argument_spec.update(info_argument_spec())
    module = build_module('cloudflare', argument_spec)

    def work():
        params = module.params
        listing = Listing(params, utcnow(), module.warn)
        account_id = params['account_id'] or None
        check_account_id(account_id)
        client = make_client(API['cloudflare'], params)
        result = dict(changed=False)
        if params['verify_credential']:
            # Cloudflare answers a working credential 403 code 10000 for a moment: ask again.
            result['credential'] = ask_again(lambda: caller_token(client, account_id),
                                             params['max_verify_wait'], transient)
        tokens = []
        for raw in list_tokens(client, account_id):
            if params['name'] is not None and raw.get('name') != params['name']:
                continue
            if params['status'] is not None and raw.get('status') != params['status']:
                continue
            token = token_metadata(raw, account_id)
            annotated = listing.annotate(token, issued_fields=('modified_at', 'created_at'))
            if listing.keep(annotated):
                tokens.append(annotated)
        result['tokens'] = tokens
        return result

    run(module, work)


if __name__ == '__main__':
    main()

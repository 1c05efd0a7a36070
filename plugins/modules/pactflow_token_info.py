#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: pactflow_token_info
short_description: List the PactFlow read-only and read-write API tokens
version_added: 1.0.0
description:
  - Lists the API tokens of the user (or system account) that O(api_token) belongs to, normally its
    read-only and its read-write token, with their metadata.
  - Never changes anything. Returns the tokens' values only with O(include_values=true), hidden from
    every output like every secret.
  - The type of each token is recognised from its description, the only type marker the API has; a
    token the module does not recognise is listed with RV(tokens[].type) null.
author:
  - tokenops engineering (@tokenops)
extends_documentation_fragment:
  - tokenops.tokens.connection
  - tokenops.tokens.connection.PACTFLOW
  - tokenops.tokens.info
  - tokenops.tokens.attributes.INFO_MODULE
  - tokenops.tokens.attributes.actiongroup_pactflow
options:
  type:
    description:
      - List only the token of this type.
    type: str
    choices: [read-only, read-write]
  include_values:
    description:
      - Return each token's value as RV(tokens[].secret), where PactFlow lists it.
      - The value of the token O(api_token) holds is never returned; you have it already, and Ansible
        would mask it in the result.
    type: bool
    default: false
notes:
  - PactFlow reports no creation, expiry or last-use time of a token, so RV(tokens[].age_seconds) is
    always null and no token is ever reported as expired or due; O(max_age), O(renew_before),
    O(expired=true) and O(expiring_within) therefore select nothing.
seealso:
  - module: tokenops.tokens.pactflow_token
'''

EXAMPLES = r'''
- name: Both tokens of the calling user
  tokenops.tokens.pactflow_token_info:
    api_url: https://example.pactflow.io
    api_token: "{{ pactflow_read_write_token }}"
  register: pactflow_tokens

- name: Their ids
  ansible.builtin.debug:
    msg: "{{ pactflow_tokens.tokens | items2dict(key_name='type', value_name='id') }}"

- name: The read-only token's value, for a consumer that needs it
  tokenops.tokens.pactflow_token_info:
    api_url: https://example.pactflow.io
    api_token: "{{ pactflow_read_write_token }}"
    type: read-only
    include_values: true
  register: read_only
'''

RETURN = r'''
tokens:
  description: The tokens, with their metadata. A secret only with O(include_values=true).
  returned: always
  type: list
  elements: dict
  sample:
    - id: 9d1a6e44-1b7c-4c2b-8f1e-7a9c3b2d4e55
      type: read-write
      description: Read only token (developer)
      created_at: null
      expires_at: null
      age_seconds: null
      expired: false
      due: true
      due_reason: not due
      secret: k4JvR8sQ2mXe9TbW1nZy0A
  contains:
    id:
      description: The token's uuid.
      type: str
      sample: 9d1a6e44-1b7c-4c2b-8f1e-7a9c3b2d4e55
    type:
      description: V(read-only), V(read-write), or null for a token the module does not recognise.
      type: str
      sample: "read-write"
    description:
      description: The description PactFlow gives the token.
      type: str
      sample: Read only token (developer)
    created_at:
      description: Always null; PactFlow does not report it.
      type: str
      sample: null
    expires_at:
      description: Always null; PactFlow does not report it.
      type: str
      sample: null
    age_seconds:
      description: Always null; PactFlow does not report a token's age.
      type: int
      sample: null
    expired:
      description: Always false; PactFlow does not report expiry.
      type: bool
      sample: false
    due:
      description: Always false; PactFlow does not report a token's age or expiry.
      type: bool
      sample: true
    due_reason:
      description: Why it is not due.
      type: str
      sample: "not due"
    secret:
      description: The token's value. Hidden from every output.
      returned: with O(include_values=true), when PactFlow lists it, except for the token O(api_token) holds
      type: str
      sample: "k4JvR8sQ2mXe9TbW1nZy0A"
'''

from ansible_collections.tokenops.tokens.plugins.module_utils._info import (
    Listing, info_argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._module import (
    build_module, make_client, run,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._pactflow import (
    info_argument_spec as pactflow_info_argument_spec, list_tokens, token_metadata,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import utcnow


def main():
    argument_spec = info_argument_spec()
    argument_spec.update(pactflow_info_argument_spec())
    module = build_module('pactflow', argument_spec)

    def work():
        params = module.params
        listing = Listing(params, utcnow(), module.warn)
        client = make_client(API['pactflow'], params)
        tokens = []
        for raw in list_tokens(client):
            annotated = listing.annotate(token_metadata(raw))
            if params['type'] and annotated['type'] != params['type']:
                continue
            if not listing.keep(annotated):
                continue
            # The token in api_token is left out: Ansible masks a no_log option's value anyway.
            if params['include_values'] and raw.get('value') not in (None, '', params['api_token']):
                annotated['secret'] = raw['value']
            tokens.append(annotated)
        return dict(changed=False, tokens=tokens)

    run(module, work)


if __name__ == '__main__':
    main()

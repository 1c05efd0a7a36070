#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: cloudtruth_service_account_info
short_description: List CloudTruth service accounts with role, owner, key ages, expiry and due status
version_added: 1.0.0
description:
  - Lists the CloudTruth service accounts that O(api_token) may see, over every page, with their
    role, owner and API keys, the age and expiry of the newest key, and whether it is due for a
    rekey.
  - Never changes anything and never returns a key (CloudTruth never shows one after it was
    issued); keys are listed by their visible prefix.
  - Entries that CloudTruth reports without a user are listed with a null
    RV(service_accounts[].name) and role.
author:
  - tokenops engineering (@tokenops)
extends_documentation_fragment:
  - tokenops.tokens.connection
  - tokenops.tokens.connection.CLOUDTRUTH
  - tokenops.tokens.info
  - tokenops.tokens.attributes.INFO_MODULE
  - tokenops.tokens.attributes.actiongroup_cloudtruth
options:
  name:
    description:
      - List only the service accounts with exactly this name.
    type: str
  max_age:
    description:
      - Report an account as due (RV(service_accounts[].due)) when its newest API key is at least
        this old.
      - A duration such as V(90d), V(12h), V(30m), V(2w), or a number of seconds.
    type: str
  renew_before:
    description:
      - Report an account as due when its newest API key expires within this duration.
    type: str
  expired:
    description:
      - V(true) lists only accounts whose newest key has expired, V(false) only the others. Unset
        lists both.
    type: bool
  expiring_within:
    description:
      - List only accounts whose newest key expires within this duration (expired ones included).
    type: str
seealso:
  - module: tokenops.tokens.cloudtruth_service_account
'''

EXAMPLES = r'''
- name: Service accounts whose key is due under a 90-day policy
  tokenops.tokens.cloudtruth_service_account_info:
    max_age: 90d
    renew_before: 14d
  register: cloudtruth_accounts

- name: Show the ones that are due
  ansible.builtin.debug:
    msg: "{{ cloudtruth_accounts.service_accounts | selectattr('due') | map(attribute='name') | list }}"

- name: One account, by name
  tokenops.tokens.cloudtruth_service_account_info:
    name: ci-deployer
'''

RETURN = r'''
service_accounts:
  description: The service accounts, with metadata, key ages and due status. Never a key.
  returned: always
  type: list
  elements: dict
  sample:
    - id: auth0|61949e36c0baff006a6d1aea
      name: nightly-backup
      description: Deploy pipeline
      owner: auth0|61949e36c0baff006a6d1aea
      role: contrib
      membership_id: c772ffcd-30af-4109-a33b-c3d9b486a1f3
      email: serviceaccount+7nfxzva936qq@cloudtruth.com
      created_at: '2026-08-02T05:25:29Z'
      modified_at: '2026-08-02T05:25:29Z'
      last_used_at: '2026-11-29T05:24:14Z'
      key_created_at: '2026-08-02T05:25:29Z'
      expires_at: '2026-12-20T05:25:29Z'
      live_keys: 1
      api_keys:
        - prefix: jtDytPfq
          created_at: '2026-08-02T05:25:29Z'
          expires_at: '2026-12-20T05:25:29Z'
          revoked: false
          expired: false
          age_seconds: 10368065
      age_seconds: 10368065
      expired: false
      due: true
      due_reason: issued 120 days ago, at least max_age (30d)
  contains:
    id:
      description: The service account id (also its user id).
      type: str
      sample: auth0|61949e36c0baff006a6d1aea
    name:
      description: The name, or null for an entry without a user.
      type: str
      sample: "nightly-backup"
    description:
      description: The description (empty when none).
      type: str
      sample: "Deploy pipeline"
    owner:
      description: The owner's user id, or null.
      type: str
      sample: "auth0|61949e36c0baff006a6d1aea"
    role:
      description:
        - The role in the organization, lower case, or null when the account has no membership.
      type: str
      sample: "contrib"
    membership_id:
      description: Id of the organization membership that holds the role.
      type: str
      sample: "c772ffcd-30af-4109-a33b-c3d9b486a1f3"
    email:
      description: The address CloudTruth generated for the account.
      type: str
      sample: "serviceaccount+7nfxzva936qq@cloudtruth.com"
    created_at:
      description: When the account was created, ISO 8601.
      type: str
      sample: "2026-08-02T05:25:29Z"
    modified_at:
      description: When the account was last changed, ISO 8601.
      type: str
      sample: "2026-08-02T05:25:29Z"
    last_used_at:
      description: When a key of the account was last used, ISO 8601, or null for never.
      type: str
      sample: "2026-11-29T05:24:14Z"
    key_created_at:
      description:
        - When the newest API key was issued, ISO 8601.
        - The account's creation time on servers that do not list keys.
      type: str
      sample: "2026-08-02T05:25:29Z"
    expires_at:
      description: When the newest API key expires, ISO 8601, or null for never.
      type: str
      sample: "2026-12-20T05:25:29Z"
    live_keys:
      description: How many API keys work now; null on servers that do not list keys.
      type: int
      sample: 1
    api_keys:
      description: The API keys, without their values.
      type: list
      elements: dict
      sample:
        - prefix: jtDytPfq
          created_at: '2026-08-02T05:25:29Z'
          expires_at: '2026-12-20T05:25:29Z'
          revoked: false
          expired: false
          age_seconds: 10368065
      contains:
        prefix:
          description: The visible start of the key. Not the key.
          type: str
          sample: "jtDytPfq"
        created_at:
          description: When the key was issued, ISO 8601.
          type: str
          sample: "2026-08-02T05:25:29Z"
        expires_at:
          description: When the key stops working, ISO 8601, or null for never.
          type: str
          sample: "2026-12-20T05:25:29Z"
        revoked:
          description: Whether the key was revoked.
          type: bool
          sample: false
        expired:
          description: Whether the key has expired.
          type: bool
          sample: false
        age_seconds:
          description: Seconds since the key was issued.
          type: int
          sample: 10368065
    age_seconds:
      description: Seconds since the newest API key was issued.
      type: int
      sample: 10368065
    expired:
      description: Whether the newest API key has expired.
      type: bool
      sample: false
    due:
      description: Whether the account is due for a rekey under O(max_age) and O(renew_before).
      type: bool
      sample: true
    due_reason:
      description: Why it is or is not due.
      type: str
      sample: "issued 120 days ago, at least max_age (30d)"
'''

from ansible_collections.tokenops.tokens.plugins.module_utils._cloudtruth import (
    account_metadata, info_argument_spec as cloudtruth_info_argument_spec, list_accounts,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._info import (
    Listing, info_argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._module import (
    build_module, make_client, run,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import (
    age_seconds, parse_optional_timestamp, utcnow,
)


def main():
    argument_spec = info_argument_spec()
    argument_spec.update(cloudtruth_info_argument_spec())
    module = build_module('cloudtruth', argument_spec)

    def work():
        params = module.params
        now = utcnow()
        listing = Listing(params, now, module.warn)
        client = make_client(API['cloudtruth'], params)
        accounts = []
        for raw in list_accounts(client):
            account = account_metadata(raw)
            if params['name'] is not None and account['name'] != params['name']:
                continue
            for key in account['api_keys']:
                key['age_seconds'] = age_seconds(parse_optional_timestamp(key['created_at']), now)
            annotated = listing.annotate(account, issued_fields=('key_created_at', 'created_at'))
            if listing.keep(annotated):
                accounts.append(annotated)
        return dict(changed=False, service_accounts=accounts)

    run(module, work)


if __name__ == '__main__':
    main()

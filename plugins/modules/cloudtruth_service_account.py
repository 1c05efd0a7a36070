#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: cloudtruth_service_account
short_description: Manage CloudTruth service accounts, their role, and rekey their API key
version_added: 1.0.0
description:
  - Creates, updates and deletes a CloudTruth service account, and issues it a new API key
    (a rekey) on request.
  - The API key is returned as RV(secret) only in the run that created the account or rekeyed it,
    hidden from every output. CloudTruth never shows a key again.
  - The account is found by O(name) over every page of the service account list; CloudTruth has
    no filter by name. Entries without a user (which CloudTruth can report) have no name and are
    never matched. Two accounts with the same name are an error that lists both ids.
  - O(description) and O(owner) change in place. O(role) changes through the account's
    organization membership. The name cannot change; see O(name).
  - "A rekey replaces the key in place: the account, its id and its role stay, a new key is
    issued, and the previous key stops working O(keep_previous_for) later (one hour unless set).
    No request can end the previous key before that (CloudTruth has no per-key endpoint), so for
    the C(tokenops.tokens.rotate) role a rekey is an in-place replacement whose overlap window is
    O(keep_previous_for)."
  - "The rekey endpoint is newer than CloudTruth's public clients, and its answer is not
    documented: its one public schema holds only C(expire_at), no key. The module therefore
    always sends an explicit future C(expire_at) for the previous key (unless
    O(keep_previous_for=0)), so the key the consumers hold keeps working until a new key has been
    received. It takes the new key from C(apikey), as the create has it, and otherwise fails with
    C(the server did not return the new key) and what became of the previous key, never reporting
    success without a key. A later run does not shorten that window; it warns while it lasts."
  - After every rekey the module reads the account back and reports what happened to the
    previous key, as the server shows it (stopped, works until a time, or works with no expiry).
author:
  - tokenops engineering (@tokenops)
extends_documentation_fragment:
  - tokenops.tokens.connection
  - tokenops.tokens.connection.CLOUDTRUTH
  - tokenops.tokens.rotation
  - tokenops.tokens.attributes
  - tokenops.tokens.attributes.actiongroup_cloudtruth
options:
  name:
    description:
      - The service account's name (its user's name), which identifies it. At most 128 characters.
      - CloudTruth cannot rename a service account. A different name is a different account, so
        the module creates it and leaves the old one alone (remove that one with O(state=absent)).
    type: str
    required: true
  description:
    description:
      - Free text stored with the account. Changed in place.
      - When not given, the existing description is left alone.
    type: str
  owner:
    description:
      - The CloudTruth user that owns the account, as its user id (such as
        C(auth0|61949e36c0baff006a6d1aea)) or its API URL (C(.../api/v1/users/<id>/)). Changed in
        place. An empty string removes the owner.
      - When not given, the existing owner is left alone.
      - CloudTruth does not document the form the API expects. The module sends the user's API
        URL, which is the form CloudTruth returns, and compares user ids.
    type: str
  role:
    description:
      - The account's role in the organization. Changed in place through its membership.
      - A new account gets V(viewer) when not given; an existing account's role is left alone.
      - The credential in O(api_token) cannot grant a role above its own.
    type: str
    choices: [owner, admin, contrib, viewer]
  keep_previous_for:
    description:
      - How long the previous API key keeps working after a rekey, as a duration such as V(1h),
        V(30m) or V(1d), at least V(1m). During that window both keys work, so the new key can
        reach every consumer before the old one stops.
      - When not given, one hour.
      - "V(0) asks for an immediate cut-over: the rekey sends C(expire_at) null and the module warns
        that consumers without the new key are locked out. CloudTruth does not document what a
        null C(expire_at) does, and some servers read it as \"never expires\"; the module reads the
        account back and warns when the previous key still works with no expiry."
      - Must not be V(0) to rekey the account whose key O(api_token) is, so that the module never
        locks out its own caller.
    type: str
  state:
    description:
      - V(present) makes sure the account exists; V(absent) deletes it, and its API keys stop
        working.
    type: str
    choices: [present, absent]
    default: present
  rotate:
    description:
      - When to rekey an account that already exists.
      - V(never) never does. V(always) does on every run.
      - V(due) does when the account's newest API key is older than O(max_age), expires within
        O(renew_before), or has expired. It needs at least one of the two.
      - A new account always comes with a new key, whatever this says.
    type: str
    choices: [never, always, due]
    default: never
  max_age:
    description:
      - With O(rotate=due), the age at which a key is due for rotation, measured on the account's
        newest API key (not the account's creation).
      - A duration such as V(90d), V(12h), V(30m), V(2w), V(1d12h), or a number of seconds.
    type: str
  renew_before:
    description:
      - With O(rotate=due), rekey when the newest API key expires within this duration.
      - A duration such as V(90d), V(12h), V(30m), V(2w), or a number of seconds.
    type: str
notes:
  - New keys never expire; CloudTruth sets no expiry on a key it issues, and O(keep_previous_for)
    sets the previous key's.
  - Servers from 2021 do not report a service account's role; the module then neither compares
    nor changes O(role), and warns.
  - A run that changes nothing reads the service account list (every page) and nothing else.
    A rekey sends one C(POST .../rekey/) and reads the account back; with O(keep_previous_for=0)
    it also reads the caller (C(GET /api/v1/users/current/)) first, to refuse a cut-over that
    would lock the caller out.
  - When a rekey gets no clear answer (a timeout, a dropped connection, an error 5xx), the module
    reads the account before trying again, and rekeys once more only when no new key appeared.
seealso:
  - module: tokenops.tokens.cloudtruth_service_account_info
  - name: CloudTruth access tokens
    description: CloudTruth's documentation of API tokens and service accounts.
    link: https://docs.cloudtruth.com/org-management/access-control/access-tokens
'''

EXAMPLES = r'''
- name: A service account for CI, rekeyed when its key is 90 days old, the old key kept for an hour
  tokenops.tokens.cloudtruth_service_account:
    name: ci-deployer
    description: Deploy pipeline
    role: contrib
    rotate: due
    max_age: 90d
    keep_previous_for: 1h
  register: ci_account

- name: Hand the new key on (only present when one was issued)
  ansible.builtin.copy:
    content: "{{ ci_account.secret }}"
    dest: /etc/ci/cloudtruth-api-key
    mode: "0600"
  when: ci_account.secret is defined
  no_log: true

- name: Give the account an owner and a higher role
  tokenops.tokens.cloudtruth_service_account:
    name: ci-deployer
    owner: auth0|61949e36c0baff006a6d1aea
    role: admin
  register: ci_deployer    # .secret is there when the account was created in this run

- name: Rekey now; the previous key stops at once
  tokenops.tokens.cloudtruth_service_account:
    name: grafana-reader
    rotate: always
    secret_dest: /etc/grafana/cloudtruth-key

- name: Remove the account and its keys
  tokenops.tokens.cloudtruth_service_account:
    name: old-exporter
    state: absent
'''

RETURN = r'''
token:
  description: The service account's metadata after the run (null when absent). Never a key.
  returned: always
  type: dict
  sample:
    id: auth0|61949e36c0baff006a6d1aea
    name: ci-deployer
    description: Deploy pipeline
    owner: auth0|61949e36c0baff006a6d1aea
    role: viewer
    membership_id: bd764557-6095-44b9-af3d-090345098de4
    email: serviceaccount+xzje6ej3auui@cloudtruth.com
    created_at: '2026-11-22T10:15:30Z'
    modified_at: '2026-11-30T05:26:27Z'
    last_used_at: '2026-11-29T05:24:14Z'
    key_created_at: '2026-11-30T05:26:27Z'
    expires_at: '2027-02-28T00:00:00Z'
    live_keys: 1
    api_keys:
      - prefix: VXcPUiRn
        created_at: '2026-11-30T05:26:27Z'
        expires_at: '2026-11-30T06:26:29Z'
        revoked: false
        expired: false
  contains:
    id:
      description: The service account id (also its user id).
      type: str
      sample: auth0|61949e36c0baff006a6d1aea
    name:
      description: The name.
      type: str
      sample: ci-deployer
    description:
      description: The description (empty when none).
      type: str
      sample: "Deploy pipeline"
    owner:
      description: The owner's user id, or null.
      type: str
      sample: "auth0|61949e36c0baff006a6d1aea"
    role:
      description: The role in the organization, lower case (V(owner), V(admin), V(contrib), V(viewer)).
      type: str
      sample: viewer
    membership_id:
      description: Id of the organization membership that holds the role.
      type: str
      sample: "bd764557-6095-44b9-af3d-090345098de4"
    email:
      description: The address CloudTruth generated for the account.
      type: str
      sample: "serviceaccount+xzje6ej3auui@cloudtruth.com"
    created_at:
      description: When the account was created, ISO 8601.
      type: str
      sample: "2026-11-22T10:15:30Z"
    modified_at:
      description: When the account was last changed, ISO 8601.
      type: str
      sample: "2026-11-30T05:26:27Z"
    last_used_at:
      description: When a key of the account was last used, ISO 8601, or null for never.
      type: str
      sample: "2026-11-29T05:24:14Z"
    key_created_at:
      description:
        - When the newest API key was issued, ISO 8601; the age O(rotate=due) measures.
        - The account's creation time on servers that do not list keys.
      type: str
      sample: "2026-11-30T05:26:27Z"
    expires_at:
      description: When the newest API key expires, ISO 8601, or null for never.
      type: str
      sample: "2027-02-28T00:00:00Z"
    live_keys:
      description:
        - How many API keys work now (two during a O(keep_previous_for) window).
        - Null on servers that do not list keys.
      type: int
      sample: 1
    api_keys:
      description: The account's API keys, oldest first, without their values.
      type: list
      elements: dict
      sample:
        - prefix: VXcPUiRn
          created_at: '2026-11-30T05:26:27Z'
          expires_at: '2026-11-30T06:26:29Z'
          revoked: false
          expired: false
      contains:
        prefix:
          description: The visible start of the key, which tells keys apart. Not the key.
          type: str
          sample: "VXcPUiRn"
        created_at:
          description: When the key was issued, ISO 8601.
          type: str
          sample: "2026-11-30T05:26:27Z"
        expires_at:
          description: When the key stops working, ISO 8601, or null for never.
          type: str
          sample: "2026-11-30T06:26:29Z"
        revoked:
          description: Whether the key was revoked.
          type: bool
          sample: false
        expired:
          description: Whether the key has expired.
          type: bool
          sample: false
secret:
  description:
    - The new API key. Only in the run that created the account or rekeyed it (never in check
      mode); CloudTruth never shows a key again.
    - Hidden from every output; C(register) the result to hand it on.
  returned: when a key was issued
  type: str
  sample: "4w1rlXkD.0123456789abcdefghijklmnopqrstuv"
rotated:
  description: Whether a new key was issued in this run (or would be, in check mode).
  returned: always
  type: bool
  sample: false
rotation_reason:
  description: Why the account was or was not rekeyed under O(rotate).
  returned: when the account existed and O(state=present)
  type: str
  sample: issued 120 days ago, at least max_age (90d)
previous_id:
  description: The id of the account whose key a rekey replaced; the same account, since a rekey
    replaces the key in place.
  returned: when rotated
  type: str
  sample: "auth0|7edecff6b47008f034e7be85"
'''

from ansible_collections.tokenops.tokens.plugins.module_utils._cloudtruth import (
    MUTUALLY_EXCLUSIVE, CloudTruthServiceAccountAdapter, argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._token_state import (
    run_token_module,
)


def main():
    run_token_module('cloudtruth', CloudTruthServiceAccountAdapter, argument_spec(), MUTUALLY_EXCLUSIVE)


if __name__ == '__main__':
    main()

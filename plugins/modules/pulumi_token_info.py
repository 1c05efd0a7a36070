#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: pulumi_token_info
short_description: List Pulumi Cloud access tokens with their age, expiry, last use and due status
version_added: 1.0.0
description:
  - Lists the personal tokens of the calling user, or the tokens of an organization or a team,
    expired ones included, with their age and whether they are due for rotation.
  - Never changes anything and never returns a secret (Pulumi never shows one after creation).
  - Agent refresh tokens appear in the personal list with RV(tokens[].type=refresh); they are
    shown as such and never rotated or deleted by M(tokenops.tokens.pulumi_token).
  - With O(organization), the organization's access token expiry policy is read too
    (RV(token_policy)); a token that never expires, or whose lifetime is beyond the cap, is
    RV(tokens[].due), with the reason, whatever O(max_age) and O(renew_before) say.
author:
  - tokenops engineering (@tokenops)
extends_documentation_fragment:
  - tokenops.tokens.connection
  - tokenops.tokens.connection.PULUMI
  - tokenops.tokens.info
  - tokenops.tokens.attributes.INFO_MODULE
  - tokenops.tokens.attributes.actiongroup_pulumi
options:
  kind:
    description:
      - Which tokens to list. See M(tokenops.tokens.pulumi_token).
    type: str
    choices: [personal, organization, team]
    default: personal
  organization:
    description:
      - The organization's name. Required for O(kind=organization) and O(kind=team).
      - For personal tokens, the organization whose expiry policy they are judged by (a personal
        token is refused by each organization whose cap it exceeds).
    type: str
  team:
    description:
      - The team's name. Required for O(kind=team).
    type: str
  description:
    description:
      - List only tokens with exactly this description.
    type: str
  name:
    description:
      - List only the organization or team token of this name, in all its rotated generations
        (C(name), C(name--2), ...).
    type: str
seealso:
  - module: tokenops.tokens.pulumi_token
'''

EXAMPLES = r'''
- name: Personal tokens due under a 90-day policy
  tokenops.tokens.pulumi_token_info:
    max_age: 90d
    renew_before: 14d
  register: pulumi_tokens

- name: Show the ones that are due
  ansible.builtin.debug:
    msg: "{{ pulumi_tokens.tokens | selectattr('due') | map(attribute='description') | list }}"

- name: Organization tokens that expire within 30 days
  tokenops.tokens.pulumi_token_info:
    kind: organization
    organization: acme
    expiring_within: 30d
'''

RETURN = r'''
tokens:
  description: The tokens, with metadata, age and due status. Never a secret.
  returned: always
  type: list
  elements: dict
  sample:
    - id: 704e3048-055e-4c36-ad73-9b9b7552824c
      name: platform-deployer
      description: nightly-build
      type: organization
      admin: false
      created_by: alice
      role:
        id: 3b0d0c6e-1f5e-4d8a-9f3e-2a1b0c9d8e7f
        name: stack-deployer
        defaultIdentifier: member
      role_id: 3b0d0c6e-1f5e-4d8a-9f3e-2a1b0c9d8e7f
      created_at: '2026-05-14T05:25:29Z'
      expires_at: '2026-11-10T05:25:29Z'
      last_used_at: '2026-11-29T05:25:29Z'
      age_seconds: 17280049
      expired: false
      due: true
      due_reason: issued 120 days ago, at least max_age (30d)
  contains:
    id:
      description: The token id.
      type: str
      sample: "704e3048-055e-4c36-ad73-9b9b7552824c"
    name:
      description: Name of an organization or team token, with its generation suffix.
      type: str
      sample: "platform-deployer"
    description:
      description: The description.
      type: str
      sample: "nightly-build"
    type:
      description: V(personal), V(refresh), V(organization) or V(team).
      type: str
      sample: "organization"
    admin:
      description: Whether an organization token has admin rights.
      type: bool
      sample: false
    created_by:
      description: Login of the creator, when Pulumi says.
      type: str
      sample: "alice"
    role:
      description: The custom role of an organization token, as Pulumi gives it (C(id), C(name), C(defaultIdentifier)), or null.
      type: dict
      sample: {"id": "3b0d0c6e-1f5e-4d8a-9f3e-2a1b0c9d8e7f", "name": "stack-deployer", "defaultIdentifier": "member"}
    role_id:
      description: The id of the token's role (C(role.id); O(tokenops.tokens.pulumi_token#module:role_id)), or null for none.
      type: str
      sample: "3b0d0c6e-1f5e-4d8a-9f3e-2a1b0c9d8e7f"
      version_added: 1.1.0
    created_at:
      description: When the token was issued, ISO 8601.
      type: str
      sample: "2026-05-14T05:25:29Z"
    expires_at:
      description: Expiry, ISO 8601, or null for never.
      type: str
      sample: "2026-11-10T05:25:29Z"
    last_used_at:
      description: Last use, ISO 8601, or null for never.
      type: str
      sample: "2026-11-29T05:25:29Z"
    age_seconds:
      description: Seconds since the token was issued.
      type: int
      sample: 17280049
    expired:
      description: Whether the token has expired.
      type: bool
      sample: false
    due:
      description: Whether it is due for rotation under O(max_age) and O(renew_before), or beyond the expiry policy of O(organization).
      type: bool
      sample: true
    due_reason:
      description: Why it is or is not due.
      type: str
      sample: "issued 120 days ago, at least max_age (30d)"
token_policy:
  description:
    - The platform's token lifetime policy for the token's scope, read in this run, and from where.
    - A token beyond it is RV(tokens[].due), whatever O(max_age) and O(renew_before) say.
  returned: when O(organization) is set
  type: dict
  version_added: 1.1.0
  sample:
    source: the access token expiry policy of organization acme (maxAccessTokenExpiryDays)
    max_lifetime_seconds: 7776000
    max_lifetime: 90d
    readable: true
    unreadable_reason: null
  contains:
    source:
      description: The policy, named as the platform names it.
      type: str
      sample: "the access token expiry policy of organization acme (maxAccessTokenExpiryDays)"
    max_lifetime_seconds:
      description: The longest lifetime, creation to expiry, the policy allows; null when it sets none or could not be read.
      type: int
      sample: 7776000
    max_lifetime:
      description: The same as text such as V(90d); null when there is none.
      type: str
      sample: "90d"
    readable:
      description: Whether the policy could be read. When false, nothing is known of it, and it is never taken for "no cap".
      type: bool
      sample: true
    unreadable_reason:
      description: Why the policy could not be read (the platform's answer), or null.
      type: str
      sample: "GET /api/orgs/acme/metadata failed with HTTP 403: Forbidden: you are not allowed to perform this operation"
'''

from ansible_collections.tokenops.tokens.plugins.module_utils._info import (
    Listing, info_argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._module import (
    build_module, make_client, run,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API
from ansible_collections.tokenops.tokens.plugins.module_utils._pulumi import (
    expiry_cap, generation_of, info_argument_spec as pulumi_info_argument_spec,
    scope_from_params, token_metadata,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import utcnow


def main():
    argument_spec = info_argument_spec()
    argument_spec.update(pulumi_info_argument_spec())
    module = build_module('pulumi', argument_spec)

    def work():
        params = module.params
        listing = Listing(params, utcnow(), module.warn)
        scope = scope_from_params(params)
        client = make_client(API['pulumi'], params)
        if params.get('organization'):
            listing.cap = expiry_cap(client, params['organization'])
        tokens = []
        for raw in scope.list(client):
            if params['description'] is not None and raw.get('description') != params['description']:
                continue
            if params['name'] and generation_of(raw.get('name'), params['name']) is None:
                continue
            annotated = listing.annotate(token_metadata(raw))
            if listing.keep(annotated):
                tokens.append(annotated)
        return listing.result(tokens)

    run(module, work)


if __name__ == '__main__':
    main()

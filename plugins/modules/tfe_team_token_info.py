#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: tfe_team_token_info
short_description: List HCP Terraform / Terraform Enterprise team tokens with age, expiry and due status
version_added: 1.0.0
description:
  - Lists an organization's team tokens, legacy and described, expired ones included, with their metadata,
    age, and whether each is due under O(max_age) and O(renew_before).
  - Never changes anything and never returns a secret (TFE shows one only when a token is created).
  - With O(team), the listing is narrowed by the team's name (C(q)) and then matched by team id; a team given by
    name is matched exactly (case-sensitive) over every page of the organization's teams.
  - The organization's team token TTL policy is read too (RV(token_policy)); a token that never expires, or whose
    lifetime is beyond the cap (TFE refuses it with 401), is RV(tokens[].due), with the reason, whatever
    O(max_age) and O(renew_before) say.
author:
  - tokenops engineering (@tokenops)
extends_documentation_fragment:
  - tokenops.tokens.connection
  - tokenops.tokens.connection.TFE
  - tokenops.tokens.info
  - tokenops.tokens.attributes.INFO_MODULE
  - tokenops.tokens.attributes.actiongroup_tfe
options:
  organization:
    description:
      - The organization's name. When not set, E(TFE_ORGANIZATION) is used; one of the two is required, and
        the error without either names both.
    type: str
  team:
    description:
      - List only the tokens of this team, by name (exact, case-sensitive) or by id (C(team-) and 16 letters or
        digits).
    type: str
  description:
    description:
      - List only the described tokens with exactly this description.
    type: str
seealso:
  - module: tokenops.tokens.tfe_team_token
'''

EXAMPLES = r'''
- name: Team tokens of one team that are due under a 90-day policy
  tokenops.tokens.tfe_team_token_info:
    organization: acme
    team: deployers
    max_age: 90d
  register: tfe_tokens

- name: Show the ones that are due
  ansible.builtin.debug:
    msg: "{{ tfe_tokens.tokens | selectattr('due') | map(attribute='id') | list }}"

- name: Tokens that expire within two weeks
  tokenops.tokens.tfe_team_token_info:
    organization: acme
    expiring_within: 2w

- name: Expired tokens of the organization
  tokenops.tokens.tfe_team_token_info:
    organization: acme
    expired: true
'''

RETURN = r'''
tokens:
  description: The team tokens, with metadata, age and due status. Never a secret.
  returned: always
  type: list
  elements: dict
  sample:
    - id: at-dcQjmwDsACzJPYtu
      team_id: team-xKbd9i0kufJ8dSw7
      description: expiring-soon
      legacy: false
      created_at: '2024-12-30T05:25:29Z'
      expires_at: '2026-12-30T05:25:29Z'
      last_used_at: '2026-11-29T05:24:14Z'
      created_by:
        id: user-LV5ErY12nJDhVZjI
        type: users
      age_seconds: 60480017
      expired: false
      due: true
      due_reason: issued 700 days ago, at least max_age (30d)
  contains:
    id:
      description: The token id.
      type: str
      sample: "at-dcQjmwDsACzJPYtu"
    team_id:
      description: The owning team's id.
      type: str
      sample: "team-xKbd9i0kufJ8dSw7"
    description:
      description: The description, or null for a legacy token.
      type: str
      sample: "expiring-soon"
    legacy:
      description: Whether this is a legacy (descriptionless) token.
      type: bool
      sample: false
    created_at:
      description: When the token was issued, ISO 8601.
      type: str
      sample: "2024-12-30T05:25:29Z"
    expires_at:
      description: Expiry, ISO 8601.
      type: str
      sample: "2026-12-30T05:25:29Z"
    last_used_at:
      description: Last use, ISO 8601, or null.
      type: str
      sample: "2026-11-29T05:24:14Z"
    created_by:
      description: Who created the token.
      type: dict
      sample:
        id: user-LV5ErY12nJDhVZjI
        type: users
      contains:
        id:
          description: The creator's id.
          type: str
          sample: "user-LV5ErY12nJDhVZjI"
        type:
          description: V(users), V(teams) or V(organizations).
          type: str
          sample: "users"
    age_seconds:
      description: Seconds since the token was issued.
      type: int
      sample: 60480017
    expired:
      description: Whether the token has expired.
      type: bool
      sample: false
    due:
      description: Whether it is due under O(max_age) and O(renew_before), or beyond the organization's token TTL policy.
      type: bool
      sample: true
    due_reason:
      description: Why it is or is not due.
      type: str
      sample: "issued 700 days ago, at least max_age (30d)"
token_policy:
  description:
    - The platform's token lifetime policy for the token's scope, read in this run, and from where.
    - A token beyond it is RV(tokens[].due), whatever O(max_age) and O(renew_before) say.
  returned: always
  type: dict
  version_added: 1.1.0
  sample:
    source: the team token TTL policy of organization acme (token-ttl-policies)
    max_lifetime_seconds: 7776000
    max_lifetime: 90d
    readable: true
    unreadable_reason: null
  contains:
    source:
      description: The policy, named as the platform names it.
      type: str
      sample: "the team token TTL policy of organization acme (token-ttl-policies)"
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
      sample: "GET /api/v2/organizations/acme/token-ttl-policies failed with HTTP 404: not found"
'''

from ansible_collections.tokenops.tokens.plugins.module_utils._info import (
    Listing, info_argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._module import (
    build_module, make_client, run,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API
from ansible_collections.tokenops.tokens.plugins.module_utils._tfe import (
    annotate_listing, info_options,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import utcnow


def main():
    argument_spec = info_argument_spec()
    argument_spec.update(info_options())
    module = build_module('tfe', argument_spec)

    def work():
        listing = Listing(module.params, utcnow(), module.warn)
        client = make_client(API['tfe'], module.params)
        return listing.result(annotate_listing(client, module.params, listing))

    run(module, work)


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: tfe_team_token
short_description: Manage and rotate HCP Terraform / Terraform Enterprise team tokens
version_added: 1.0.0
description:
  - Creates, rotates and deletes team API tokens on HCP Terraform or Terraform Enterprise.
  - A B(described) token (O(description) given) is one of many tokens a team can hold, told apart by a
    description that is unique within the team. A B(legacy) token (no O(description)) is the team's single
    descriptionless token. O(token_id) acts on one token of either kind directly.
  - The secret is returned only in the run that issued it, hidden from every output.
  - A team given by name is looked up with C(filter[names]) and then matched exactly (case-sensitive) over
    every page, since some TFE releases ignore the filter. A described token is found by listing the
    organization's team tokens narrowed by the team's name (C(q)), every page, expired tokens included, and
    matching team and description exactly. A legacy token is read through its team's C(authentication-token)
    path.
  - "Rotating a legacy token regenerates it: the previous secret stops working the moment the new one is
    issued."
  - "Rotating a described token overlaps: a team cannot hold two tokens with one description, so the new token
    is created as the next B(generation) of the description (C(ci), then C(ci--2), C(ci--3), and so on) while
    the previous one still works, and the previous one is deleted only after that (by the rotation role, only
    after delivery). Lookups by O(description) match every generation of it; a description of your own must not
    end in C(--) and digits. Should the create be refused (for example an expiry above the organization's
    token lifetime cap, HTTP 422), nothing was deleted and the previous token keeps working. The previous
    token's id is returned as RV(previous_id). A described token given by O(token_id) gets its successor the
    same way, and the previous one is deleted at once."
  - The new token's expiry is returned in RV(token.expires_at).
  - An existing token's expiry cannot be changed on this platform. When O(expires_in) or O(expires_at) ask for
    a different expiry than an existing token has, the module warns and leaves the token alone, unless it
    rotates the token in this run (the new token then gets the requested expiry).
  - "TFE answers 404 both for a team, token or organization that does not exist and for one the credential may
    not see; errors say both. A 422 shows the platform's own validation text."
  - A successor is created for its predecessor's team and read back to prove it (a team token can do what its
    team can, so the team is what it must keep).
  - "An organization may set a token TTL policy (C(GET /organizations/{org}/token-ttl-policies), the C(team)
    entry; none is listed while it sets none). A team token whose lifetime, creation to expiry, is longer stops
    working (401). The module reads the policy of O(organization) once per run where it may issue a secret: such
    a token is due under O(rotate=due); an expiry asked for beyond the cap fails before any write; without
    O(expires_in) or O(expires_at), the new token is asked to expire at the cap instead of the platform's
    two-year default (with a warning). A policy that cannot be read is said in RV(token_policy) and a warning,
    never taken for no cap."
author:
  - tokenops engineering (@tokenops)
extends_documentation_fragment:
  - tokenops.tokens.connection
  - tokenops.tokens.connection.TFE
  - tokenops.tokens.rotation
  - tokenops.tokens.rotation.EXPIRY
  - tokenops.tokens.attributes
  - tokenops.tokens.attributes.actiongroup_tfe
options:
  organization:
    description:
      - The organization's name. When not set, E(TFE_ORGANIZATION) is used.
      - Required to find a team by name and to find a described token.
    type: str
  team:
    description:
      - The team, by name (matched exactly, case-sensitive) or by id (C(team-) and 16 letters or digits).
      - Required unless O(token_id) is given. Mutually exclusive with O(token_id).
    type: str
  description:
    description:
      - Identifies a described token within its team. Omit it to manage the team's legacy token.
      - An empty string is a valid description (a described token), unlike an omitted one.
      - Mutually exclusive with O(token_id).
    type: str
  token_id:
    description:
      - Act on this C(at-...) token directly, legacy or described. It must exist for O(state=present), since a
        token cannot be created from an id.
    type: str
  allow_self_rotation:
    description:
      - Allow rotating or deleting a token of the team that O(api_token) acts for (C(account/details) names
        the team of a team token, not which of its tokens). Without it, that fails before any write.
      - When the rotated token was O(api_token), the module says so in a warning; later tasks must use the
        returned RV(secret). The rotation role carries on with the new secret for the group's later tokens.
    type: bool
    default: false
  expires_in:
    description:
      - Expiry of a newly issued token, relative to now, as a duration such as V(90d) or V(12h).
      - Mutually exclusive with O(expires_at).
      - When neither O(expires_in) nor O(expires_at) is given, the platform chooses the expiry, two years after
        creation on current releases, and RV(token.expires_at) returns what it chose; under the organization's
        token TTL policy, the module asks for the cap instead.
      - An existing token matches O(expires_in) when its lifetime (expiry minus creation) is within five minutes
        of it.
    type: str
  expires_at:
    description:
      - Expiry of a newly issued token, as an ISO 8601 timestamp such as V(2027-01-31T00:00:00Z).
        A timestamp without a zone is taken as UTC. It must be in the future.
      - Mutually exclusive with O(expires_in).
      - When neither is given, the platform chooses the expiry (two years after creation on current releases).
    type: str
notes:
  - The age O(rotate=due) measures is the token's creation time; every rotation creates a new token.
  - "Assumed, as HashiCorp does not document it: a duplicate description, a past expiry or an expiry above the
    organization's maximum token lifetime are refused with HTTP 422, whose text the module shows; a create
    answers 201; token ids are C(at-) and letters or digits; a regenerated legacy token may get a new id, so the
    module reads the legacy token through its team, never by a remembered id."
  - "Assumed: C(q) on the team token list may match more than the one team, so it only narrows the pages; the
    module still matches the team id of every token listed."
seealso:
  - module: tokenops.tokens.tfe_team_token_info
  - name: Team tokens API
    description: HashiCorp's reference of the team token endpoints.
    link: https://developer.hashicorp.com/terraform/cloud-docs/api-docs/team-tokens
'''

EXAMPLES = r'''
- name: A described token for the deploy pipeline, rotated at 30 days
  tokenops.tokens.tfe_team_token:
    organization: acme
    team: deployers
    description: ci-deploy
    expires_in: 90d
    rotate: due
    max_age: 30d
  register: deploy_token

- name: Hand the new secret on (only present when one was issued)
  ansible.builtin.copy:
    content: "{{ deploy_token.secret }}"
    dest: /etc/ci/tfe-token
    mode: "0600"
  when: deploy_token.secret is defined
  no_log: true

- name: Regenerate the team's legacy token
  tokenops.tokens.tfe_team_token:
    organization: acme
    team: owners
    rotate: always
  register: owners_token

- name: Delete a token by id
  tokenops.tokens.tfe_team_token:
    token_id: at-Q3x9LmTz8KpR2vWd
    state: absent
'''

RETURN = r'''
token:
  description: The token's metadata after the run (null when absent). Never the secret.
  returned: always
  type: dict
  sample:
    id: at-Q3x9LmTz8KpR2vWd
    team_id: team-Hn4kV2pQw8ZrT6sY
    description: ci-deploy
    legacy: false
    created_at: '2026-11-22T10:15:30Z'
    expires_at: '2028-11-22T10:15:30Z'
    last_used_at: '2026-11-29T05:24:14Z'
    created_by:
      id: user-LV5ErY12nJDhVZjI
      type: users
  contains:
    id:
      description: The token id.
      type: str
      sample: at-Q3x9LmTz8KpR2vWd
    team_id:
      description: The owning team's id.
      type: str
      sample: team-Hn4kV2pQw8ZrT6sY
    description:
      description: The description, or null for a legacy token.
      type: str
      sample: "ci-deploy"
    legacy:
      description: Whether this is the team's legacy (descriptionless) token.
      type: bool
      sample: false
    created_at:
      description: When the token was issued, ISO 8601.
      type: str
      sample: "2026-11-22T10:15:30Z"
    expires_at:
      description: When it expires, ISO 8601 (the platform's choice when none was asked for).
      type: str
      sample: "2028-11-22T10:15:30Z"
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
rotated:
  description: Whether a new secret was issued in this run (or would be, in check mode); true on creation too.
  returned: always
  type: bool
  sample: false
secret:
  description: The new secret, only in the run that issued it. Hidden from all output; C(register) the result to pass it on.
  returned: when the platform issued a secret in this run
  type: str
  sample: "Xo9bqY2ZMvW3sQ.atlasv1.0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH"
rotation_reason:
  description: Why the secret was or was not rotated.
  returned: when the token existed before the run
  type: str
  sample: "rotate is always"
previous_id:
  description: Id of the token the rotation replaced (regenerated or deleted).
  returned: when a token that existed was rotated
  type: str
  sample: at-Hn4kV2pQw8ZrT6sY
token_policy:
  description:
    - The platform's token lifetime policy for the token's scope, read in this run, and from where.
    - A token beyond it is due under O(rotate=due), and every expiry asked for a new token is within it.
  returned: when the organization is known (O(organization), not only O(token_id)) and the run creates a token or O(rotate) is not V(never)
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

from ansible_collections.tokenops.tokens.plugins.module_utils._tfe import (
    MUTUALLY_EXCLUSIVE, TfeTeamTokenAdapter, argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._token_state import (
    run_token_module,
)


def main():
    run_token_module('tfe', TfeTeamTokenAdapter, argument_spec(), MUTUALLY_EXCLUSIVE)


if __name__ == '__main__':
    main()

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
version_added: 0.1.0
description:
  - Creates, rotates and deletes team API tokens on HCP Terraform or Terraform Enterprise.
  - A B(described) token (O(description) given) is one of many tokens a team can hold, told apart by a
    description that is unique within the team. A B(legacy) token (no O(description)) is the team's single
    descriptionless token.
  - The secret is returned only in the run that issued it, hidden from every output.
  - "Rotation of a legacy token regenerates it: the previous secret stops working the moment the new one is
    issued. A described token's description must stay unique in its team, so it cannot have two live tokens:
    rotation deletes the previous token (its secret stops working then) and creates the new one right after,
    under the same description. Both return the previous token's id as RV(previous_id)."
  - An existing token's expiry cannot be changed on this platform. When O(expires_in) or O(expires_at) differ
    from an existing token's expiry, the module warns and leaves the token alone, unless it rotates it.
  - "TFE answers 404 both for a team, token or organization that does not exist and for one the credential may
    not see; errors say both."
author:
  - tokenops engineering (@tokenops)
extends_documentation_fragment:
  - tokenops.tokens.connection
  - tokenops.tokens.connection.TFE
  - tokenops.tokens.rotation
  - tokenops.tokens.attributes
attributes:
  action_group:
    description: Use C(group/tokenops.tokens.tfe) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - tokenops.tokens.tfe
options:
  organization:
    description:
      - The organization's name. When not set, E(TFE_ORGANIZATION) is used.
      - Required to find a team by name and to find a described token.
    type: str
  team:
    description:
      - The team, by name (matched exactly, case-sensitive) or by C(team-...) id.
      - Required unless O(token_id) is given.
    type: str
  description:
    description:
      - Identifies a described token within its team. Omit it to manage the team's legacy token.
      - Mutually exclusive with O(token_id).
    type: str
  token_id:
    description:
      - Act on this C(at-...) token directly, legacy or described.
    type: str
  expires_in:
    description:
      - Expiry of a newly issued token, relative to now, as a duration such as V(90d) or V(12h).
        Mutually exclusive with O(expires_at).
      - When neither is given the platform chooses the expiry (two years after creation on current
        releases); RV(token.expires_at) returns what it chose.
    type: str
  expires_at:
    description:
      - Expiry of a newly issued token, as an ISO 8601 timestamp such as V(2027-01-31T00:00:00Z). A timestamp
        without a zone is taken as UTC. Mutually exclusive with O(expires_in). Must be in the future.
    type: str
notes:
  - The age O(rotate=due) measures is the token's creation time; every rotation creates a new token.
  - "Assumed, not documented by HashiCorp: a duplicate description, a past expiry or an expiry above the
    organization's maximum are refused with HTTP 422; the module shows the platform's own validation text."
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

- name: Regenerate the team's legacy token
  tokenops.tokens.tfe_team_token:
    organization: acme
    team: owners
    rotate: always

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
    legacy:
      description: Whether this is the team's legacy (descriptionless) token.
      type: bool
    created_at:
      description: When the token was issued, ISO 8601.
      type: str
    expires_at:
      description: When it expires, ISO 8601 (the platform's choice when none was asked for).
      type: str
    last_used_at:
      description: Last use, ISO 8601, or null.
      type: str
    created_by:
      description: Who created it, as C({id, type}).
      type: dict
rotated:
  description: Whether a new secret was issued in this run (or would be, in check mode); true on creation too.
  returned: always
  type: bool
secret:
  description: The new secret, only in the run that issued it. Hidden from all output; C(register) the result to pass it on.
  returned: when the platform issued a secret in this run
  type: str
rotation_reason:
  description: Why the secret was or was not rotated.
  returned: when the token existed before the run
  type: str
previous_id:
  description: Id of the token the rotation replaced.
  returned: when rotated
  type: str
'''

from ansible.module_utils.basic import env_fallback

from ansible_collections.tokenops.tokens.plugins.module_utils._module import (
    build_module, make_client, management_argument_spec, run,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API
from ansible_collections.tokenops.tokens.plugins.module_utils._tfe import TfeTeamTokenAdapter
from ansible_collections.tokenops.tokens.plugins.module_utils._token_state import (
    TokenStateMachine,
)


def main():
    argument_spec = management_argument_spec()
    argument_spec.update(
        organization=dict(type='str', fallback=(env_fallback, ['TFE_ORGANIZATION'])),
        team=dict(type='str'),
        description=dict(type='str'),
        token_id=dict(type='str'),
    )
    module = build_module('tfe', argument_spec, mutually_exclusive=[['description', 'token_id']])

    def work():
        client = make_client(API['tfe'], module.params)
        return TokenStateMachine(module, TfeTeamTokenAdapter(client, module.params)).run()

    run(module, work)


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: pulumi_token
short_description: Manage and rotate Pulumi Cloud personal, organization and team access tokens
version_added: 1.0.0
description:
  - Creates, rotates and deletes Pulumi Cloud access tokens of the calling user (personal tokens),
    of an organization, or of a team.
  - The secret is returned only in the run that issued it, hidden from every output.
  - Pulumi has no endpoint to read one token or to change a token, so tokens are found by listing
    (expired tokens included), and a token's expiry cannot change after it is issued.
  - "Rotation overlaps: the new token is created first, and the previous one deleted only after
    that, so the previous secret keeps working until its replacement exists. The previous token's
    id is returned as RV(previous_id)."
  - "Organization and team token names stay reserved forever, even after the token is deleted.
    The module therefore names the generations of a token called C(ci) C(ci), C(ci--2), C(ci--3), and so on:
    rotation creates the next generation and deletes the previous ones, and lookups by O(name) match
    every generation. A name of your own must not end in C(--) and digits. When Pulumi answers that
    a name is taken (409, which creates nothing), the module moves on to a later generation (one by
    one, then in growing steps after a long history); so a token created again after
    O(state=absent) takes a free generation instead of failing."
  - Agent refresh tokens, which Pulumi lists among personal tokens, are never matched, rotated or
    deleted.
  - "A rotated token keeps the power of its predecessor: its C(admin) flag, its role and its
    description are copied to the successor, which is read back from the listing and compared.
    When they differ, the new token is deleted, the previous one is kept, and the task fails
    saying what differed. Pulumi lets no organization token (admin ones included) create or delete
    organization tokens, and no team token create team tokens: such a rotation fails before any
    write, saying so."
  - "An organization may cap token lifetime (its access token expiry policy,
    C(maxAccessTokenExpiryDays) of C(GET /api/orgs/{org}/metadata)): a token that never expires,
    or whose lifetime from creation to expiry is longer, gets 403 on every request against the
    organization. The module reads the cap of O(organization) once per run where it may issue a
    secret: such a token is due under O(rotate=due), an expiry asked for beyond the cap fails
    before any write, and a lifetime the module chooses (copied from the predecessor, or none) is
    cut to the cap with a warning. A cap that cannot be read is said in RV(token_policy) and in a
    warning, never taken for no cap."
author:
  - tokenops engineering (@tokenops)
extends_documentation_fragment:
  - tokenops.tokens.connection
  - tokenops.tokens.connection.PULUMI
  - tokenops.tokens.rotation
  - tokenops.tokens.rotation.EXPIRY
  - tokenops.tokens.attributes
  - tokenops.tokens.attributes.actiongroup_pulumi
options:
  kind:
    description:
      - V(personal) tokens belong to the user O(api_token) authenticates as.
      - V(organization) and V(team) tokens belong to O(organization) (and O(team)).
    type: str
    choices: [personal, organization, team]
    default: personal
  organization:
    description:
      - The organization's name. Required for O(kind=organization) and O(kind=team).
      - For a personal token, the organization whose access token expiry policy it must meet (a
        personal token is refused by each organization whose cap it exceeds); without it, no
        policy is read for a personal token.
    type: str
  team:
    description:
      - The team's name. Required for O(kind=team).
    type: str
  description:
    description:
      - Free text stored with the token.
      - Identifies a personal token, unless O(token_id) is given. Pulumi does not keep descriptions
        unique; two live personal tokens with this description are an error that lists both ids.
      - A rotated organization or team token keeps its predecessor's description unless this is
        given.
    type: str
  name:
    description:
      - Identifies an organization or team token (unless O(token_id) is given). Letters, digits, C(-)
        and C(_), at most 36 characters, so that generation suffixes fit Pulumi's 40.
    type: str
  admin:
    description:
      - Whether a new organization token has admin rights (Pulumi's legacy admin permission
        level, the built-in Admin role today). Only for O(kind=organization). A new token without
        it is not an admin token.
      - Fixed at creation. A rotated token keeps its predecessor's; a different value here only
        warns (delete the token and create it again to change it).
    type: bool
  role_id:
    description:
      - The id of the role a new organization token acts with, Pulumi's C(roleID) (as
        pulumi-cloud-sdk's C(CreateOrgAccessTokenRequest) names it; a role's id is shown by
        M(tokenops.tokens.pulumi_token_info) in RV(token.role), or by C(pulumi org role)). Without
        it, Pulumi gives the token the organization's default member role.
      - Only for O(kind=organization); a team token acts with the roles of its team.
      - Fixed at creation. A rotated token keeps its predecessor's role; a different value here
        only warns.
    type: str
    version_added: 1.1.0
  token_id:
    description:
      - Act on this token id directly instead of finding the token by O(description) or O(name).
    type: str
  allow_self_rotation:
    description:
      - Allow rotating or deleting the organization or team token that O(api_token) is (C(tokenInfo) of
        C(/api/user) names it). Without it, that fails before any write.
      - A personal token cannot be told apart from the user's others, so its rotation goes ahead; when the
        previous token was O(api_token) (it no longer works after the rotation), a warning says so and later
        tasks must use the returned RV(secret).
    type: bool
    default: false
  expires_in:
    description:
      - Expiry of a newly issued token, relative to now, as a duration such as V(90d) or V(12h).
        Mutually exclusive with O(expires_at).
      - Pulumi accepts expiries up to two years ahead; a longer one fails before any request.
      - Without O(expires_in) or O(expires_at), a new token never expires, and a rotated token gets
        the lifetime its predecessor had; under the organization's expiry cap, either is cut to the
        cap (with a warning). An expiry beyond the cap fails before any write.
  expires_at:
    description:
      - Expiry of a newly issued token, as an ISO 8601 timestamp such as V(2027-01-31T00:00:00Z).
        A timestamp without a zone is taken as UTC. Mutually exclusive with O(expires_in).
      - Pulumi accepts expiries up to two years ahead.
notes:
  - The age O(rotate=due) measures is the token's creation time, which is also when its secret was
    issued, since Pulumi cannot re-issue a secret for an existing token.
seealso:
  - module: tokenops.tokens.pulumi_token_info
  - name: Pulumi Cloud access tokens
    description: Pulumi's documentation of access token kinds.
    link: https://www.pulumi.com/docs/pulumi-cloud/access-management/access-tokens/
'''

EXAMPLES = r'''
- name: A personal token for CI that lives 90 days, rotated when 60 days old
  tokenops.tokens.pulumi_token:
    description: ci-deploy
    expires_in: 90d
    rotate: due
    max_age: 60d
  register: ci_token

- name: Hand the new secret on (only present when one was issued)
  ansible.builtin.copy:
    content: "{{ ci_token.secret }}"
    dest: /etc/ci/pulumi-token
    mode: "0600"
  when: ci_token.secret is defined
  no_log: true

- name: An admin organization token
  tokenops.tokens.pulumi_token:
    kind: organization
    organization: acme
    name: platform-admin
    admin: true
  register: platform_admin    # .secret is there when the token was created in this run

- name: Rotate a team token now
  tokenops.tokens.pulumi_token:
    kind: team
    organization: acme
    team: payments
    name: payments-deploy
    rotate: always
  register: payments_deploy

- name: Revoke a token by id
  tokenops.tokens.pulumi_token:
    token_id: 6f1c2d3e-0a4b-4c5d-9e8f-7a6b5c4d3e2f
    state: absent
'''

RETURN = r'''
token:
  description: The token's metadata after the run (null when absent). Never the secret.
  returned: always
  type: dict
  sample:
    id: 6f1c2d3e-0a4b-4c5d-9e8f-7a6b5c4d3e2f
    name: ci--2
    description: ci-deploy
    type: organization
    admin: false
    created_by: alice
    role:
      id: 3b0d0c6e-1f5e-4d8a-9f3e-2a1b0c9d8e7f
      name: stack-deployer
      defaultIdentifier: member
    created_at: '2026-11-22T10:15:30Z'
    expires_at: '2026-12-30T05:26:03Z'
    last_used_at: '2026-11-29T05:24:14Z'
  contains:
    id:
      description: The token id.
      type: str
      sample: 6f1c2d3e-0a4b-4c5d-9e8f-7a6b5c4d3e2f
    name:
      description: The name on the platform, with its generation suffix (null for personal tokens).
      type: str
      sample: ci--2
    description:
      description: The description.
      type: str
      sample: "ci-deploy"
    type:
      description: V(personal), V(organization) or V(team).
      type: str
      sample: "organization"
    admin:
      description: Whether an organization token has admin rights.
      type: bool
      sample: false
    created_by:
      description: Login of the user who created the token, when Pulumi says.
      returned: except in check mode's prediction of a new token
      type: str
      sample: "alice"
    role:
      description: The custom role of an organization token, as Pulumi gives it (C(id), C(name), C(defaultIdentifier)), or null.
      returned: except in check mode's prediction of a new token
      type: dict
      sample: {"id": "3b0d0c6e-1f5e-4d8a-9f3e-2a1b0c9d8e7f", "name": "stack-deployer", "defaultIdentifier": "member"}
    role_id:
      description: The id of the token's role (C(role.id)), or null for none.
      returned: except in check mode's prediction of a rotation of a personal token
      type: str
      sample: "3b0d0c6e-1f5e-4d8a-9f3e-2a1b0c9d8e7f"
      version_added: 1.1.0
    created_at:
      description: When the token (and its secret) was issued, ISO 8601.
      type: str
      sample: "2026-11-22T10:15:30Z"
    expires_at:
      description: When it expires, ISO 8601, or null for never.
      type: str
      sample: "2026-12-30T05:26:03Z"
    last_used_at:
      description: When it was last used, ISO 8601, or null for never.
      type: str
      sample: "2026-11-29T05:24:14Z"
secret:
  description: The token value. Only returned when this run issued a new token (created or rotated); Pulumi never shows a token's value again.
  returned: when a secret was issued
  type: str
  sample: "pul-0123456789abcdef0123456789abcdef01234567"
rotated:
  description: Whether a new secret was issued in this run (or would be, in check mode).
  returned: always
  type: bool
  sample: false
rotation_reason:
  description: Why the secret was or was not rotated under O(rotate).
  returned: when the token existed before the run and O(state=present)
  type: str
  sample: "rotate is always"
previous_id:
  description: Id of the token that a rotation replaced (and deleted).
  returned: when rotated
  type: str
  sample: "c84b60b8-7f22-45ca-bece-dcf4f99a19ea"
token_policy:
  description:
    - The platform's token lifetime policy for the token's scope, read in this run, and from where.
    - A token beyond it is due under O(rotate=due), and every expiry asked for a new token is within it.
  returned: when O(organization) is set and the run creates a token or O(rotate) is not V(never)
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

from ansible_collections.tokenops.tokens.plugins.module_utils._pulumi import (
    MUTUALLY_EXCLUSIVE, PulumiTokenAdapter, argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._token_state import (
    run_token_module,
)


def main():
    run_token_module('pulumi', PulumiTokenAdapter, argument_spec(), MUTUALLY_EXCLUSIVE)


if __name__ == '__main__':
    main()

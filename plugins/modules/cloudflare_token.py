#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: cloudflare_token
short_description: Manage and rotate Cloudflare user and account API tokens
version_added: 1.0.0
description:
  - Creates, changes, rolls and deletes Cloudflare API tokens of the calling user, or of an account
    (O(account_id)), with their policies, IP condition, validity dates and status.
  - The secret is returned only in the run that issued it (create or roll), hidden from every output.
  - A token is identified by O(token_id) when given, else by O(name). Cloudflare does not keep names
    unique, so the module reads every page of the token list (with recently expired tokens) and
    fails with the ids of both when two live tokens carry the name, rather than guess. An expired,
    exposed or disabled token of the same name never hides the one live token; a warning names it.
  - "A lookup by O(name) sees only what Cloudflare lists: a token that B(expired long ago) is left
    out of the list although it still exists, and a credential that holds only the C(list_self)
    permission (C(com.cloudflare.api.account.token.list_self)) sees only the account tokens it
    created itself. In either case a name that is not found leads to a new token. Use O(token_id)
    to act on such a token, which finds it whatever the list shows."
  - Everything but the secret changes in place, with one full-object C(PUT), when O(name) (with
    O(token_id)), O(policies), O(condition), O(expires_at), O(not_before) or O(status) differ from
    the token. Policies are compared as a set of effect, permission-group ids and resources
    (Cloudflare may return them in another order, with fresh policy ids); IP lists are compared as
    sets of canonical CIDR ranges, and the legacy C(request.ip) key reads as C(request_ip). Options
    left out are not compared and are kept as the token has them.
  - "Rotation depends on O(rotation). V(roll) (the default) rolls the secret (C(PUT .../value)): the token
    keeps its id, name and policies, and the B(previous secret stops working at once). Deliver the new secret
    promptly. V(replace) creates a new token with the same name, policies, condition, dates and status while the
    previous one still works, then deletes the previous one (the rotation role uses V(replace) by default and
    deletes the previous token only after delivery). B(The token id changes with V(replace)). RV(previous_id)
    is the previous token's id (the token's own id after a roll)."
  - A token expired or revoked by Cloudflare's leak scanning (status "revoked (exposed)") is found
    and reported with a warning, never silently replaced by a new one.
author:
  - tokenops engineering (@tokenops)
extends_documentation_fragment:
  - tokenops.tokens.connection
  - tokenops.tokens.connection.CLOUDFLARE
  - tokenops.tokens.rotation
  - tokenops.tokens.rotation.EXPIRY
  - tokenops.tokens.attributes
  - tokenops.tokens.attributes.actiongroup_cloudflare
options:
  account_id:
    description:
      - Manage account-owned tokens of this account (the 32-character account id), under
        C(/accounts/{account_id}/tokens).
      - When not set, the module manages user tokens of the user O(api_token) belongs to.
      - "An account-owned credential (C(cfat_...)) in O(api_token) works: Cloudflare refuses it on
        the user verify path (401 or 403), so the module checks it on the account's verify path."
    type: str
  name:
    description:
      - The token's name, at most 120 characters. Identifies the token unless O(token_id) is given;
        with O(token_id), renames the token when it differs.
      - Required to create a token.
    type: str
  token_id:
    description:
      - Act on the token with this id (32 hexadecimal characters) instead of finding it by O(name).
      - With O(state=present) the token must exist; a token cannot be created with a chosen id.
    type: str
  policies:
    description:
      - The token's access policies. Required to create a token; when left out, an existing token's
        policies are kept.
    type: list
    elements: dict
    suboptions:
      effect:
        description:
          - Whether the policy grants or denies the permission groups on the resources.
        type: str
        choices: [allow, deny]
        default: allow
      permission_groups:
        description:
          - Permission groups, each by id (32 hexadecimal characters) or by exact name such as
            V(DNS Write).
          - "Names are resolved through the C(permission_groups) endpoint of the user or account
            (one request). Where Cloudflare publishes a name at more than one scope (for example
            V(Access: Apps and Policies Write) at account and zone scope), the scope of the policy's
            O(policies[].resources) picks one. An unknown or still ambiguous name is an error, before
            anything is changed."
        type: list
        elements: str
        required: true
      resources:
        description:
          - What the policy applies to, as Cloudflare takes it. Either a flat mapping of resource keys
            to V(*), such as C(com.cloudflare.api.account.zone.*) or
            C(com.cloudflare.api.account.<account_id>) mapped to V(*), or a nested mapping of an
            account key to a mapping of zone keys. See the examples.
        type: dict
        required: true
  condition:
    description:
      - Restricts where the token may be used from. Left out, an existing token's condition is kept.
      - V({}) (no O(condition.request_ip)) removes the IP condition.
    type: dict
    suboptions:
      request_ip:
        description:
          - Client IP addresses or CIDR ranges (IPv4 or IPv6) the token is limited to.
          - At least one address in O(condition.request_ip.in) or O(condition.request_ip.not_in) is
            required; an empty IP condition would lock the token out from everywhere and is refused.
        type: dict
        suboptions:
          in:
            description:
              - Only requests from these ranges are accepted.
            type: list
            elements: str
          not_in:
            description:
              - Requests from these ranges are refused.
            type: list
            elements: str
  not_before:
    description:
      - The time before which the token is not valid, as an ISO 8601 timestamp such as
        V(2027-01-31T00:00:00Z). A timestamp without a zone is taken as UTC.
      - Compared with the token's and changed in place.
    type: str
  status:
    description:
      - V(disabled) suspends the token without deleting it (its secret stops working until it is
        V(active) again). Left out, the token's status is kept; a new token is V(active).
      - An expired or exposed token's status cannot be changed; the module warns.
    type: str
    choices: [active, disabled]
  expires_in:
    description:
      - Expiry of a newly issued token, relative to now, as a duration such as V(90d) or V(12h).
      - Mutually exclusive with O(expires_at).
      - Sets the expiry of a new token, and of an existing one each time its secret is rolled (it
        moves to now plus O(expires_in), so O(rotate=due) with O(renew_before) keeps a token alive).
        Between rotations an existing token's expiry is left alone, since a relative expiry would
        differ on every run; the module warns when the token lives longer than O(expires_in) allows.
    type: str
  expires_at:
    description:
      - Expiry of a newly issued token, as an ISO 8601 timestamp such as V(2027-01-31T00:00:00Z).
        A timestamp without a zone is taken as UTC.
      - Mutually exclusive with O(expires_in).
      - Cloudflare can change an expiry in place, so an existing token whose expiry differs is
        updated (C(expires_on)).
    type: str
  allow_self_rotation:
    description:
      - Allow rotating or deleting the token that O(api_token) is. Rotating it ends O(api_token) (at once with
        a roll, at the end of the run with V(replace)), so later tasks must use the returned RV(secret).
      - Without it, rotating that token or deleting it (O(state=absent)) fails before anything changes.
    type: bool
    default: false
  rotation:
    description:
      - How a rotation issues the new secret. V(roll) rolls the secret in place (same token id; the previous
        secret stops working at once). V(replace) creates a new token with the same name, policies,
        condition, dates and status, then deletes the previous token, so both secrets work in between; the
        token id changes.
      - V(replace) needs O(name) (a token given by O(token_id) would not be found again under its new id).
      - "V(replace) needs room for one more token: Cloudflare allows at most 50 user tokens per user and
        500 account tokens per account (U(https://developers.cloudflare.com/fundamentals/api/reference/limits/)).
        At the quota a V(replace) is refused before any write; delete unused tokens, or use V(roll)."
    type: str
    choices: [roll, replace]
    default: roll
notes:
  - "Assumptions where Cloudflare documents nothing: C(PUT) replaces every mutable field, so the
    module always sends name, policies, status, condition and dates, rebuilt from the token and the
    options; a condition or date absent from the C(PUT) is taken to be removed. A roll sends C({})."
  - "Age of a secret: Cloudflare records no time at which a token's secret was issued, and a roll
    leaves C(issued_on) (RV(token.created_at)) as it was. The module counts a secret's age, for
    O(rotate=due) and O(max_age), from C(modified_on) (RV(token.modified_at)), which a roll sets, so
    the run after a roll does not roll again. Any other change in place (this module's, the
    dashboard's, another tool's) also sets C(modified_on), so the age is a lower bound: combine
    O(max_age) with O(expires_in) and O(renew_before) where the bound matters."
  - Rolling a token whose expiry has passed, or one that would still be within O(renew_before)
    afterwards, fails unless O(expires_in) or O(expires_at) moves the expiry, because a roll keeps the
    expiry and the new secret would not work (or would be rolled again on every run).
  - Right after a create or roll, Cloudflare's verify endpoint may refuse the new secret for a moment
    (code 10000); the rotation role's check asks again after short pauses.
  - Cloudflare allows at most 50 user tokens per user and 500 tokens per account.
seealso:
  - module: tokenops.tokens.cloudflare_token_info
  - name: Cloudflare API tokens
    description: Creating API tokens through the API.
    link: https://developers.cloudflare.com/fundamentals/api/how-to/create-via-api/
  - name: Rolling API tokens
    description: What a roll does to the previous secret.
    link: https://developers.cloudflare.com/fundamentals/api/how-to/roll-token/
'''

EXAMPLES = r'''
- name: A DNS-editing token for CI, limited to the CI network, rolled every 60 days
  tokenops.tokens.cloudflare_token:
    name: ci-dns
    policies:
      - permission_groups: [Zone Read, DNS Write]
        resources:
          com.cloudflare.api.account.zone.*: "*"
    condition:
      request_ip:
        in: [192.0.2.0/24, "2001:db8::/32"]
    expires_in: 90d
    rotate: due
    max_age: 60d
    renew_before: 14d
  register: ci_dns

- name: Hand the new secret on (only present when one was issued)
  ansible.builtin.copy:
    content: "{{ ci_dns.secret }}"
    dest: /etc/ci/cloudflare-token
    mode: "0600"
  when: ci_dns.secret is defined
  no_log: true

- name: An account-owned token that may deploy Workers, denied cache purges
  tokenops.tokens.cloudflare_token:
    account_id: 01a7362d577a6c3019a474fd6f485823
    name: workers-deploy
    policies:
      - permission_groups: [Workers Scripts Write]
        resources:
          com.cloudflare.api.account.01a7362d577a6c3019a474fd6f485823: "*"
      - effect: deny
        permission_groups: [Cache Purge]
        resources:
          com.cloudflare.api.account.zone.*: "*"
  register: workers_deploy    # .secret is there when the token was created in this run

- name: Suspend a token without deleting it
  tokenops.tokens.cloudflare_token:
    token_id: ed17574386854bf78a67040be0a770b0
    status: disabled
  register: suspended

- name: Roll a token's secret now
  tokenops.tokens.cloudflare_token:
    name: ci-dns
    rotate: always
    secret_dest: /etc/ci/cloudflare-token    # or register the result and pass .secret on

- name: Delete a token
  tokenops.tokens.cloudflare_token:
    name: ci-dns
    state: absent
'''

RETURN = r'''
token:
  description: The token's metadata after the run (null when absent). Never the secret.
  returned: always
  type: dict
  sample:
    id: ed17574386854bf78a67040be0a770b0
    name: ci-dns
    status: active
    account_id: 01a7362d577a6c3019a474fd6f485823
    created_at: '2026-11-22T10:15:30Z'
    modified_at: '2026-11-30T05:25:53Z'
    last_used_at: '2026-11-29T05:24:14Z'
    not_before: '2026-11-22T00:00:00Z'
    expires_at: '2026-12-30T05:25:53Z'
    policies:
      - effect: allow
        permission_groups:
          - id: c8fed203ed3043cba015a93ad1616f1f
            name: Zone Read
        resources:
          com.cloudflare.api.account.zone.*: '*'
    condition:
      request_ip:
        in:
          - 192.0.2.0/24
  contains:
    id:
      description: The token id.
      type: str
      sample: ed17574386854bf78a67040be0a770b0
    name:
      description: The token's name.
      type: str
      sample: ci-dns
    status:
      description: V(active), V(disabled), V(expired), or "revoked (exposed)" after Cloudflare's leak scanning revoked it.
      type: str
      sample: active
    account_id:
      description: The account that owns the token; null for a user token.
      type: str
      sample: "01a7362d577a6c3019a474fd6f485823"
    created_at:
      description: When the token was created (Cloudflare's C(issued_on)), ISO 8601. A roll does not change it.
      type: str
      sample: "2026-11-22T10:15:30Z"
    modified_at:
      description: When the token or its secret last changed (C(modified_on)), ISO 8601; the age of the secret is counted from it.
      type: str
      sample: "2026-11-30T05:25:53Z"
    last_used_at:
      description: When the token was last used, ISO 8601, or null.
      type: str
      sample: "2026-11-29T05:24:14Z"
    not_before:
      description: The time before which the token is not valid, ISO 8601, or null.
      type: str
      sample: "2026-11-22T00:00:00Z"
    expires_at:
      description: When it expires (C(expires_on)), ISO 8601, or null for never.
      type: str
      sample: "2026-12-30T05:25:53Z"
    policies:
      description: The policies, sorted, without Cloudflare's policy ids.
      type: list
      elements: dict
      sample:
        - effect: allow
          permission_groups:
            - id: c8fed203ed3043cba015a93ad1616f1f
              name: Zone Read
          resources:
            com.cloudflare.api.account.zone.*: '*'
      contains:
        effect:
          description: V(allow) or V(deny).
          type: str
          sample: "allow"
        permission_groups:
          description: The permission groups, sorted by id, each with C(id) and C(name) (and C(meta) when set).
          type: list
          elements: dict
          sample: [{"id": "c8fed203ed3043cba015a93ad1616f1f", "name": "Zone Read"}]
        resources:
          description: The resources the policy applies to.
          type: dict
          sample: {"com.cloudflare.api.account.zone.*": "*"}
    condition:
      description: The IP condition (C(request_ip) with C(in) and C(not_in) lists of sorted canonical CIDR ranges), or null.
      type: dict
      sample: {"request_ip": {"in": ["192.0.2.0/24"]}}
secret:
  description: The token value. Only returned when this run created the token or rolled its secret.
  returned: when a secret was issued
  type: str
  sample: "cfut_0123456789abcdefghijklmnopqrstuvwxyzABCD"
rotated:
  description: Whether a new secret was issued in this run (or would be, in check mode).
  returned: always
  type: bool
  sample: false
rotation_reason:
  description: Why the secret was or was not rolled under O(rotate).
  returned: when the token existed before the run and O(state=present)
  type: str
  sample: not due
previous_id:
  description: >-
    Id of the token that was rotated: after a roll the same as RV(token.id), since a roll keeps the token;
    after O(rotation=replace) the previous, deleted token's id.
  returned: when rotated
  type: str
  sample: "f6dd2cfc45ef45f393a4d3c450e9ec1e"
'''

from ansible_collections.tokenops.tokens.plugins.module_utils._cloudflare import (
    MUTUALLY_EXCLUSIVE, CloudflareTokenAdapter, argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._token_state import (
    run_token_module,
)


def main():
    run_token_module('cloudflare', CloudflareTokenAdapter, argument_spec(), MUTUALLY_EXCLUSIVE)


if __name__ == '__main__':
    main()

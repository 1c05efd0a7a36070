#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: rotation_engine
short_description: The engine of the tokenops.tokens.rotate role (not for direct use)
version_added: 1.0.0
description:
  - Runs one step of a rotation for every token of the C(tokenops.tokens.rotate) role at once, on
    the controller. Use the role; the steps, their order and their arguments are internal
    to it and may change without notice.
  - V(lock) starts a holder process that takes an exclusive lock on O(lock_path) and keeps it
    until V(unlock) or until the C(ansible-playbook) process ends. V(plan), V(issue) and V(finish)
    also hold a second lock on O(lock_path) in their own process, so a process of a killed run
    that is still issuing, delivering or revoking keeps the next run waiting.
  - V(plan) validates every item (before any request), lists each scope once, reads the journal of
    unfinished rotations in O(state_dir) and decides what is due. It sends only GET requests and
    writes nothing.
  - V(issue) plans as V(plan) does (the role runs V(plan) only in check mode, so a run lists each
    scope once), then issues, verifies and delivers new secrets to file and vault sinks,
    journaling every step, and revokes previous secrets of tokens that have no task-file sink.
  - V(finish) closes the rotations that waited for task-file sinks and writes C(report.json) and
    C(report.md) to O(report_dir). It checks again only the items of those rotations.
author:
  - tokenops engineering (@tokenops)
attributes:
  check_mode:
    description: V(plan) runs in check mode and changes nothing; the other steps are skipped.
    support: full
  diff_mode:
    description: Not supported.
    support: none
  action:
    description: Runs on the controller as an action plugin.
    support: full
  async:
    description: Not supported.
    support: none
  platform:
    description: Runs on the controller.
    support: full
    platforms: posix
options:
  step:
    description: The step to run.
    type: str
    required: true
    choices: [lock, plan, issue, finish, unlock]
  tokens:
    description: The role's C(rotate_tokens).
    type: list
    elements: dict
    default: []
  tokens_var:
    description:
      - The name of the variable that holds the tokens (the role gives V(rotate_tokens)), read
        from the task's variables instead of O(tokens); mutually exclusive with O(tokens).
      - The role's setting. A list given as O(tokens) is templated as a whole into the task's
        arguments and sent back with its result, which costs about half a second per task for
        500 tokens; read from the variable, only the strings that hold a template are templated.
    type: str
    version_added: 1.1.0
  state_dir:
    description: Directory of the journal of unfinished rotations (C(journal.json)).
    type: path
  lock_path:
    description:
      - The lock file. V(lock) takes the run lock; V(plan), V(issue) and V(finish) hold the step
        lock in their own process while they run, when it is given.
    type: path
  lock_timeout:
    description: Seconds to wait for another run to release the lock.
    type: float
    default: 600
  report_dir:
    description:
      - Directory where V(finish) writes C(report.json) and C(report.md); V(issue) checks it
        (and creates it) before any request when it is given.
    type: path
  fail_fast:
    description: Stop issuing at the first failed token.
    type: bool
    default: false
  hygiene:
    description:
      - V(plan) and V(issue) also report the hygiene of the scopes they listed (tokens no item
        covers, expired, expiring within O(expiring_within), never expiring, unused for
        O(unused_for), earlier generations left), from the listings they read anyway; V(finish)
        writes it into the report.
    type: bool
    default: false
    version_added: 1.1.0
  expiring_within:
    description: A duration (V(30d), V(2w), ...); with O(hygiene), tokens that expire within it.
    type: str
    default: 30d
    version_added: 1.1.0
  unused_for:
    description: A duration; with O(hygiene), tokens last used (or, never used, issued) this long ago.
    type: str
    default: 90d
    version_added: 1.1.0
  metrics_file:
    description:
      - V(finish) writes the run's Prometheus metrics here (text exposition format, replaced
        atomically, mode 0644); V(plan) and V(issue) check first that it can be written.
      - Its directory must belong to the run's user or root and be writable by no one else, reached
        through no other user's symbolic link; it is not created.
    type: path
    version_added: 1.1.0
  pushgateway_url:
    description:
      - V(finish) pushes the run's metrics to this Prometheus Pushgateway (C(PUT
        /metrics/job/<pushgateway_job>)); a failed push is a warning. V(plan) and V(issue) check
        the URL first.
    type: str
    version_added: 1.1.0
  pushgateway_job:
    description: The Pushgateway job (grouping key) of the push.
    type: str
    default: tokenops_rotate
    version_added: 1.1.0
  holder:
    description: Process id of the lock holder, from V(lock) (for V(unlock)).
    type: int
  rows:
    description: The report rows of the V(issue) (or V(plan)) step (for V(finish)).
    type: list
    elements: dict
    default: []
  outcomes:
    description: The rotations of the V(issue) step that wait for task-file sinks (for V(finish)).
    type: list
    elements: dict
    default: []
  task_failures:
    description: The task-file deliveries that failed (for V(finish)).
    type: list
    elements: dict
    default: []
  check_failures:
    description:
      - The consumer checks (C(check_tasks)) that failed, each with the C(label) of its token, its
        C(file) and, when known, the C(task) that failed (for V(finish)).
    type: list
    elements: dict
    default: []
    version_added: 1.1.0
  issued_var:
    description:
      - The name of the variable the result of V(issue) was registered as (the role gives
        V(_rotate_issued)). V(finish) reads from it the preflight states that a rollback after a
        failed consumer check needs (a file's previous content, a store's previous version).
      - They are never an argument of a task nor written to disk, because they may hold a
        previous secret.
    type: str
    version_added: 1.1.0
  handoff:
    description:
      - V(plan) and V(issue) keep their O(rows) and O(outcomes) in O(state_dir) (C(handoff.json),
        mode C(0600), no secret) instead of returning them, and V(finish) reads them from there
        and returns no RV(rows).
      - The role's setting. A result of one row per token is copied into every later task's
        variables, which costs a few tenths of a second per task for 500 tokens.
    type: bool
    default: false
  handoff_key:
    description:
      - The key that V(issue) returned as RV(handoff_key); V(finish) with O(handoff) needs it and
        reads C(handoff.json) only when the file's HMAC under this key holds, so a file that
        another process wrote or changed is refused and nothing is revoked on its word.
    type: str
    version_added: 1.1.0
notes:
  - O(state_dir), O(report_dir) and the directory of O(lock_path) must belong to the run's user (or
    root) and be writable by no one else, sticky or not; a step refuses any other before it sends
    a request, naming the directory, its owner and its mode. Missing directories are created
    with mode C(0700). Files in them are opened relative to the directory and never through a
    symbolic link; a symbolic link on the way to them is followed only when it belongs to root or
    to the run's user.
  - The results of V(issue) carry new secrets for the task-file sinks and consumer checks when
    there are some, and the preflight states a rollback needs; such a result is hidden from every
    callback, as with O(ignore:no_log=true).
seealso:
  - name: The rotation guide
    description: Strategies per platform and recovery after a failed run.
    link: https://github.com/tokenops/tokens/blob/main/docs/rotation.md
'''

EXAMPLES = r'''
- name: Use the role, not this module
  ansible.builtin.include_role:
    name: tokenops.tokens.rotate
'''

RETURN = r'''
holder:
  description: Process id of the lock holder.
  returned: on lock
  type: int
  sample: 41873
handoff_key:
  description: The key that binds C(handoff.json) to this run (give it to V(finish) as O(handoff_key)).
  returned: on issue, with O(handoff)
  type: str
  sample: 0d2b6f...e4
  version_added: 1.1.0
lock_path:
  description: The lock file the holder keeps locked.
  returned: on lock
  type: str
  sample: /home/ops/.ansible/tokenops_tokens/rotate/rotate.lock
rows:
  description: One report row per token (no secret).
  returned: on plan, issue and finish, unless O(handoff)
  type: list
  elements: dict
  sample:
    - label: ci-deploy
      provider: pulumi
      platform: Pulumi Cloud
      token_id: a088bad3-b904-41a0-b6a9-626e9d6ad9aa
      previous_id: dcb03842-a7c2-449c-94c5-c1d421e6049b
      age_days: 120
      expires_at: '2027-02-28T00:00:00Z'
      action: rotated
      reason: issued 120 days ago, at least max_age (60d)
      overlaps: true
      in_place: false
      delivered:
        - file:/etc/ci/pulumi.token
      notes:
        - previous token dcb03842-a7c2-449c-94c5-c1d421e6049b revoked after delivery
      error: 'api_token: no credential given; set api_token or the PULUMI_ACCESS_TOKEN environment variable'
      scope: user
      due: true
      issued_at: '2026-08-04T09:12:44Z'
      last_used_at: '2026-11-30T05:25:57Z'
  contains:
    label:
      description: The item's C(id).
      type: str
      sample: ci-deploy
    provider:
      description: The item's C(provider).
      type: str
      sample: pulumi
    platform:
      description: The platform's name.
      type: str
      sample: Pulumi Cloud
    token_id:
      description: The token's id (the new one after a rotation), or null.
      type: str
      sample: a088bad3-b904-41a0-b6a9-626e9d6ad9aa
    previous_id:
      description: The id of the token a rotation replaced, or null.
      type: str
      sample: dcb03842-a7c2-449c-94c5-c1d421e6049b
    age_days:
      description: The secret's age in days, or null when unknown.
      type: int
      sample: 120
    expires_at:
      description: The token's expiry, ISO 8601, or null.
      type: str
      sample: "2027-02-28T00:00:00Z"
    action:
      description: What was (or would be) done, for example V(rotated), V(would rotate), V(not due), V(failed).
      type: str
      sample: rotated
    reason:
      description: Why.
      type: str
      sample: issued 120 days ago, at least max_age (60d)
    overlaps:
      description: Whether the platform keeps the previous secret working until it is revoked.
      type: bool
      sample: true
    in_place:
      description: Whether the platform replaced the secret in place.
      type: bool
      sample: false
    delivered:
      description: The sinks the new secret was delivered to.
      type: list
      elements: str
      sample: ["file:/etc/ci/pulumi.token"]
    notes:
      description: Further remarks.
      type: list
      elements: str
      sample: ["previous token dcb03842-a7c2-449c-94c5-c1d421e6049b revoked after delivery"]
    error:
      description: The error, when the token failed, else null.
      type: str
      sample: "api_token: no credential given; set api_token or the PULUMI_ACCESS_TOKEN environment variable"
    scope:
      description: Where the token lives on its platform, as the inventory plugin C(tokenops.tokens.tokens) names it (the C(scope) label of the metrics).
      type: str
      sample: user
      version_added: 1.1.0
    due:
      description: Whether the plan found the token due; null when it could not be planned.
      type: bool
      sample: true
      version_added: 1.1.0
    issued_at:
      description: When the token's secret was issued before this run, as the platform says or as this role recorded it (ISO 8601), or null.
      type: str
      sample: "2026-08-04T09:12:44Z"
      version_added: 1.1.0
    last_used_at:
      description: When the token was last used before this run, as the platform says (ISO 8601), or null.
      type: str
      sample: "2026-11-30T05:25:57Z"
      version_added: 1.1.0
work:
  description: Whether the plan found anything to issue or to finish.
  returned: on plan
  type: bool
  sample: true
summary:
  description: How many tokens each action applied to.
  returned: on plan and finish
  type: dict
  sample: {"rotated": 1, "not due": 3}
report:
  description:
    - The report (as written to C(report.json) by V(finish)), with C(generated_at), C(check_mode), C(summary), the rows
      as C(tokens) and, with O(hygiene), C(hygiene) (see RV(hygiene)).
  returned: on plan in check mode
  type: dict
  sample: {"generated_at": "2026-11-30T05:24:21Z", "check_mode": true, "summary": {"not due": 1}, "tokens": []}
report_md:
  description: The Markdown report.
  returned: on finish, and on plan in check mode
  type: str
  sample: "# Token rotation report\n\nGenerated 2026-11-30T05:24:18Z. 1 rotated.\n"
report_json_path:
  description: Where V(finish) wrote C(report.json).
  returned: on finish
  type: str
  sample: /home/ops/.ansible/tokenops_tokens/rotate/report/report.json
report_md_path:
  description: Where V(finish) wrote C(report.md).
  returned: on finish
  type: str
  sample: /home/ops/.ansible/tokenops_tokens/rotate/report/report.md
outcomes:
  description: What V(issue) did for each token (the previous and new token's metadata, the sinks delivered to), for V(finish). No secret.
  returned: on issue, unless O(handoff)
  type: list
  elements: dict
  sample:
    - label: ci-deploy
      provider: pulumi
      previous:
        id: dcb03842-a7c2-449c-94c5-c1d421e6049b
      token:
        id: a088bad3-b904-41a0-b6a9-626e9d6ad9aa
      superseded: []
      delivered:
        - file:/etc/ci/pulumi.token
      earlier: null
deliveries:
  description: The task-file deliveries still to make, each with the new secret; the result is hidden from all output.
  returned: on issue
  type: list
  elements: dict
  sample:
    - label: ci-deploy
      index: 1
      file: /etc/ansible/deliver/awx_credential.yml
      secret: pul-0123456789abcdef0123456789abcdef01234567
      token:
        id: a088bad3-b904-41a0-b6a9-626e9d6ad9aa
hygiene:
  description:
    - With O(hygiene), what the scopes the step listed hold, from the listings it read anyway (no further request), as
      they were before its rotations; the tokens of items it rotated are left out. Null without O(hygiene).
    - Each list holds tokens as C(id), C(name), C(scope) (the token's own, as the inventory plugin names it), C(kind),
      C(label) (the item it belongs to, or null), C(generation), C(created_at), C(expires_at), C(last_used_at),
      C(age_days). Never a secret.
  returned: on plan and issue, unless O(handoff)
  type: dict
  version_added: 1.1.0
  sample:
    expiring_within: 30d
    unused_for: 90d
    scopes:
      - platform: tfe
        api_url: https://app.terraform.io
        scope: acme
        listed: 3
        unmanaged:
          - id: at-N6HJ7NYWGjSyOAD8
            name: hand-made
            scope: acme/team-xKbd9i0kufJ8dSw7
            kind: described
            label: null
            generation: 1
            created_at: '2025-01-10T05:25:29Z'
            expires_at: null
            last_used_at: null
            age_days: 690
        expired: []
        expiring: []
        never_expires: []
        unused: []
        earlier_generations: []
  contains:
    expiring_within:
      description: The window of RV(hygiene.scopes[].expiring), as given.
      type: str
      sample: 30d
    unused_for:
      description: The idle time of RV(hygiene.scopes[].unused), as given.
      type: str
      sample: 90d
    scopes:
      description: One entry per platform, API URL and listed scope.
      type: list
      elements: dict
      sample:
        - platform: tfe
          api_url: https://app.terraform.io
          scope: acme
          listed: 3
          unmanaged: []
          expired: []
          expiring: []
          never_expires: []
          unused: []
          earlier_generations: []
      contains:
        platform:
          description: The platform.
          type: str
          sample: tfe
        api_url:
          description: The API the scope was listed from.
          type: str
          sample: https://app.terraform.io
        scope:
          description:
            - The listed scope (TFE the organization; Cloudflare V(user) or C(account/<id>); Pulumi V(user), the
              organization, or C(<organization>/<team>); CloudTruth V(organization); PactFlow V(user)).
          type: str
          sample: acme
        listed:
          description: How many tokens the listings of the scope held.
          type: int
          sample: 3
        unmanaged:
          description: Tokens no item covers (neither an item's token nor an earlier generation of one).
          type: list
          elements: dict
          sample:
            - id: at-N6HJ7NYWGjSyOAD8
              name: hand-made
              scope: acme/team-xKbd9i0kufJ8dSw7
              kind: described
              label: null
              generation: 1
              created_at: '2025-01-10T05:25:29Z'
              expires_at: null
              last_used_at: null
              age_days: 690
        expired:
          description: Expired tokens.
          type: list
          elements: dict
          sample:
            - id: at-N6HJ7NYWGjSyOAD8
              name: hand-made
              scope: acme/team-xKbd9i0kufJ8dSw7
              kind: described
              label: null
              generation: 1
              created_at: '2025-01-10T05:25:29Z'
              expires_at: null
              last_used_at: null
              age_days: 690
        expiring:
          description: Tokens that expire within RV(hygiene.expiring_within).
          type: list
          elements: dict
          sample:
            - id: at-N6HJ7NYWGjSyOAD8
              name: hand-made
              scope: acme/team-xKbd9i0kufJ8dSw7
              kind: described
              label: null
              generation: 1
              created_at: '2025-01-10T05:25:29Z'
              expires_at: null
              last_used_at: null
              age_days: 690
        never_expires:
          description: Tokens without expiry (PactFlow says nothing of expiry, so its tokens are never here).
          type: list
          elements: dict
          sample:
            - id: at-N6HJ7NYWGjSyOAD8
              name: hand-made
              scope: acme/team-xKbd9i0kufJ8dSw7
              kind: described
              label: null
              generation: 1
              created_at: '2025-01-10T05:25:29Z'
              expires_at: null
              last_used_at: null
              age_days: 690
        unused:
          description: Tokens last used RV(hygiene.unused_for) ago or longer, or never used and issued that long ago.
          type: list
          elements: dict
          sample:
            - id: at-N6HJ7NYWGjSyOAD8
              name: hand-made
              scope: acme/team-xKbd9i0kufJ8dSw7
              kind: described
              label: null
              generation: 1
              created_at: '2025-01-10T05:25:29Z'
              expires_at: null
              last_used_at: null
              age_days: 690
        earlier_generations:
          description: Generations (C(name--N)) older than the newest of their name, left behind; nothing is deleted.
          type: list
          elements: dict
          sample:
            - id: at-N6HJ7NYWGjSyOAD8
              name: hand-made
              scope: acme/team-xKbd9i0kufJ8dSw7
              kind: described
              label: null
              generation: 1
              created_at: '2025-01-10T05:25:29Z'
              expires_at: null
              last_used_at: null
              age_days: 690
checks:
  description: The consumer checks (C(check_tasks)) still to run, each with the new secret; the result is hidden from all output.
  returned: on issue
  type: list
  elements: dict
  version_added: 1.1.0
  sample:
    - label: ci-deploy
      index: 1
      file: /etc/ansible/checks/terraform_plan.yml
      secret: pul-0123456789abcdef0123456789abcdef01234567
      token:
        id: a088bad3-b904-41a0-b6a9-626e9d6ad9aa
states:
  description:
    - The preflight states of the sinks of tokens with a consumer check, by label and sink, for a
      rollback in V(finish) (see O(issued_var)); they may hold a previous secret, and the result is
      hidden from all output.
  returned: on issue
  type: dict
  version_added: 1.1.0
  sample:
    ci-deploy:
      "vault_kv:https://vault.example.com:8200/secret/ci/pulumi#token":
        version: 4
        exists: true
        written: 5
        custom_metadata: {}
failed_tokens:
  description: Labels of the tokens that failed.
  returned: on issue and finish
  type: list
  elements: str
  sample: []
notices:
  description:
    - Information the step also prints at default verbosity, for example that O(state_dir) holds no journal
      yet (a first run there).
  returned: on plan and issue, when there is something to say
  type: list
  elements: str
  version_added: 1.1.0
  sample: ["rotate_state_dir /var/lib/token-rotation holds no journal yet, so this is taken as the first rotation run here; ..."]
'''

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(
        step=dict(type='str', required=True, choices=['lock', 'plan', 'issue', 'finish', 'unlock']),
        tokens=dict(type='list', elements='dict', default=[], no_log=True),
        tokens_var=dict(type='str', no_log=False),   # a variable's name
        state_dir=dict(type='path'),
        lock_path=dict(type='path'),
        lock_timeout=dict(type='float', default=600),
        report_dir=dict(type='path'),
        fail_fast=dict(type='bool', default=False),
        holder=dict(type='int'),
        rows=dict(type='list', elements='dict', default=[]),
        outcomes=dict(type='list', elements='dict', default=[]),
        task_failures=dict(type='list', elements='dict', default=[]),
        check_failures=dict(type='list', elements='dict', default=[]),
        issued_var=dict(type='str', no_log=False),   # a variable's name
        handoff=dict(type='bool', default=False),
        handoff_key=dict(type='str', no_log=True),
        hygiene=dict(type='bool', default=False),
        expiring_within=dict(type='str', default='30d'),
        unused_for=dict(type='str', default='90d'),
        metrics_file=dict(type='path'),
        pushgateway_url=dict(type='str'),
        pushgateway_job=dict(type='str', default='tokenops_rotate'),
    ), mutually_exclusive=[('tokens', 'tokens_var')], supports_check_mode=True)
    module.fail_json(msg='tokenops.tokens.rotation_engine runs only as the action plugin of the '
                         'tokenops.tokens.rotate role')


if __name__ == '__main__':
    main()

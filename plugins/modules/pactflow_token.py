#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: pactflow_token
short_description: Import and regenerate the PactFlow read-only and read-write API tokens
version_added: 1.0.0
description:
  - Imports the read-only or the read-write API token of the user (or system account) that
    O(api_token) belongs to, and regenerates it on request.
  - PactFlow gives every user exactly these two tokens. They cannot be created or deleted, only
    regenerated, so O(state=present) reads the existing token and changes nothing.
  - PactFlow lets a token's value be read at any time, so every run that finds the token returns
    its value as RV(secret), hidden from every output like every secret. The exception is the token
    O(api_token) holds, whose value you have already (Ansible would mask it in the result anyway).
    Import the read-write token with the read-only one as O(api_token), and the other way round.
  - "Rotation is in place: O(rotate=always) regenerates the token under the same id; the previous
    value stops working at once, with no grace period, and the new one is returned as RV(secret)."
  - Regenerating the token that O(api_token) holds would lock the play out, so the module refuses it
    unless O(allow_self_rotation=true).
  - The token's type is recognised from its description, the only type marker the API has
    (C(Read only token (developer)) and C(Read/write token (CI)); other spellings that start with
    "read only" or "read/write" are accepted too). A token list without exactly one token of the
    requested type fails and shows what PactFlow listed; the module never picks one by guess.
  - "The module follows these assumptions where PactFlow's API is not documented: the token list
    (C(GET /settings/tokens), never paged) carries the values; the regenerate request
    (C(POST /settings/tokens/{uuid}/regenerate)) is sent without a body, any 2xx answer is
    success, and it carries the new value; an expired token is answered with HTTP 401; ids are
    opaque strings."
author:
  - tokenops engineering (@tokenops)
extends_documentation_fragment:
  - tokenops.tokens.connection
  - tokenops.tokens.connection.PACTFLOW
  - tokenops.tokens.rotation
  - tokenops.tokens.attributes
  - tokenops.tokens.attributes.actiongroup_pactflow
options:
  type:
    description:
      - Which of the two tokens of the O(api_token) principal to manage.
    type: str
    required: true
    choices: [read-only, read-write]
  state:
    description:
      - V(present) makes sure the token exists. On PactFlow it always does, so this imports it and
        returns its value.
      - V(absent) always fails, because PactFlow cannot delete API tokens.
  rotate:
    description:
      - When to issue a new secret for a token that already exists.
      - V(never) never does. V(always) regenerates the token on every run; the previous value stops
        working at once.
      - V(due) always fails on PactFlow. The API exposes no creation date or expiry of a token, so
        the module cannot tell its age. Run O(rotate=always) on your own schedule instead.
  max_age:
    description:
      - Not used on PactFlow, which reports no token age; a value given is ignored with a warning.
  renew_before:
    description:
      - Not used on PactFlow, which reports no token expiry; a value given is ignored with a warning.
  allow_self_rotation:
    description:
      - Allow regenerating the very token O(api_token) holds.
      - Without it, the module refuses such a rotation before sending it, because the credential the
        play calls PactFlow with would stop working at once.
      - With it, the module regenerates the token, returns the new value as RV(secret) and warns that
        the credential it was called with no longer works. Later tasks must use RV(secret) as their
        O(api_token), see the examples.
      - When PactFlow lists no token values, the module cannot tell which token O(api_token) is, and
        treats a rotation as one of O(api_token) itself.
    type: bool
    default: false
notes:
  - Only the tokens of the principal O(api_token) belongs to can be managed; PactFlow's API has no
    endpoint to regenerate another principal's tokens (its user interface can regenerate a system
    account's). Called with a system account's own token, the module manages that account's tokens as
    the current principal; PactFlow does not document this, so it is an assumption.
  - "A B(read-only token cannot regenerate anything), not even itself: PactFlow refuses every
    request other than C(GET) made with one (HTTP 401). Regenerating either token needs the read-write token
    in O(api_token); with the read-only one, the module refuses a rotation before sending anything.
    Importing works with either token."
  - PactFlow may let tokens expire after a period an administrator sets; the API does not say when,
    so RV(token.created_at) and RV(token.expires_at) are always null, and an expired O(api_token) is
    reported as HTTP 401.
  - If the regenerate request gets no clear answer (a timeout, a dropped connection, a 5xx), the
    module lists the tokens again. A changed value is the new secret, an unchanged one means nothing
    happened and the token is regenerated once more.
seealso:
  - module: tokenops.tokens.pactflow_token_info
  - name: PactFlow API tokens
    description: PactFlow's documentation of the two API tokens.
    link: https://docs.pactflow.io/docs/user-interface/settings/api-tokens
'''

EXAMPLES = r'''
- name: Import the read-only token, for example to hand it to developers
  tokenops.tokens.pactflow_token:
    api_url: https://example.pactflow.io
    api_token: "{{ pactflow_read_write_token }}"
    type: read-only
  register: read_only

- name: Import the read-write token, with the read-only one as credential
  tokenops.tokens.pactflow_token:
    api_url: https://example.pactflow.io
    api_token: "{{ read_only.secret }}"
    type: read-write
  register: read_write

- name: Store it (the secret is hidden from the output; register still receives it)
  ansible.builtin.copy:
    content: "{{ read_only.secret }}"
    dest: /etc/pact/read-only-token
    mode: "0600"
  no_log: true

- name: Regenerate the read-only token with the read-write one
  tokenops.tokens.pactflow_token:
    api_url: https://example.pactflow.io
    api_token: "{{ pactflow_read_write_token }}"
    type: read-only
    rotate: always
  register: new_read_only

- name: Regenerate the read-write token with itself; the old value dies at once
  tokenops.tokens.pactflow_token:
    api_url: https://example.pactflow.io
    api_token: "{{ pactflow_read_write_token }}"
    type: read-write
    rotate: always
    allow_self_rotation: true
  register: new_read_write

- name: Later tasks authenticate with the new value
  tokenops.tokens.pactflow_token_info:
    api_url: https://example.pactflow.io
    api_token: "{{ new_read_write.secret }}"

- name: Or switch every later task to it at once
  ansible.builtin.set_fact:
    pactflow_read_write_token: "{{ new_read_write.secret }}"
  no_log: true
'''

RETURN = r'''
token:
  description: The token's metadata. Never the secret.
  returned: always
  type: dict
  sample:
    id: 9d1a6e44-1b7c-4c2b-8f1e-7a9c3b2d4e55
    type: read-write
    description: Read/write token (CI)
    created_at: null
    expires_at: null
  contains:
    id:
      description: The token's uuid, which stays the same when it is regenerated.
      type: str
      sample: 9d1a6e44-1b7c-4c2b-8f1e-7a9c3b2d4e55
    type:
      description: V(read-only) or V(read-write).
      type: str
      sample: read-write
    description:
      description: The description PactFlow gives the token.
      type: str
      sample: Read/write token (CI)
    created_at:
      description: Always null; PactFlow does not report when a token was issued.
      type: str
      sample: null
    expires_at:
      description: Always null; PactFlow does not report when a token expires.
      type: str
      sample: null
secret:
  description:
    - The token's value. Returned whenever PactFlow lists it (every run that reads the token), and
      the new value after a regeneration.
    - Not returned when it is the value of O(api_token) itself.
    - Hidden from every output; use it through C(register).
  returned: when PactFlow returned a value; not in check mode when a regeneration is predicted
  type: str
  sample: "k4JvR8sQ2mXe9TbW1nZy0A"
rotated:
  description: Whether the token was regenerated in this run (or would be, in check mode).
  returned: always
  type: bool
  sample: false
rotation_reason:
  description: Why the token was or was not regenerated.
  returned: success
  type: str
  sample: rotate is always
previous_id:
  description: Id of the token that was regenerated; on PactFlow the same as RV(token.id).
  returned: when rotated
  type: str
  sample: "38f6bcb7-564e-4f93-be7d-e2a9c468f4b5"
'''

from ansible_collections.tokenops.tokens.plugins.module_utils._pactflow import (
    MUTUALLY_EXCLUSIVE, PactFlowTokenAdapter, argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._token_state import (
    run_token_module,
)


def main():
    run_token_module('pactflow', PactFlowTokenAdapter, argument_spec(), MUTUALLY_EXCLUSIVE)


if __name__ == '__main__':
    main()

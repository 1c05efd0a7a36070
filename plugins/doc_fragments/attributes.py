# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # Managing modules
    DOCUMENTATION = r'''
attributes:
  async:
    description: Supports being used with the C(async) keyword.
    support: partial
    details:
      - Only with O(state=absent). A call that may return a secret is refused with C(async), before
        any request, with a message that says why, because ansible-core keeps an async task's result
        in its job file on the target and hands it to C(async_status), out of the collection's reach.
      - Without C(async) the secret never leaves the module in plaintext either; see O(seal_key).
  check_mode:
    description: Can run in check mode and return the changed status prediction without changing the target.
    support: full
    details:
      - Check mode sends only read requests and issues no secret.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - The diff shows token metadata only, never a secret.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: all
'''

    # Read-only _info modules
    INFO_MODULE = r'''
attributes:
  async:
    description: Supports being used with the C(async) keyword.
    support: partial
    details:
      - A call that may return a secret (only M(tokenops.tokens.pactflow_token_info) with
        C(include_values=true)) is refused with C(async), before any request, with a message that
        says why. Every other call can run with C(async).
  check_mode:
    description: Can run in check mode and return the changed status prediction without changing the target.
    support: full
    details:
      - This module never changes anything.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: N/A
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: all
'''

    # One fragment per action group (meta/runtime.yml), as antsibull-nox's action-groups check
    # reads membership: a module of the group extends exactly its group's fragment.
    ACTIONGROUP_PACTFLOW = r'''
attributes:
  action_group:
    description: Use C(group/tokenops.tokens.pactflow) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - tokenops.tokens.pactflow
'''
    ACTIONGROUP_TFE = r'''
attributes:
  action_group:
    description: Use C(group/tokenops.tokens.tfe) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - tokenops.tokens.tfe
'''
    ACTIONGROUP_CLOUDFLARE = r'''
attributes:
  action_group:
    description: Use C(group/tokenops.tokens.cloudflare) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - tokenops.tokens.cloudflare
'''
    ACTIONGROUP_PULUMI = r'''
attributes:
  action_group:
    description: Use C(group/tokenops.tokens.pulumi) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - tokenops.tokens.pulumi
'''
    ACTIONGROUP_CLOUDTRUTH = r'''
attributes:
  action_group:
    description: Use C(group/tokenops.tokens.cloudtruth) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - tokenops.tokens.cloudtruth
'''

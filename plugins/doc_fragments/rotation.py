# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # state, rotate, max_age, renew_before: every managing module
    DOCUMENTATION = r'''
options:
  state:
    description:
      - V(present) makes sure the token exists; V(absent) revokes and deletes it.
    type: str
    choices: [present, absent]
    default: present
  rotate:
    description:
      - When to issue a new secret for a token that already exists.
      - V(never) never does. V(always) does on every run.
      - V(due) does when the current secret is older than O(max_age), expires within O(renew_before),
        or has expired. It needs at least one of the two.
      - A new token always comes with a new secret, whatever this says.
    type: str
    choices: [never, always, due]
    default: never
  max_age:
    description:
      - With O(rotate=due), the age at which a secret is due for rotation.
      - A duration such as V(90d), V(12h), V(30m), V(2w), V(1d12h), or a number of seconds.
    type: str
  renew_before:
    description:
      - With O(rotate=due), rotate a secret that expires within this duration.
      - A duration such as V(90d), V(12h), V(30m), V(2w), or a number of seconds.
    type: str
'''

    # expires_in / expires_at: modules whose platform lets a new token expire
    EXPIRY = r'''
options:
  expires_in:
    description:
      - Expiry of a newly issued token, relative to now, as a duration such as V(90d) or V(12h).
      - Mutually exclusive with O(expires_at).
    type: str
  expires_at:
    description:
      - Expiry of a newly issued token, as an ISO 8601 timestamp such as V(2027-01-31T00:00:00Z).
        A timestamp without a zone is taken as UTC.
      - Mutually exclusive with O(expires_in).
    type: str
'''

# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # The options of every _info module that reports age and due status
    DOCUMENTATION = r'''
options:
  max_age:
    description:
      - Report a token as due (RV(tokens[].due)) when its secret is at least this old.
      - A duration such as V(90d), V(12h), V(30m), V(2w), or a number of seconds.
    type: str
  renew_before:
    description:
      - Report a token as due when it expires within this duration.
    type: str
  expired:
    description:
      - V(true) lists only expired tokens, V(false) only tokens that have not expired. Unset lists both.
    type: bool
  expiring_within:
    description:
      - List only tokens that expire within this duration (expired ones included).
    type: str
'''

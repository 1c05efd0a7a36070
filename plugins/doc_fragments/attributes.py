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

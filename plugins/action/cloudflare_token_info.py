# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.tokenops.tokens.plugins.plugin_utils._secret_action import (
    SecretHidingAction,
)


class ActionModule(SecretHidingAction):
    """Runs the module and hides its result from every callback when it carries a secret."""

# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""Plain data out of what ansible-core hands a plugin (templated, tagged, inline-vault values)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections.abc import Mapping


def plain(value):
    """``value`` as plain dicts, lists, strings and numbers, without Ansible's data tags.

    Templated variables arrive tagged with where they came from; copying tagged data costs
    about ten times as much as plain data, and the engine copies every item while validating
    it (a 500-item list took 1.1 s to copy in the task's own argument check). A value of
    another kind (an inline-vault string, for one) becomes its text, as a module would get it.
    """
    if isinstance(value, Mapping):
        return dict((plain(key), plain(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if value is None or isinstance(value, bool):
        return value
    for kind in (str, int, float):
        if isinstance(value, kind):
            return kind(value)
    return str(value)

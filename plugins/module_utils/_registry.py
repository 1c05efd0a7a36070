# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""Which platform adapter, argument spec and API description serve each ``provider``.

The rotation role names platforms as ``provider``; each platform's module_utils file
(``_pulumi.py``, ``_tfe.py``, ...) supplies ``argument_spec()`` (its module's options without the
connection ones), optionally ``MUTUALLY_EXCLUSIVE`` and ``ROTATION_ADAPTER``, and the adapter class
(a :class:`TokenAdapter` subclass). A platform whose file is missing or incomplete is reported as
unavailable, never guessed.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib
import inspect

from ansible_collections.tokenops.tokens.plugins.module_utils._module import (
    connection_argument_spec,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._platforms import API, PLATFORMS
from ansible_collections.tokenops.tokens.plugins.module_utils._token_state import TokenAdapter

PACKAGE = 'ansible_collections.tokenops.tokens.plugins.module_utils'

#: provider name -> the module_utils file of its platform
MODULE_NAMES = {
    'pactflow': '_pactflow',
    'tfe': '_tfe',
    'cloudflare': '_cloudflare',
    'pulumi': '_pulumi',
    'cloudtruth': '_cloudtruth',
}

PROVIDERS = tuple(sorted(MODULE_NAMES))


class ProviderUnavailable(Exception):
    """The platform's adapter is not (yet) usable by the rotation role."""


class Provider:
    """Everything the rotation engine needs to drive one platform."""

    def __init__(self, name, api, adapter_class, argument_spec, mutually_exclusive):
        self.name = name
        self.api = api
        self.adapter_class = adapter_class
        self.argument_spec = argument_spec
        self.mutually_exclusive = mutually_exclusive

    @property
    def title(self):
        return PLATFORMS[self.name].title

    @property
    def token_env(self):
        return PLATFORMS[self.name].token_env


def _is_adapter_of(obj, module):
    """Whether ``obj`` is a token adapter class that ``module`` itself defines."""
    if not inspect.isclass(obj) or not issubclass(obj, TokenAdapter) or obj is TokenAdapter:
        return False
    return obj.__module__ == module.__name__


def _adapter_class(module):
    chosen = getattr(module, 'ROTATION_ADAPTER', None)
    if chosen is not None:
        return chosen
    found = [obj for obj in vars(module).values() if _is_adapter_of(obj, module)]
    if len(found) != 1:
        raise ProviderUnavailable('%s defines %d token adapters and no ROTATION_ADAPTER'
                                  % (module.__name__, len(found)))
    return found[0]


def get_provider(name):
    """The :class:`Provider` of ``name``; raises :class:`ProviderUnavailable`."""
    if name not in MODULE_NAMES:
        raise ProviderUnavailable('unknown provider %r; expected one of %s'
                                  % (name, ', '.join(PROVIDERS)))
    try:
        module = importlib.import_module('%s.%s' % (PACKAGE, MODULE_NAMES[name]))
    except ImportError as exc:
        raise ProviderUnavailable('the %s adapter is not available in this version of the '
                                  'collection (%s)' % (name, exc))
    spec_function = getattr(module, 'argument_spec', None)
    if not callable(spec_function):
        raise ProviderUnavailable('the %s adapter has no argument_spec() yet, so its items '
                                  'cannot be validated' % name)
    spec = connection_argument_spec(name)
    spec.update(spec_function())
    exclusive = [list(group) for group in getattr(module, 'MUTUALLY_EXCLUSIVE', None) or []]
    if 'expires_in' in spec and 'expires_at' in spec:
        exclusive.append(['expires_in', 'expires_at'])
    return Provider(name, API[name], _adapter_class(module), spec, exclusive)


def available_providers():
    """``{name: Provider or the reason it is unavailable}`` for every provider."""
    result = {}
    for name in PROVIDERS:
        try:
            result[name] = get_provider(name)
        except ProviderUnavailable as exc:
            result[name] = str(exc)
    return result

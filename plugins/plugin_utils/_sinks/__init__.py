# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The sink types, keyed by the ``type`` option of a ``deliver`` element (see ``base.py`` for
the interface). A new type is one module with one :class:`~.base.Sink` subclass, listed here."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.aws_secretsmanager import (
    AwsSecretsManagerSink,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.base import Sink, SinkError
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.file import FileSink
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.github_secret import (
    GitHubSecretSink,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.tasks import TasksSink
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.tfe_variable import (
    TfeVariableSink,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.vault_file import (
    VaultFileSink,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.vault_kv import VaultKvSink

#: every sink type by its ``type``, in the order errors list them
TYPES = dict((cls.type, cls) for cls in (FileSink, VaultFileSink, TasksSink, VaultKvSink,
                                         AwsSecretsManagerSink, GitHubSecretSink,
                                         TfeVariableSink))

__all__ = ('Sink', 'SinkError', 'TYPES', 'make_sink')


def make_sink(raw, where, label, provider, default_variable):
    """The :class:`~.base.Sink` that the ``deliver`` element ``raw`` names, its options checked
    (``where`` is its option path, ``rotate_tokens[label].deliver[N]``); raises
    :class:`SinkError` naming the option."""
    if not isinstance(raw, dict):
        raise SinkError('%s: must be a dictionary with a type' % where)
    kind = raw.get('type')
    if kind not in TYPES:
        raise SinkError('%s.type: must be one of %s, got %r' % (where, ', '.join(TYPES), kind))
    cls = TYPES[kind]
    unknown = sorted(set(raw) - set(cls.OPTIONS))
    if unknown:
        raise SinkError('%s: unsupported option(s) %s for a %s sink; supported: %s'
                        % (where, ', '.join(unknown), kind, ', '.join(cls.OPTIONS)))
    return cls(cls.check_options(raw, where, default_variable), where, label, provider)

# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""The ``vault_file`` sink: a ``file`` sink whose content is encrypted with Ansible's vault
(``ansible-vault view --vault-password-file F path`` prints it)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.tokenops.tokens.plugins.module_utils import _safe_path as safe_path
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.base import SinkError
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks.file import (
    FileSink, check_path,
)


def _first_line(exc):
    text = str(getattr(exc, 'message', None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class VaultFileSink(FileSink):
    """A file encrypted with the vault password of ``vault_password_file``."""

    type = 'vault_file'
    OPTIONS = FileSink.OPTIONS + ('vault_password_file', 'vault_id')

    @classmethod
    def check_options(cls, raw, where, default_variable):
        checked = super(VaultFileSink, cls).check_options(raw, where, default_variable)
        checked['vault_password_file'] = check_path(raw.get('vault_password_file'),
                                                    where + '.vault_password_file')
        checked['vault_id'] = raw.get('vault_id') or 'default'
        return checked

    def _vault(self):
        """``(VaultLib, VaultSecret)`` of the password file.

        Read as ansible-vault reads ``--vault-password-file``: a plain file holds the password,
        an executable is run and prints it (a client script gets the vault id).
        """
        from ansible.errors import AnsibleError
        from ansible.parsing.dataloader import DataLoader
        from ansible.parsing.vault import VaultLib, get_file_vault_secret
        password_file, vault_id = self.options['vault_password_file'], self.options['vault_id']
        try:
            secret = get_file_vault_secret(filename=password_file, vault_id=vault_id,
                                           loader=DataLoader())
            secret.load()
        except (AnsibleError, IOError, OSError) as exc:
            raise SinkError('vault_password_file %s cannot be read: %s'
                            % (password_file, _first_line(exc)))
        if not secret.bytes:
            raise SinkError('vault_password_file %s is empty' % password_file)
        return VaultLib([(vault_id, secret)]), secret

    def _check_writable(self):
        """As a file, and the password works and opens the file it replaces when that is a
        vault."""
        super(VaultFileSink, self)._check_writable()
        from ansible.errors import AnsibleError
        from ansible.parsing.vault import is_encrypted
        vault = self._vault()[0]
        try:
            existing = safe_path.read_file(self._directory(), self.name, self.path,
                                           owner_only=False)
        except (safe_path.UnsafePath, IOError, OSError):
            return
        if existing and is_encrypted(existing):
            try:
                vault.decrypt(existing)
            except AnsibleError:
                raise SinkError('the password in vault_password_file %s does not open the '
                                'existing vault file' % self.options['vault_password_file'])

    def encode(self, text):
        vault, secret = self._vault()
        vault_id = self.options['vault_id'] if self.options['vault_id'] != 'default' else None
        return vault.encrypt(text, secret, vault_id=vault_id)

    def decode(self, data):
        return self._vault()[0].decrypt(data)

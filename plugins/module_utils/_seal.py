# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""Sealing: a module's secrets never leave it in plaintext.

The action plugin (``plugin_utils/_secret_action.py``) draws a fresh random key for every task
and hands it to the module in the ``no_log`` option ``seal_key``. Before the module prints its
result, :func:`seal_result` replaces every secret in it with a sealed text; the action plugin,
back on the controller, turns it into plaintext again with :func:`unseal_result`. So the module's
raw output (``ANSIBLE_DEBUG``, kept remote files, async job files) holds only sealed texts,
and the key itself never leaves the task: ansible-core hides ``no_log`` options, and
``AnsibleModule`` masks their values in any output.

The seal is encrypt-then-MAC from the standard library only (targets may lack ``cryptography``):
a keystream of HMAC-SHA256 blocks over a random 16-byte nonce and a counter, XORed with the
secret, then an HMAC-SHA256 tag over nonce and ciphertext. Encryption and MAC keys are derived
from the 32-byte task key with distinct labels. A sealed text that was changed or sealed with
another key does not open.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib
import hmac
import os
import struct

#: what every sealed text starts with
PREFIX = 'tokenops-sealed:v1:'
KEY_BYTES = 32
NONCE_BYTES = 16
TAG_BYTES = 32


class SealError(Exception):
    """A sealed text that does not open with the task's key."""


def new_key():
    """A fresh random key for one task, as text (it travels as a module option)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode('ascii')


def _keys(key_text):
    try:
        key = base64.b64decode(key_text.encode('ascii'))
    except (ValueError, TypeError, UnicodeError):
        raise SealError('seal_key: not a key issued by the action plugin')
    if len(key) != KEY_BYTES:
        raise SealError('seal_key: not a key issued by the action plugin')
    return (hmac.new(key, b'tokenops seal: encryption', hashlib.sha256).digest(),
            hmac.new(key, b'tokenops seal: authentication', hashlib.sha256).digest())


def _keystream(key, nonce, length):
    blocks = []
    for counter in range((length + 31) // 32):
        blocks.append(hmac.new(key, nonce + struct.pack('>Q', counter), hashlib.sha256).digest())
    return b''.join(blocks)[:length]


def _xor(data, stream):
    return bytes(bytearray(a ^ b for a, b in zip(bytearray(data), bytearray(stream))))


def seal(key_text, text):
    """``text`` sealed with the task key: ``PREFIX`` and base64 of nonce, ciphertext and tag."""
    enc_key, mac_key = _keys(key_text)
    data = text.encode('utf-8')
    nonce = os.urandom(NONCE_BYTES)
    body = _xor(data, _keystream(enc_key, nonce, len(data)))
    tag = hmac.new(mac_key, nonce + body, hashlib.sha256).digest()
    return PREFIX + base64.b64encode(nonce + body + tag).decode('ascii')


def is_sealed(value):
    return isinstance(value, str) and value.startswith(PREFIX)


def unseal(key_text, sealed):
    """The plaintext of ``sealed``; raises ``SealError`` if it was not sealed with this key."""
    enc_key, mac_key = _keys(key_text)
    try:
        raw = base64.b64decode(sealed[len(PREFIX):].encode('ascii'))
    except (ValueError, TypeError, UnicodeError):
        raise SealError('a sealed secret is damaged')
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise SealError('a sealed secret is damaged')
    nonce, body, tag = raw[:NONCE_BYTES], raw[NONCE_BYTES:-TAG_BYTES], raw[-TAG_BYTES:]
    if not hmac.compare_digest(tag, hmac.new(mac_key, nonce + body, hashlib.sha256).digest()):
        raise SealError('a sealed secret does not open with this task\'s key')
    data = _xor(body, _keystream(enc_key, nonce, len(body)))
    return data.decode('utf-8')


def _secret_holders(result):
    """Every dict of ``result`` that may hold a ``secret``: the result and its ``tokens``."""
    holders = [result]
    holders.extend(item for item in result.get('tokens') or [] if isinstance(item, dict))
    return holders


def seal_result(result, key_text):
    """``result`` with every secret sealed (in place); unchanged without a key."""
    if key_text:
        for holder in _secret_holders(result):
            if isinstance(holder.get('secret'), str):
                holder['secret'] = seal(key_text, holder['secret'])
    return result


def unseal_result(result, key_text):
    """``result`` with every sealed secret opened (in place)."""
    for holder in _secret_holders(result):
        if is_sealed(holder.get('secret')):
            holder['secret'] = unseal(key_text, holder['secret'])
    return result


def carries_secret(result):
    """True when a module result holds a secret, sealed or not."""
    return any(holder.get('secret') is not None for holder in _secret_holders(result))

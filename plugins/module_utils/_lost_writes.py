# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to tokenops.tokens and may change without notice.

"""A write whose answer was lost: when a look at what it did can be trusted.

A create, regenerate, rekey or roll that fails without a clear answer (``AmbiguousWriteError``)
may have acted. Every adapter looks (lists, reads) before it writes again, and writes again
only when the look shows that nothing happened. The look says so only once the server is done
with the lost request. It is when the server answered (a 5xx, an unreadable body) or closed the
connection. It is not when the client gave up waiting (a timeout, or a gateway's 504 or 524 for
a backend that had not answered): the server may still be at work, and what it does after the
look is a token nobody holds the secret of next to the one the run issues again, or, in place,
a regenerate that ends the secret the run has just delivered.

So after a write that may still be acting, the look waits :data:`SETTLE` times the client's
``timeout``: the server is given twice as long again as the client waited for it. A server
still busy after that is taken as having dropped the request; what it does later is left to
the next run (the rotation role's journal keeps a rotation whose issue failed open, and the
next run deletes the tokens of the identity that appeared since).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

#: how many times the client's timeout a look waits after a write the server may still act on
SETTLE = 2
#: a gateway's answer that it gave up waiting for the server behind it, which may still act:
#: 504 Gateway Timeout (RFC 9110, 15.6.5), and Cloudflare's 524 "A timeout occurred" (the
#: connection to the origin was made, but the origin did not answer in time)
GATEWAY_GAVE_UP = (504, 524)


def may_still_act(exc):
    """Whether the server may still be acting on the write that failed with ``exc``: the client
    gave up waiting (no HTTP answer within ``timeout``: the client's ``timed_out``) or a gateway
    did (504, 524)."""
    flag = getattr(exc, 'timed_out', None)
    if flag is not None:
        return bool(flag)
    return getattr(exc, 'status', None) in GATEWAY_GAVE_UP


def settle_time(client):
    """Seconds to wait before looking after a write the server may still act on."""
    timeout = getattr(client, 'timeout', None)
    return SETTLE * float(timeout) if isinstance(timeout, (int, float)) else 0.0


def settle(client, exc, sleep=time.sleep):
    """Before the look that decides what the lost write of ``exc`` did: wait until the server
    can be taken as done with it (nothing when it answered or closed the connection). Returns
    the seconds waited."""
    if not may_still_act(exc):
        return 0.0
    wait = settle_time(client)
    if wait > 0:
        sleep(wait)
    return wait

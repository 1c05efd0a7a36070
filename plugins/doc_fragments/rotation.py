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
  secret_dest:
    description:
      - A file on the target host to which the module writes the secret it returns (a newly issued one,
        or where the platform lets it be read, the current one), followed by a newline.
      - Written atomically (a temporary file beside it, renamed over it), created with O(secret_mode)
        before the secret is written. A file it replaces keeps its owner and group, unless the
        directory is one that other users can write (group or world writable, sticky or not, or
        another user's own directory).
      - In a directory that other users can write, a file that another user owns is never inherited,
        since whoever created it could read the secret. The module refuses such a file (before any
        request) unless O(secret_owner) says whose the new file is. This is stricter than
        M(ansible.builtin.copy), which keeps a replaced file's owner, because the content is a
        secret.
      - The directory is resolved once, before any request, and the file is written relative to it;
        a symbolic link on the way that belongs to another user than root and the module's user is
        refused, since it may point anywhere.
      - Checked before any request, so a secret is never issued into a file that cannot be written.
      - This is how an ad-hoc call keeps the secret, for example
        C(ansible host -m tokenops.tokens.pulumi_token -a "description=ci rotate=always secret_dest=/etc/ci/token").
      - In check mode nothing is written.
    type: path
  secret_mode:
    description:
      - The mode of the O(secret_dest) file, as for M(ansible.builtin.copy)'s O(ansible.builtin.copy#module:mode)
        a quoted octal string such as V('0640'), or a number (an unquoted V(0640) is read by YAML as
        the number 416, which is that same mode). The owner must be able to read the file.
    type: raw
    default: '0600'
  secret_owner:
    description:
      - The user (name or number) that the O(secret_dest) file belongs to. Giving another user's
        needs the module to run as root.
      - Needed to replace a file of another user in a directory that other users can write.
    type: str
    version_added: 1.1.0
  secret_group:
    description:
      - The group (name or number) of the O(secret_dest) file.
    type: str
    version_added: 1.1.0
  allow_secret_loss:
    description:
      - The collection hides every result that carries a secret from all output. A call that may issue
        a secret in a task that neither registers its result nor sets O(secret_dest) (every ad-hoc call
        without O(secret_dest)) would therefore lose it for good, and is refused before any request.
      - Set to V(true) to run such a call anyway.
    type: bool
    default: false
notes:
  - "The collection hides every result that carries a secret from all output (any verbosity,
    C(--diff), C(ANSIBLE_LOG_PATH), C(ANSIBLE_DEBUG), ansible-runner events and artifacts), and
    says so in the run's output at C(-v). To use the secret, C(register) the result and pass
    C(result.secret) on (to a task with C(no_log: true)), or set O(secret_dest)."
  - "A failed result never carries a secret, whether the module failed or the task's C(failed_when)
    failed it, so that C(ansible_failed_result) and error handlers never see one."
  - "After issuing a secret, the module asks the platform once more whether that secret works (the
    request the module's own credential check uses), before it returns the secret or writes
    O(secret_dest): a secret that another run (a second playbook or job over the same token)
    replaced meanwhile fails the task, and O(secret_dest) keeps what it held."
  - "What stays your own act: printing a registered secret yourself. C(debug: var=result), or a task
    given C(result.secret) without C(no_log: true), prints what it is given."
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

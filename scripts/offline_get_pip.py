# -*- coding: utf-8 -*-
# Copyright (c) tokenops.tokens contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline stand-in for the get-pip.py that ansible-test downloads from a host we cannot reach.

ansible-test runs it inside a fresh virtualenv with the packages to install as arguments
(for example ``pip==25.2 --no-setuptools --no-wheel``). We bootstrap the pip bundled with
Python (ensurepip), then let that pip install the pinned version from the package index.
"""
import subprocess
import sys

IGNORED = ('--no-setuptools', '--no-wheel')

# In a child process: ensurepip turns pip's configuration off (PIP_CONFIG_FILE=/dev/null) in the
# environment of the process that calls it, and the install below needs that configuration.
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--upgrade'], stdout=subprocess.DEVNULL)
args = [arg for arg in sys.argv[1:] if arg not in IGNORED]
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install', '--quiet'] + args))

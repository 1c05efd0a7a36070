"""A second local user on the controller, and a directory everyone shares (issue 23).

Tests that play another local user create one (``useradd``), run that user's steps as that user
(``setpriv``), and remove it afterwards; they need root, and skip, saying so, without it. The
fixtures ``other_user`` and ``world_dir`` (``tests/functional/conftest.py``) use these.
"""
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass

import pytest

SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin") or sys.executable


@dataclass
class LocalUser:
    name: str
    uid: int
    gid: int

    def command(self, argv):
        """``argv`` run as this user, with no supplementary groups."""
        return ["setpriv", "--reuid=%d" % self.uid, "--regid=%d" % self.gid, "--clear-groups",
                "--"] + list(argv)

    def run(self, argv, **kwargs):
        return subprocess.run(self.command(argv), check=True, capture_output=True, text=True,
                              timeout=60, **kwargs)

    def python(self, code, *args, popen=False):
        """Python ``code`` (dedented) run as this user with ``args`` in ``sys.argv[1:]``."""
        argv = [SYSTEM_PYTHON, "-c", textwrap.dedent(code)] + [str(a) for a in args]
        if popen:
            return subprocess.Popen(self.command(argv), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
        return self.run(argv)


def need_root():
    if os.geteuid() != 0:
        pytest.skip("needs root: plays a second local user (useradd, setpriv) against a run of "
                    "root")
    for tool in ("useradd", "userdel", "setpriv"):
        if shutil.which(tool) is None:
            pytest.skip("needs %s to play a second local user" % tool)


def make_other_user():
    """A second local user, created for this test and removed after it."""
    need_root()
    name = "tkops%d" % os.getpid()
    subprocess.run(["userdel", name], capture_output=True, check=False)
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    "--user-group", name], check=True, capture_output=True)
    try:
        entry = pwd.getpwnam(name)
        yield LocalUser(name, entry.pw_uid, entry.pw_gid)
    finally:
        subprocess.run(["userdel", name], capture_output=True, check=False)


def make_world_dir():
    """A directory like ``/tmp`` (root's, mode 1777) that every local user can reach; the test's
    own ``tmp_path`` is private to root."""
    need_root()
    path = tempfile.mkdtemp(prefix="tokenops-shared-", dir="/tmp")
    os.chmod(path, 0o1777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)

"""Sinks are checked before anything is issued, and keep their file's owner, group and mode
(issue 16)."""
import os
import stat

import pytest

from ansible_collections.tokenops.tokens.plugins.module_utils._safe_path import (
    private_directory,
)
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_protocol import deliver
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks import SinkError, make_sink

SECRET = "pul-0123456789abcdef0123456789abcdef01234567"
NOBODY = 65534


def checked(**sink):
    return make_sink(dict(sink), "rotate_tokens[x].deliver[0]", "x", "pulumi",
                     "PULUMI_ACCESS_TOKEN")


@pytest.mark.parametrize("make, why", [
    (lambda tmp: checked(type="file", path=str(tmp / "missing" / "s")), "does not exist"),
    (lambda tmp: checked(type="file", path=str(tmp / "blocker" / "s")), "is not a directory"),
    (lambda tmp: checked(type="file", path=str(tmp)), "is a directory"),
    (lambda tmp: checked(type="vault_file", path=str(tmp / "v"),
                         vault_password_file=str(tmp / "nope")), "cannot be read"),
    (lambda tmp: checked(type="vault_file", path=str(tmp / "v"),
                         vault_password_file=str(tmp / "empty")), "Invalid vault password"),
    (lambda tmp: checked(type="vault_file", path=str(tmp / "v"),
                         vault_password_file=str(tmp / "failing.sh")), "cannot be read"),
    (lambda tmp: checked(type="tasks", file=str(tmp / "deliver.yml")), "task file does not"),
    (lambda tmp: checked(type="tasks", file=str(tmp / "broken.yml")), "not valid YAML"),
    (lambda tmp: checked(type="tasks", file=str(tmp / "mapping.yml")), "list of tasks"),
])
def test_a_sink_that_cannot_take_a_secret_fails_its_check(tmp_path, make, why):
    (tmp_path / "blocker").write_text("")
    (tmp_path / "empty").write_text("\n")
    (tmp_path / "failing.sh").write_text("#!/bin/sh\nexit 3\n")
    (tmp_path / "failing.sh").chmod(0o700)
    (tmp_path / "broken.yml").write_text("- name: a typo\n  copy: {content: x\n")
    (tmp_path / "mapping.yml").write_text("name: not a list\n")
    with pytest.raises(SinkError, match=why):
        make(tmp_path).preflight()


def test_a_vault_password_that_does_not_open_the_replaced_vault_fails(tmp_path):
    right, wrong = tmp_path / "right", tmp_path / "wrong"
    right.write_text("right password\n")
    wrong.write_text("wrong password\n")
    vault = tmp_path / "secret.vault"
    sink = checked(type="vault_file", path=str(vault), vault_password_file=str(right))
    deliver([sink], SECRET, {"id": "t"})
    sink.preflight()
    assert sink.read_back() == SECRET
    with pytest.raises(SinkError, match="does not open the existing vault file"):
        checked(type="vault_file", path=str(vault), vault_password_file=str(wrong)).preflight()


def test_an_executable_vault_password_file_is_run_as_ansible_vault_runs_it(tmp_path):
    script = tmp_path / "password.sh"
    script.write_text("#!/bin/sh\necho from-script\n")
    script.chmod(0o700)
    sink = checked(type="vault_file", path=str(tmp_path / "secret.vault"),
                   vault_password_file=str(script))
    sink.preflight()
    deliver([sink], SECRET, {"id": "t"})
    plain = tmp_path / "plain"
    plain.write_text("from-script\n")
    assert checked(type="vault_file", path=str(tmp_path / "secret.vault"),
                   vault_password_file=str(plain)).read_back() == SECRET


def test_the_replaced_file_keeps_owner_group_and_mode_unless_told(tmp_path):
    target = tmp_path / "consumer"
    target.write_text("old")
    os.chown(target, NOBODY, NOBODY)
    target.chmod(0o440)
    deliver([checked(type="file", path=str(target))], SECRET, {})
    info = os.stat(target)
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (NOBODY, NOBODY, 0o440)
    deliver([checked(type="file", path=str(target), owner="0", group=0, mode="0600")],
            SECRET, {})
    info = os.stat(target)
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, 0, 0o600)
    new = tmp_path / "new"
    deliver([checked(type="file", path=str(new))], SECRET, {})
    assert stat.S_IMODE(os.stat(new).st_mode) == 0o600


def test_an_unknown_owner_is_an_input_error():
    with pytest.raises(SinkError, match="owner: 'no-such-user' does not exist"):
        checked(type="file", path="/tmp/x", owner="no-such-user")


def test_private_directories_whatever_the_umask(tmp_path):
    previous = os.umask(0)
    try:
        os.close(private_directory(str(tmp_path / "a" / "b" / "c"), "rotate_state_dir"))
    finally:
        os.umask(previous)
    for path in ("a", "a/b", "a/b/c"):
        assert stat.S_IMODE(os.stat(tmp_path / path).st_mode) == 0o700, path

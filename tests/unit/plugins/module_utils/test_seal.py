"""The seal between a module and its action plugin, and the secret_dest file (issue 14)."""
import os
import stat

import pytest

from ansible_collections.tokenops.tokens.plugins.module_utils import _seal as seal
from ansible_collections.tokenops.tokens.plugins.module_utils import _secret_file as secret_file
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import InputError

SECRET = "pul-0123456789abcdef0123456789abcdef01234567"


def test_a_sealed_result_holds_no_plaintext_and_opens_with_its_key():
    key = seal.new_key()
    result = {"secret": SECRET, "token": {"id": "t1"},
              "tokens": [{"id": "a", "secret": "ro-" + SECRET}, {"id": "b"}]}
    sealed = seal.seal_result(dict(result, tokens=[dict(t) for t in result["tokens"]]), key)
    text = repr(sealed)
    assert SECRET not in text and key not in text
    assert sealed["secret"].startswith(seal.PREFIX)
    assert sealed["tokens"][0]["secret"].startswith(seal.PREFIX)
    assert seal.unseal_result(sealed, key) == result


def test_two_seals_of_one_secret_differ():
    key = seal.new_key()
    assert seal.seal(key, SECRET) != seal.seal(key, SECRET)


def test_another_key_or_a_changed_text_does_not_open():
    key, other = seal.new_key(), seal.new_key()
    sealed = seal.seal(key, SECRET)
    with pytest.raises(seal.SealError):
        seal.unseal(other, sealed)
    body = sealed[len(seal.PREFIX):]
    flipped = seal.PREFIX + body[:30] + ("A" if body[30] != "A" else "B") + body[31:]
    with pytest.raises(seal.SealError):
        seal.unseal(key, flipped)
    with pytest.raises(seal.SealError):
        seal.unseal("not a key", sealed)


def test_without_a_key_the_result_is_unchanged():
    assert seal.seal_result({"secret": SECRET}, None) == {"secret": SECRET}


def test_secret_dest_is_checked_before_any_request(tmp_path):
    assert secret_file.preflight({"secret_dest": None}) is None
    dest = secret_file.preflight({"secret_dest": str(tmp_path / "t"), "secret_mode": "0640"})
    assert (dest.path, dest.mode, dest.shared) == (str(tmp_path / "t"), 0o640, False)
    dest.close()
    for params, words in [({"secret_dest": str(tmp_path)}, "is a directory"),
                          ({"secret_dest": str(tmp_path / "no" / "t")}, "does not exist"),
                          ({"secret_dest": "relative/t"}, "absolute path"),
                          ({"secret_dest": str(tmp_path / "t"), "secret_mode": "rw"}, "file mode"),
                          ({"secret_dest": str(tmp_path / "t"), "secret_mode": "9999"}, "file mode"),
                          ({"secret_dest": str(tmp_path / "t"), "secret_mode": "0089"}, "file mode"),
                          ({"secret_dest": str(tmp_path / "t"), "secret_mode": True}, "file mode"),
                          ({"secret_dest": str(tmp_path / "t"), "secret_mode": "0200"}, "unable to read")]:
        with pytest.raises(InputError, match=words):
            secret_file.preflight(params)


def test_secret_mode_reads_a_number_as_the_mode_itself_as_copy_does():
    # YAML reads an unquoted 0640 as the number 416: that number is the mode 0640, not 0416.
    assert secret_file.checked_mode(416) == 0o640
    assert secret_file.checked_mode(0o400) == 0o400
    assert secret_file.checked_mode("0640") == 0o640
    assert secret_file.checked_mode("640") == 0o640


def test_secret_dest_is_written_private_whole_and_keeps_the_owner(tmp_path, monkeypatch):
    target = tmp_path / "token"
    target.write_text("old\n")
    target.chmod(0o644)
    if os.geteuid() == 0:
        os.chown(target, 4321, 4322)
    seen = []
    real_rename = os.replace

    def rename(src, dst, src_dir_fd=None, dst_dir_fd=None):
        info = os.stat(src, dir_fd=src_dir_fd)
        with open(os.open(src, os.O_RDONLY, dir_fd=src_dir_fd)) as handle:
            seen.append((stat.S_IMODE(info.st_mode), handle.read()))
        return real_rename(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
    monkeypatch.setattr(os, "replace", rename)
    dest = secret_file.preflight({"secret_dest": str(target), "secret_mode": 0o600})
    assert dest.write(SECRET) is True
    assert seen == [(0o600, SECRET + "\n")], "whole and private before it appears"
    info = os.stat(target)
    assert stat.S_IMODE(info.st_mode) == 0o600 and target.read_text() == SECRET + "\n"
    if os.geteuid() == 0:
        assert (info.st_uid, info.st_gid) == (4321, 4322)
    assert dest.write(SECRET) is False, "unchanged: no write"
    dest.close()
    assert [p.name for p in tmp_path.iterdir()] == ["token"]

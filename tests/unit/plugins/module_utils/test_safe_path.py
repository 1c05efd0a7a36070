"""Paths on a shared host (issue 23): links, other users' directories, files never through a link."""
import errno
import os
import stat

import pytest

from ansible_collections.tokenops.tokens.plugins.module_utils import _safe_path as safe_path

NOBODY = 65534


def entries(fd):
    return sorted(os.listdir(fd))


def test_missing_directories_are_made_private_whatever_the_umask(tmp_path):
    previous = os.umask(0)
    try:
        fd = safe_path.private_directory(str(tmp_path / "a" / "b"), "rotate_state_dir")
    finally:
        os.umask(previous)
    os.close(fd)
    for path in (tmp_path / "a", tmp_path / "a" / "b"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700


@pytest.mark.parametrize("mode", [0o1777, 0o777, 0o770, 0o730, 0o1730])
def test_a_directory_others_can_write_is_refused_sticky_or_not(tmp_path, mode):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    with pytest.raises(safe_path.UnsafePath) as raised:
        safe_path.private_directory(str(shared), "rotate_state_dir")
    assert str(raised.value).startswith("rotate_state_dir: %s is owned by %s, mode %04o"
                                        % (shared, safe_path.user_name(os.geteuid()), mode))


def test_a_directory_of_another_user_is_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to give a directory to another user")
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, NOBODY, NOBODY)
    with pytest.raises(safe_path.UnsafePath, match="is owned by nobody, mode 0700"):
        safe_path.private_directory(str(theirs), "rotate_report_dir")


def test_links_of_the_run_user_are_followed_and_others_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (real / "inner").mkdir(mode=0o700)
    (tmp_path / "absolute").symlink_to(real)
    (real / "relative").symlink_to("inner")
    (real / "up").symlink_to("../real/inner")
    for path in (tmp_path / "absolute" / "inner", real / "relative", tmp_path / "absolute" / "up"):
        fd = safe_path.private_directory(str(path), "rotate_state_dir", create=False)
        assert os.fstat(fd).st_ino == (real / "inner").stat().st_ino
        os.close(fd)
    if os.geteuid() != 0:
        return
    planted = tmp_path / "planted"
    planted.symlink_to(real)
    os.chown(planted, NOBODY, NOBODY, follow_symlinks=False)
    with pytest.raises(safe_path.UnsafePath,
                       match="%s is a symbolic link of user nobody" % planted):
        safe_path.open_directory(str(planted / "inner"))


def test_a_loop_of_links_ends(tmp_path):
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(OSError) as raised:
        safe_path.open_directory(str(tmp_path / "a"))
    assert raised.value.errno == errno.ELOOP


def test_a_file_on_the_way_is_named(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError) as raised:
        safe_path.open_directory(str(tmp_path / "file" / "below"), create=True)
    assert raised.value.errno == errno.ENOTDIR and raised.value.filename == str(tmp_path / "file")


def test_files_are_never_read_or_written_through_a_link(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("kept\n")
    state = tmp_path / "state"
    fd = safe_path.private_directory(str(state), "rotate_state_dir")
    try:
        os.symlink(str(victim), "journal.json", dir_fd=fd)
        with pytest.raises(safe_path.UnsafePath, match="is a symbolic link"):
            safe_path.read_file(fd, "journal.json", str(state / "journal.json"))
        safe_path.write_file(fd, "journal.json", "new\n", str(state / "journal.json"))
        assert victim.read_text() == "kept\n"
        assert (state / "journal.json").read_text() == "new\n"
        assert not (state / "journal.json").is_symlink()
        assert stat.S_IMODE((state / "journal.json").stat().st_mode) == 0o600
        assert entries(fd) == ["journal.json"]
        os.mkfifo("fifo", dir_fd=fd)
        with pytest.raises(safe_path.UnsafePath, match="not a regular file"):
            safe_path.read_file(fd, "fifo", "fifo")
    finally:
        os.close(fd)


def test_a_file_of_another_user_is_not_read(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root to give a file to another user")
    (tmp_path / "journal.json").write_text("{}")
    os.chown(tmp_path / "journal.json", NOBODY, NOBODY)
    fd = os.open(str(tmp_path), os.O_RDONLY)
    try:
        with pytest.raises(safe_path.UnsafePath, match="belongs to nobody, not to root"):
            safe_path.read_file(fd, "journal.json", "journal.json")
    finally:
        os.close(fd)


def test_a_write_that_fails_names_the_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    fd = safe_path.private_directory(str(tmp_path / "state"), "rotate_state_dir")

    def full(fd_, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    try:
        monkeypatch.setattr(os, "write", full)
        with pytest.raises(OSError) as raised:
            safe_path.write_file(fd, "journal.json", "x", "/state/journal.json")
        monkeypatch.undo()
        assert raised.value.errno == errno.ENOSPC
        assert raised.value.filename == "/state/journal.json"
        assert entries(fd) == []
    finally:
        os.close(fd)


def test_a_staged_file_is_renamed_in_the_directory_it_was_written_in(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    fd = safe_path.open_directory(str(first))
    try:
        staged = safe_path.stage(fd, "secret", "s3cret", str(first / "secret"), mode=0o640)
    finally:
        os.close(fd)
    # The path is swapped after the directory was resolved: the rename still lands in it.
    first.rename(second)
    first.mkdir()
    staged.commit()
    assert (second / "secret").read_text() == "s3cret"
    assert stat.S_IMODE((second / "secret").stat().st_mode) == 0o640
    assert list(first.iterdir()) == []

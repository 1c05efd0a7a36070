"""Sink files never exist with wider permissions than asked, nor with partial content."""
import os
import stat

import pytest

from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_protocol import deliver
from ansible_collections.tokenops.tokens.plugins.plugin_utils._sinks import SinkError, make_sink

SECRET = "pul-0123456789abcdef0123456789abcdef01234567"


def sink(path, mode=0o600, fmt="raw"):
    return make_sink({"type": "file", "path": str(path), "mode": mode, "format": fmt},
                     "rotate_tokens[label].deliver[0]", "label", "pulumi", "PULUMI_ACCESS_TOKEN")


@pytest.mark.parametrize("mode", [0o600, 0o400, 0o640])
def test_the_secret_is_written_while_private_and_renamed_whole(tmp_path, monkeypatch, mode):
    target = tmp_path / "consumer"
    target.write_text("old secret")
    target.chmod(0o600)
    seen = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode):
            seen.append(("written", stat.S_IMODE(info.st_mode)))
        return real_fsync(fd)

    def replace(source, destination, src_dir_fd=None, dst_dir_fd=None):
        def text(name, dir_fd):
            with open(os.open(name, os.O_RDONLY, dir_fd=dir_fd)) as handle:
                return handle.read()
        seen.append(("renamed", stat.S_IMODE(os.stat(source, dir_fd=src_dir_fd).st_mode),
                     text(source, src_dir_fd), text(destination, dst_dir_fd)))
        return real_replace(source, destination, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    delivered = deliver([sink(target, mode)], SECRET, {"id": "t"})
    assert delivered == ["file:%s" % target]
    assert seen[0] == ("written", 0o600), "the secret was written to a file others could read"
    assert seen[-1] == ("renamed", mode, SECRET, "old secret"), seen
    assert target.read_text() == SECRET and stat.S_IMODE(target.stat().st_mode) == mode
    assert [p.name for p in tmp_path.iterdir()] == ["consumer"], "a temporary file was left"


def test_one_sink_that_cannot_be_written_leaves_every_sink_as_it_was(tmp_path):
    good = tmp_path / "good"
    good.write_text("old secret")
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(SinkError, match="cannot be written"):
        deliver([sink(good), sink(blocker / "sink")], SECRET, {"id": "t"})
    assert good.read_text() == "old secret"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good", "not-a-directory"]

"""Fixtures of the functional tests: a second local user and a directory everyone shares."""
import pytest

from tests.functional.shared_host import make_other_user, make_world_dir


@pytest.fixture
def other_user():
    """A second local user, created for this test and removed after it (needs root)."""
    yield from make_other_user()


@pytest.fixture
def world_dir():
    """A directory like /tmp (root's, mode 1777) that every local user can reach."""
    yield from make_world_dir()

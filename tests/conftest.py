"""Fixtures shared by every test: the collection on the import path, and the sandbox.

``ansible-test units`` loads this file too, from a copy of the collection that already sits at
ansible_collections/tokenops/tokens and without the sandbox's dependencies (flask): there,
nothing is linked and the sandbox is imported only by a test that asks for it."""
import os
import pathlib
import subprocess
import sys
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / "build" / "collections"

UNDER_ANSIBLE_TEST = ROOT.parent.parent.name == "ansible_collections"

# Tests import the collection as ansible does (ansible_collections.tokenops.tokens...), through a
# link to this checkout, so what is tested is what is edited.
# Under pytest-xdist this file is loaded by the controller and then by every worker at once: the
# controller makes the link, and a worker that finds it in place leaves it alone (two concurrent
# ``ln -sfn`` of the same link can fail).
LINK = COLLECTIONS / "ansible_collections" / "tokenops" / "tokens"
if not UNDER_ANSIBLE_TEST:
    if not (LINK.is_symlink() and LINK.resolve() == ROOT):
        subprocess.run([str(ROOT / "scripts" / "link_collection.sh")], check=True)
    if str(COLLECTIONS) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS))
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(COLLECTIONS)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "wide: one more output format or variation of a check that the newest "
                   "ansible-core line runs in full; the older line runs a representative subset")
    config.addinivalue_line(
        "markers", "paced: waits for a platform's rate limit most of its time (minutes, little "
                   "CPU) and counts the 429s a sandbox answers; make test runs these first in the "
                   "scheduler's priority")
    config.addinivalue_line(
        "markers", "core: exercises ansible-core's own machinery (output and no_log, callbacks, "
                   "async, ad hoc, roles and argument specs, action and inventory plugins, "
                   "templating, ansible-vault, ansible-runner); every unit test is one too. The "
                   "older ansible-core line runs these; what the platforms and the engine do "
                   "does not depend on the line and runs on the newest")


def pytest_collection_modifyitems(items):
    """Unit tests import ansible-core's module_utils and plugin base classes: each is ``core``."""
    unit = ROOT / "tests" / "unit"
    for item in items:
        if unit in pathlib.Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.core)


@pytest.fixture(scope="session", autouse=True)
def _private_home(tmp_path_factory):
    """A HOME and a TMPDIR of this pytest process's own (one per xdist worker: tmp_path_factory's
    base directory is per worker), so that nothing a test runs (ansible-playbook's ~/.ansible/tmp
    and ~/.ansible_async, the rotate role's default state dir and its lock file, ansible-runner,
    tempfile) shares files with another worker, with a run in another checkout, or with the
    user's own HOME."""
    if UNDER_ANSIBLE_TEST:
        yield
        return
    patch = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("home")
    temp = tmp_path_factory.mktemp("tmp")
    patch.setenv("HOME", str(home))
    patch.setenv("TMPDIR", str(temp))
    patch.setattr(tempfile, "tempdir", None)   # tempfile.gettempdir() reads TMPDIR again
    try:
        yield
    finally:
        patch.undo()
        tempfile.tempdir = None


@pytest.fixture(scope="session", autouse=True)
def _no_process_left(tmp_path_factory):
    """At the end of the session, nothing this pytest process started may still run: a process
    whose command line or working directory is under this session's temporary directory (a
    killed run's worker, a lock holder) is killed, and named on the terminal."""
    yield
    if UNDER_ANSIBLE_TEST:
        return
    from tests.processes import reap  # pylint: disable=import-outside-toplevel
    killed = reap(tmp_path_factory.getbasetemp(), wait=5)
    if killed:
        sys.stderr.write("\ntests left processes behind, now killed: %s\n" % killed)


@pytest.fixture
def sandbox():
    """A fresh, empty sandbox (no demo data) serving all five APIs for one test."""
    from tests.sandbox import Sandbox  # pylint: disable=import-outside-toplevel
    with Sandbox() as running:
        yield running


@pytest.fixture(scope="session")
def openbao(tmp_path_factory):
    """A real OpenBao server (dev mode) for the whole session of this worker; tests keep apart
    by using paths of their own (``tests.stores.unique``)."""
    from tests.stores import OpenBao  # pylint: disable=import-outside-toplevel
    with OpenBao(tmp_path_factory.mktemp("openbao")) as server:
        yield server


@pytest.fixture(scope="session")
def moto(tmp_path_factory):
    """moto's server mode for AWS Secrets Manager, for the whole session of this worker."""
    from tests.stores import Moto  # pylint: disable=import-outside-toplevel
    with Moto(tmp_path_factory.mktemp("moto")) as server:
        yield server

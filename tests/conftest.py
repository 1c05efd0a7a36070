"""Fixtures shared by every test: the collection on the import path, and the sandbox.

``ansible-test units`` loads this file too, from a copy of the collection that already sits at
ansible_collections/tokenops/tokens and without the sandbox's dependencies (flask): there,
nothing is linked and the sandbox is imported only by a test that asks for it."""
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
COLLECTIONS = ROOT / "build" / "collections"

UNDER_ANSIBLE_TEST = ROOT.parent.parent.name == "ansible_collections"

# Tests import the collection as ansible does (ansible_collections.tokenops.tokens...), through a
# link to this checkout, so what is tested is what is edited.
if not UNDER_ANSIBLE_TEST:
    subprocess.run([str(ROOT / "scripts" / "link_collection.sh")], check=True)
    if str(COLLECTIONS) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS))
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(COLLECTIONS)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "wide: one more output format or variation of a check that the newest "
                   "ansible-core line runs in full; the older line runs a representative subset")


@pytest.fixture
def sandbox():
    """A fresh, empty sandbox (no demo data) serving all five APIs for one test."""
    from tests.sandbox import Sandbox  # pylint: disable=import-outside-toplevel
    with Sandbox() as running:
        yield running

"""What a newcomer meets first (issue 26): the sandbox's banner, and the README's first calls
on all five platforms with only the variables of the banner's ``export`` block set."""
import os
import re
import queue
import shlex
import subprocess
import sys
import threading

import pytest

from tests.functional.harness import BIN, ROOT
from tests.sandbox.__main__ import END_LINE, VARIABLES

# ansible-core's own machinery: runs on every supported ansible-core line (tests/conftest.py)
pytestmark = pytest.mark.core

README = ROOT / "README.md"
PLUGINS = ROOT / "plugins"


@pytest.fixture(scope="module")
def banner():
    """``python -m tests.sandbox`` as ``make sandbox`` runs it: its lines up to the last one."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.sandbox"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in proc.stdout],
                     daemon=True).start()
    try:
        seen = []
        while END_LINE not in seen:
            try:
                seen.append(lines.get(timeout=60))
            except queue.Empty:
                pytest.fail("no banner within 60 s: %s %s" % (seen, proc.stderr.read()))
        yield seen
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def exported(lines):
    """The banner's ``export`` block as a shell would set it."""
    values = {}
    for line in lines:
        if line.startswith("export "):
            for word in shlex.split(line[len("export "):]):
                name, _sep, value = word.partition("=")
                values[name] = value
    return values


def variables_the_modules_read():
    """Every environment variable named in the collection's fallbacks and platform table, read
    from the source (not imported, so that this test follows the code)."""
    names = set()
    for path in (PLUGINS / "module_utils").glob("*.py"):
        for group in re.findall(r"env_fallback, \[([^\]]*)\]", path.read_text()):
            names.update(re.findall(r"'([A-Z][A-Z0-9_]*)'", group))
    table = (PLUGINS / "module_utils" / "_platforms.py").read_text()
    names.update(re.findall(r"'([A-Z][A-Z_]+_(?:TOKEN|KEY|URL|ADDRESS))'", table))
    return names


def variables_the_sinks_read():
    """The credential variables of the delivery targets (``TOKEN_ENV`` of a sink)."""
    names = set()
    for path in (PLUGINS / "plugin_utils" / "_sinks").glob("*.py"):
        for group in re.findall(r"TOKEN_ENV = \(([^)]*)\)", path.read_text()):
            names.update(re.findall(r"'([A-Z][A-Z0-9_]*)'", group))
    return names


def test_the_banner_names_the_demo_data_and_exports_every_variable_the_modules_read(banner):
    text = "\n".join(banner)
    for expected in ("organization: tokenops", "teams: owners, platform, ci",
                     "system accounts: ci-publisher, contract-bot", "account: ",
                     "personal tokens: ci-deploy", "organization tokens: ci-org-admin",
                     "service accounts: ci-deployer", "users: ", "alice",
                     "repositories: tokenops/infra"):
        assert expected in text, expected
    values = exported(banner)
    modules, sinks = variables_the_modules_read(), variables_the_sinks_read()
    assert modules <= set(values), (modules - set(values), text)
    assert set(values) - modules <= sinks, text
    assert set(values) & sinks, "no credential for the sinks' stand-in: %s" % text
    for name, (url_variable, token_variable, _others) in VARIABLES.items():
        assert values[url_variable].startswith("http://127.0.0.1:"), name
        assert values[token_variable], name
    assert values["TFE_ORGANIZATION"] == "tokenops"


def readme_first_calls():
    """The ``ansible localhost`` commands of the README's first section, continuations joined."""
    section = README.read_text().split("## A first call", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```console\n(.*?)```", section, re.S)
    calls = []
    for block in blocks:
        for command in block.replace("\\\n", " ").splitlines():
            if command.startswith("ansible localhost "):
                calls.append(command)
    return calls


def test_the_readme_first_calls_work_on_all_five_platforms_with_only_the_exported_variables(
        banner, tmp_path):
    calls = readme_first_calls()
    modules = {re.search(r"-m tokenops\.tokens\.(\w+)", call).group(1) for call in calls}
    assert {m.split("_")[0] for m in modules} == set(VARIABLES), calls
    values = exported(banner)
    # Nothing else of this process's environment: a new user's shell with the export block.
    env = dict(values, HOME=str(tmp_path), PATH="%s:/usr/bin:/bin" % BIN, LANG="C.UTF-8",
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / "build" / "collections"),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-tmp"), ANSIBLE_NOCOLOR="1")
    for call in calls:
        proc = subprocess.run(["bash", "-c", call], cwd=tmp_path, env=env, text=True,
                              capture_output=True, timeout=300, check=False)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, (call, output)
        assert re.search(r"localhost \| (SUCCESS|CHANGED)", output), (call, output)
        # ansible-core's own word on an ad-hoc call without an inventory is the only warning
        warnings = [line for line in output.splitlines() if line.startswith("[WARNING]")
                    and "only implicit localhost is available" not in line]
        assert warnings == [], (call, output)
        if "_info" in call:
            # the demo data, listed
            assert re.search(r'"(tokens|service_accounts)": \[\n', output), (call, output)
        for secret in [values[token] for _url, token, _o in VARIABLES.values()]:
            assert secret not in output, call
    written = (tmp_path / ".first-pulumi-token").read_text()
    assert written.startswith("pul-") and written not in "\n".join(banner)
    assert oct(os.stat(tmp_path / ".first-pulumi-token").st_mode & 0o777) == "0o600"


def test_python_m_tests_sandbox_without_flask_says_how_to_install_it(tmp_path):
    """A Python without the sandbox's requirements: a clear message, not a traceback."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    proc = subprocess.run([str(venv / "bin" / "python"), "-m", "tests.sandbox"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "pip install -r tests/sandbox/requirements.txt" in proc.stderr
    requirements = (ROOT / "tests" / "sandbox" / "requirements.txt").read_text()
    assert re.search(r"^flask==", requirements, re.M)

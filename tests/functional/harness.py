"""Run real ``ansible-playbook`` and ad-hoc ``ansible`` against the sandbox, and read results.

Registered results reach the test through a file written by a last ``no_log`` task (a test-only
action, ``action_plugins/hand_over.py``); everything Ansible printed is kept for leak checks.
"""
import json
import os
import pathlib
import subprocess
import sys
from dataclasses import dataclass, field

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
HAND_OVER = pathlib.Path(__file__).parent / "action_plugins" / "hand_over.py"


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    results: dict = field(default_factory=dict)
    log: str = ""
    #: the largest resident set of any process of the run, in MiB (``measure_memory=True``)
    peak_mib: float | None = None

    @property
    def output(self):
        """Everything Ansible wrote: stdout, stderr and the log file."""
        return self.stdout + self.stderr + self.log

    def __getitem__(self, name):
        return self.results[name]


def ansible_env(tmp_path, extra=None):
    env = dict(os.environ)
    env.update({
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / "build" / "collections"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOG_PATH": str(tmp_path / "ansible.log"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_PYTHON_INTERPRETER": sys.executable,
        "ANSIBLE_STDOUT_CALLBACK": "default",
        "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    })
    for name in ("TFE_TOKEN", "CLOUDFLARE_API_TOKEN", "PULUMI_ACCESS_TOKEN", "CLOUDTRUTH_API_KEY",
                 "PACT_BROKER_TOKEN", "TFE_ADDRESS", "CLOUDFLARE_BASE_URL", "PULUMI_BACKEND_URL",
                 "CLOUDTRUTH_SERVER_URL", "PACT_BROKER_BASE_URL", "TFE_ORGANIZATION"):
        env.pop(name, None)
    env.update(extra or {})
    return env


def _registered_names(tasks):
    names = []
    for task in tasks:
        if "register" in task:
            names.append(task["register"])
        for nested in ("block", "rescue", "always"):
            names.extend(_registered_names(task.get(nested, [])))
    return names


CREDENTIAL_KEYS = ("api_token",)


def lift_credentials(node, found):
    """Replace literal credentials in tasks by variables whose values go to a vars file.

    Users keep credentials out of playbook text (vault, vars files, AWX credentials), and so do
    the tests: ansible-core 2.19+ quotes the playbook lines around a failed task in its error
    message, so a literal credential there would be printed by ansible-core itself.
    """
    if isinstance(node, list):
        return [lift_credentials(item, found) for item in node]
    if not isinstance(node, dict):
        return node
    lifted = {}
    for key, value in node.items():
        if key in CREDENTIAL_KEYS and isinstance(value, str) and "{{" not in value:
            name = "tokenops_test_credential_%d" % len(found)
            found[name] = value
            lifted[key] = "{{ %s }}" % name
        else:
            lifted[key] = lift_credentials(value, found)
    return lifted


#: runs a command and writes the peak resident set (KiB) of its process tree to argv[1]:
#: RUSAGE_CHILDREN's ru_maxrss is the largest of every descendant reaped, workers included
_MEASURED = ("import resource, subprocess, sys\n"
             "rc = subprocess.run(sys.argv[2:]).returncode\n"
             "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN)"
             ".ru_maxrss))\n"
             "sys.exit(rc)\n")


def run_playbook(tmp_path, tasks, *, check=False, diff=False, verbosity=0, env=None,
                 extra_vars=None, module_defaults=None, measure_memory=False):
    """Run ``tasks`` on localhost; registered variables come back in ``Run.results``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    credentials = {}
    tasks = lift_credentials(list(tasks), credentials)
    module_defaults = lift_credentials(module_defaults, credentials)
    results_file = tmp_path / "registered.json"
    results_file.unlink(missing_ok=True)
    names = _registered_names(tasks)
    dump = {"name": "hand the registered results to the test",
            "hand_over": {
                "content": "{{ {%s} | to_json }}" % ", ".join(
                    f"'{n}': ({n} | default(None))" for n in names),
                "dest": str(results_file)},
            "no_log": True, "check_mode": False, "diff": False}
    play = {"name": "test", "hosts": "localhost", "gather_facts": False,
            "connection": "local", "tasks": list(tasks) + [dump]}
    if module_defaults:
        play["module_defaults"] = module_defaults
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(yaml.safe_dump([play], sort_keys=False))
    # the hand_over action, from the action_plugins directory beside the playbook
    plugins = tmp_path / "action_plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "hand_over.py").write_text(HAND_OVER.read_text())
    cmd = [str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook)]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    if credentials:
        vars_file = tmp_path / "credentials.json"
        vars_file.write_text(json.dumps(credentials))
        vars_file.chmod(0o600)
        cmd += ["-e", "@" + str(vars_file)]
    peak_file = tmp_path / "peak-rss-kib"
    if measure_memory:
        cmd = [sys.executable, "-c", _MEASURED, str(peak_file)] + cmd
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(tmp_path, env),
                          cwd=tmp_path, timeout=300, check=False)
    log_file = tmp_path / "ansible.log"
    run = Run(proc.returncode, proc.stdout, proc.stderr,
              log=log_file.read_text() if log_file.exists() else "")
    if measure_memory:
        run.peak_mib = int(peak_file.read_text()) / 1024.0
    if results_file.exists():
        run.results = json.loads(results_file.read_text())
    return run


def run_adhoc(tmp_path, module, args, *, verbosity=0, env=None, check=False):
    """``ansible localhost -m module -a args``, with ``args`` given as a dict."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    cmd = [str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
           "-m", module, "-a", json.dumps(args)]
    if check:
        cmd.append("--check")
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ansible_env(tmp_path, env),
                          cwd=tmp_path, timeout=300, check=False)
    log_file = tmp_path / "ansible.log"
    return Run(proc.returncode, proc.stdout, proc.stderr,
               log=log_file.read_text() if log_file.exists() else "")


def leaked(sandbox, *texts, extra=()):
    """Every secret the sandbox ever issued (plus ``extra``) that appears in ``texts``."""
    haystack = "\n".join(texts)
    return [s for s in list(sandbox.secrets.all_values()) + list(extra) if s and s in haystack]


def module_task(module, register, args, check_mode=None, ignore_errors=False):
    """A task of ``tokenops.tokens.<module>`` whose result is registered as ``register``."""
    task = {"name": register, "tokenops.tokens." + module: args, "register": register}
    if check_mode is not None:
        task["check_mode"] = check_mode
    if ignore_errors:
        task["ignore_errors"] = True
    return task


def clean_playbook(sandbox, tmp_path, tasks, **kwargs):
    """``run_playbook`` that must succeed and must not print a secret the sandbox issued."""
    run = run_playbook(tmp_path, tasks, **kwargs)
    assert run.rc == 0, run.output
    assert leaked(sandbox, run.output) == []
    return run

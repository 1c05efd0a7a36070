"""The reference users read against what the modules return (issue 17).

Every module runs against the sandbox (with its demo data) through real ``ansible-playbook``, in
the cases that return the most: check mode, create, unchanged, rotate, delete, and the info
modules over many tokens. Then, for every result:

- every key it returns is documented in the module's RETURN (nested ``contains`` too);
- every key documented as ``returned: always`` is there (a nested key without ``returned`` counts
  as always, within each element of its parent that is there);

and every documented key, nested ones included, has a ``sample``.
"""
import json
import os
import pathlib
import subprocess
import sys

import pytest

from tests.functional.harness import ROOT, run_playbook
from tests.sandbox import Sandbox

COLLECTION = "tokenops.tokens"
# One ansible-core line is enough to compare documentation with results.
pytestmark = pytest.mark.wide
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py"))
# What ansible-core itself adds to every registered result.
STANDARD_KEYS = {"changed", "failed", "invocation", "warnings", "deprecations", "diff",
                 "skipped", "skip_reason", "_ansible_no_log", "false_condition", "msg"}


@pytest.fixture(scope="module")
def docs():
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / "build" / "collections"))
    proc = subprocess.run([str(pathlib.Path(sys.executable).parent / "ansible-doc"), "--json",
                           "-t", "module"] + ["%s.%s" % (COLLECTION, m) for m in MODULES],
                          capture_output=True, text=True, env=env, check=True)
    return {name.split(".")[-1]: data.get("return") or {}
            for name, data in json.loads(proc.stdout).items()}


def mismatches(result, spec, path=""):
    """Keys returned but not documented, and documented-always keys missing, as messages."""
    problems = []
    for key in sorted(set(result) - set(spec)):
        if not path and key in STANDARD_KEYS:
            continue
        problems.append("%s%s is returned but not documented" % (path, key))
    for key, doc in spec.items():
        always = doc.get("returned", "always") == "always"
        if key not in result:
            if always:
                problems.append("%s%s is documented as always returned but missing" % (path, key))
            continue
        value = result[key]
        if not doc.get("contains") or value is None:
            continue
        elements = value if isinstance(value, list) else [value]
        for index, element in enumerate(elements):
            where = "%s%s%s." % (path, key, "[%d]" % index if isinstance(value, list) else "")
            if isinstance(element, dict):
                problems.extend(mismatches(element, doc["contains"], where))
    return problems


def unsampled(spec, path=""):
    missing = []
    for key, doc in spec.items():
        if "sample" not in doc:
            missing.append(path + key)
        if doc.get("contains"):
            missing.extend(unsampled(doc["contains"], path + key + "."))
    return missing


def test_every_return_value_has_a_sample(docs):
    assert len(docs) == 11
    missing = {module: unsampled(spec) for module, spec in docs.items() if unsampled(spec)}
    assert missing == {}


def defaults(sandbox, platform, **extra):
    api = sandbox[platform]
    group = "group/tokenops.tokens.%s" % platform
    return {group: {"api_url": api.url, "api_token": api.admin_token, **extra}}


def task(module, register, check_mode=False, **args):
    return {"name": register, "tokenops.tokens." + module: args, "register": register,
            "check_mode": check_mode}


def lifecycle(module, identity, create=None, rotate=None):
    """check mode, create, unchanged, rotate (check and real), delete (check and real)."""
    create = dict(identity, **(create or {}))
    rotate = dict(identity, rotate="always", **(rotate or {}))
    return [task(module, "create_check", True, **create), task(module, "create", **create),
            task(module, "unchanged", **create), task(module, "rotate_check", True, **rotate),
            task(module, "rotated", **rotate),
            task(module, "delete_check", True, state="absent", **identity),
            task(module, "deleted", state="absent", **identity)]


def cases(sandbox):
    """(platform, module defaults, tasks) whose registered results are checked."""
    tfe, pulumi = sandbox["tfe"], sandbox["pulumi"]
    return [
        ("pactflow", defaults(sandbox, "pactflow"), [
            task("pactflow_token", "imported", type="read-only"),
            task("pactflow_token", "rotate_check", True, type="read-only", rotate="always"),
            task("pactflow_token", "rotated", type="read-only", rotate="always"),
            task("pactflow_token_info", "listed"),
            task("pactflow_token_info", "with_values", include_values=True, max_age="1d"),
        ]),
        ("tfe", defaults(sandbox, "tfe", organization=tfe.organization), lifecycle(
            "tfe_team_token", {"team": "ci", "description": "returns"}, {"expires_in": "30d"})
         + [task("tfe_team_token", "legacy", team="platform", rotate="always"),
            task("tfe_team_token_info", "listed", team="ci", max_age="30d"),
            task("tfe_team_token_info", "organization_wide")]),
        ("cloudflare", defaults(sandbox, "cloudflare"), lifecycle(
            "cloudflare_token", {"name": "returns"},
            {"policies": [{"permission_groups": ["Zone Read"],
                           "resources": {"com.cloudflare.api.account.zone.*": "*"}}],
             "condition": {"request_ip": {"in": ["192.0.2.0/24"]}}, "expires_in": "30d"})
         + [task("cloudflare_token_info", "listed", verify_credential=True, max_age="30d")]),
        ("pulumi", defaults(sandbox, "pulumi"), lifecycle(
            "pulumi_token", {"description": "returns"}, {"expires_in": "30d"})
         + lifecycle("pulumi_token", {"kind": "organization", "organization": pulumi.org_name,
                                      "name": "returns"}, {"admin": True})
         + [task("pulumi_token_info", "listed", max_age="30d"),
            task("pulumi_token_info", "organization", kind="organization",
                 organization=pulumi.org_name),
            task("pulumi_token_info", "team", kind="team", organization=pulumi.org_name,
                 team=pulumi.team_name)]),
        ("cloudtruth", defaults(sandbox, "cloudtruth"), lifecycle(
            "cloudtruth_service_account", {"name": "returns"},
            {"description": "for the docs test", "role": "viewer"}, {"keep_previous_for": "1h"})
         + [task("cloudtruth_service_account_info", "listed", max_age="30d")]),
    ]


@pytest.fixture(scope="module")
def demo_sandbox():
    with Sandbox(demo=True) as running:
        yield running


def check(module_results, docs):
    problems = []
    for register, (module, result) in module_results.items():
        assert result is not None, register
        assert not result.get("failed"), (register, result.get("msg"))
        problems += ["%s (%s): %s" % (module, register, p) for p in mismatches(result, docs[module])]
    return problems


@pytest.mark.parametrize("platform", ["pactflow", "tfe", "cloudflare", "pulumi", "cloudtruth"])
def test_module_results_match_their_documentation(platform, demo_sandbox, docs, tmp_path):
    [(_name, module_defaults, tasks)] = [c for c in cases(demo_sandbox) if c[0] == platform]
    # The organization-token lifecycle registers the same names again; keep both.
    for index, item in enumerate(tasks):
        item["register"] = "%s_%d" % (item["register"], index)
    run = run_playbook(tmp_path, tasks, module_defaults=module_defaults)
    assert run.rc == 0, run.output
    modules = {item["register"]: next(k for k in item if k.startswith("tokenops.")).split(".")[-1]
               for item in tasks}
    results = {name: (modules[name], run[name]) for name in modules}
    problems = check(results, docs)
    assert problems == [], "\n".join(problems)
    used = {module for module, _result in results.values()}
    assert used == {m for m in MODULES if m.split("_")[0] == platform}


def test_rotation_engine_results_match_its_documentation(demo_sandbox, docs, tmp_path):
    """The role's engine, through the role: lock, issue, finish, and plan (in check mode; a
    real run plans inside the issue step)."""
    pulumi = demo_sandbox["pulumi"]
    item = {"provider": "pulumi", "id": "ci-deploy",
            "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                       "description": "ci-deploy"},
            "max_age": "60d",
            "deliver": [{"type": "file", "path": str(tmp_path / "ci-deploy.token")},
                        {"type": "tasks", "file": str(tmp_path / "deliver.yml")}]}
    (tmp_path / "deliver.yml").write_text("- ansible.builtin.debug: {msg: delivered}\n")
    dump = {"name": "hand the engine's results to the test", "hand_over": {
        "content": "{{ {'lock': _rotate_lock, 'issue': _rotate_issued,"
                   " 'finish': _rotate_result} | to_json }}",
        "dest": str(tmp_path / "engine.json")}, "no_log": True, "check_mode": False}
    role = {"name": "rotate", "ansible.builtin.include_role": {"name": "tokenops.tokens.rotate"},
            "vars": {"rotate_tokens": [item], "rotate_state_dir": str(tmp_path / "state")}}
    planned = {"name": "plan only", "hand_over": {
        "content": "{{ _rotate_plan | to_json }}", "dest": str(tmp_path / "plan.json")},
        "no_log": True, "check_mode": False}
    checked = run_playbook(tmp_path / "check", [role, planned], check=True)
    assert checked.rc == 0, checked.output
    run = run_playbook(tmp_path / "apply", [role, dump])
    assert run.rc == 0, run.output
    results = json.loads((tmp_path / "engine.json").read_text())
    results["plan_check"] = json.loads((tmp_path / "plan.json").read_text())
    assert results["issue"]["deliveries"]
    # The role hands rows and outcomes to finish through the state directory (handoff).
    assert "rows" not in results["issue"] and "rows" not in results["finish"]
    problems = check({k: ("rotation_engine", v) for k, v in results.items()}, docs)
    assert problems == [], "\n".join(problems)

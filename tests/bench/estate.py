"""The token estate at scale (issue 27): the inventory plugin over thousands of tokens against
its floor, the rotation role over tens of thousands, and what the report's hygiene and the
metrics add to a run with nothing due."""
import json
import pathlib
import statistics
import subprocess
import tempfile
import time

import yaml

from tests.bench.scale import SEEDERS, actions, run_role, seed_platform
from tests.functional.harness import BIN, ansible_env
from tests.sandbox import Sandbox

#: the platforms of the inventory run; PactFlow adds the two tokens of its one credential
LISTED = ("tfe", "cloudflare", "pulumi", "cloudtruth")
#: the platforms whose credentials may hold many tokens (PactFlow's holds two)
MANY = ("tfe", "cloudflare", "pulumi", "cloudtruth")


def _unwrap(value):
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: _unwrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_unwrap(item) for item in value]
    return value


def _listed(stdout):
    """``(hostvars, {group: hosts})`` of ``ansible-inventory --list``, markers removed."""
    data = _unwrap(json.loads(stdout))
    hostvars = data.pop("_meta")["hostvars"]
    return hostvars, {name: sorted(body.get("hosts", [])) for name, body in data.items()
                      if body.get("hosts")}


def static_inventory(path, stdout):
    """The hosts, variables and groups of a ``--list`` as a static inventory (JSON, which the
    ``yaml`` inventory plugin reads fastest): what ansible-core alone needs to print them."""
    hostvars, groups = _listed(stdout)
    children = {name: {"hosts": {host: None for host in hosts}} for name, hosts in groups.items()
                if name not in ("all", "ungrouped")}
    path.write_text(json.dumps({"all": {"hosts": hostvars, "children": children}}))
    return path


def _seed_inventory(sandbox, count):
    sandbox["cloudflare"].user_token_quota = 10 ** 6
    for platform in LISTED:
        SEEDERS[platform](sandbox[platform], count // len(LISTED),
                          lambda index: None)
    connections = [{"platform": name, "api_url": sandbox[name].url,
                    "api_token": sandbox[name].admin_token} for name in LISTED + ("pactflow",)]
    connections[0]["organization"] = sandbox["tfe"].organization
    return connections


def _timed(work, source, args=("--list",)):
    started = time.perf_counter()
    proc = subprocess.run([str(BIN / "ansible-inventory"), "-i", str(source), *args],
                          capture_output=True, text=True, env=ansible_env(work), cwd=work,
                          check=False)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError("ansible-inventory failed:\n" + proc.stderr[-3000:])
    return seconds, proc.stdout


def inventory_run(count=5000, latency=0.02, repeats=5):
    """``ansible-inventory --list`` over ``count`` tokens (spread over the four platforms whose
    credentials hold many, plus PactFlow's two) with ``latency`` added to every request: the
    plugin listing, the plugin from its cache, and the floor (the same hosts, variables and
    groups from a static inventory), alternated, medians of ``repeats``."""
    with Sandbox(latency=latency) as sandbox, tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        connections = _seed_inventory(sandbox, count)
        plain = work / "estate.tokens.yml"
        plain.write_text(yaml.safe_dump({"plugin": "tokenops.tokens.tokens",
                                         "connections": connections}))
        cached = work / "cached.tokens.yml"
        cached.write_text(yaml.safe_dump({
            "plugin": "tokenops.tokens.tokens", "connections": connections, "cache": True,
            "cache_plugin": "ansible.builtin.jsonfile", "cache_connection": str(work / "cache"),
            "cache_timeout": 86400}))
        sandbox.log.clear()
        _seconds, listed = _timed(work, plain)
        requests = len(sandbox.log.select())
        floor = static_inventory(work / "static.json", listed)
        _seconds, from_floor = _timed(work, floor)
        if _listed(from_floor) != _listed(listed):
            raise RuntimeError("the static inventory does not print what the plugin printed")
        _seconds, filled = _timed(work, cached)   # fills the cache
        sandbox.log.clear()
        _seconds, from_cache = _timed(work, cached)
        if sandbox.log.select() or _listed(from_cache) != _listed(filled):
            raise RuntimeError("the cached listing sent requests or printed something else")
        samples = {"floor": [], "plugin": [], "cache": []}
        for _round in range(repeats):             # alternate, so noise hits every side
            samples["floor"].append(_timed(work, floor)[0])
            samples["plugin"].append(_timed(work, plain)[0])
            samples["cache"].append(_timed(work, cached)[0])
        medians = {side: statistics.median(values) for side, values in samples.items()}
        hosts = len(_listed(listed)[0])
    return dict(count=count, hosts=hosts, latency=latency, requests=requests, repeats=repeats,
                **medians)


def _json_inventory(work, tokens, extra=None):
    """The role's inventory with ``rotate_tokens`` in a JSON vars file (``group_vars``), as
    docs/rotation.md advises for long lists; ``extra`` variables beside it."""
    inventory = work / "inventory-json"
    variables = inventory / "group_vars" / "all"
    variables.mkdir(parents=True, exist_ok=True)
    (inventory / "hosts").write_text("localhost ansible_connection=local\n")
    data = {"rotate_tokens": tokens, "rotate_state_dir": str(work / "state"),
            "rotate_report_dir": str(work / "report")}
    data.update(extra or {})
    (variables / "rotate.json").write_text(json.dumps(data))
    (variables / "rotate.json").chmod(0o600)
    return inventory


def role_run(count=50000, repeats=3):
    """The role over ``count`` tokens on the four platforms whose credentials hold many, no
    added latency, nothing due; alternated runs with the report's hygiene and the metrics file
    and without them (``rotate_hygiene: false``, no metrics), ``repeats`` each."""
    with Sandbox() as sandbox, tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        sandbox["cloudflare"].user_token_quota = 10 ** 6
        sinks = work / "sinks"
        sinks.mkdir()
        tokens = []
        for platform in MANY:
            tokens += seed_platform(sandbox, platform, count // len(MANY), due_share=0.0)
        for item in tokens:
            item["deliver"] = [{"type": "file", "path": str(sinks / item["id"])}]
        sides = {"with": {"rotate_hygiene": True,
                          "rotate_metrics_file": str(work / "tokenops.prom")},
                 "without": {"rotate_hygiene": False}}
        runs = {side: [] for side in sides}
        for round_ in range(repeats):
            order = list(sides) if round_ % 2 == 0 else list(reversed(list(sides)))
            for side in order:                    # alternate, so noise hits both sides
                extra = sides[side]
                inventory = _json_inventory(work, tokens, extra)
                sandbox.log.clear()
                seconds, peak, report = run_role(work, tokens, sinks, inventory=inventory)
                runs[side].append(dict(seconds=seconds, peak=peak, actions=actions(report),
                                       requests=len(sandbox.log.select()),
                                       hygiene="hygiene" in report))
    return dict(count=count, repeats=repeats, runs=runs)

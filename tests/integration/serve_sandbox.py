"""Serve the sandbox for ``ansible-test integration`` and describe it as an integration config.

Usage: python tests/integration/serve_sandbox.py CONFIG_PATH
Starts the sandbox (with its demo data) on loopback, writes CONFIG_PATH in the form of
tests/integration/integration_config.yml.template, prints ``ready`` and serves until SIGTERM.
Run it from the repository's root with a project virtualenv (it needs flask).
"""
import signal
import sys
import threading

import yaml

sys.path.insert(0, ".")
from tests.sandbox import Sandbox  # noqa: E402  pylint: disable=wrong-import-position


def config(sandbox):
    tfe, pulumi = sandbox["tfe"], sandbox["pulumi"]
    values = {"tokenops_resource_prefix": "ansible-test",
              "tokenops_pactflow_rotate": True,
              "tokenops_tfe_organization": tfe.organization,
              "tokenops_tfe_team": "ci",
              "tokenops_pulumi_organization": pulumi.org_name}
    for name in ("pactflow", "tfe", "cloudflare", "pulumi", "cloudtruth"):
        values["tokenops_%s_url" % name] = sandbox[name].url
        values["tokenops_%s_token" % name] = sandbox[name].admin_token
    return values


def main(path):
    sandbox = Sandbox(demo=True).start()
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("# Written by tests/integration/serve_sandbox.py: the sandbox's endpoints.\n")
        yaml.safe_dump(config(sandbox), handle, sort_keys=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    sandbox.stop()


if __name__ == "__main__":
    main(sys.argv[1])

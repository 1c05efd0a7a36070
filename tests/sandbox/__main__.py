"""``python -m tests.sandbox``: serve the five APIs (and the GitHub stand-in) on loopback until
interrupted.

The first line on stdout is one JSON object mapping each platform to its base URL and an admin
credential, so scripts can read it and point modules at it. A banner for people follows: the
names the demo data holds (organizations, teams, accounts, users, tokens) and an ``export``
block of the vendors' environment variables, which the modules read (ends with ``END_LINE``).

Needs Flask (``pip install -r tests/sandbox/requirements.txt``; ``make sandbox`` installs it).
"""
import argparse
import json
import os
import shlex
import signal
import sys
import threading

#: the vendors' environment variables the modules read: platform -> (URL, credential, others)
VARIABLES = {
    "pactflow": ("PACT_BROKER_BASE_URL", "PACT_BROKER_TOKEN", {}),
    "tfe": ("TFE_ADDRESS", "TFE_TOKEN", {"TFE_ORGANIZATION": lambda p: p.organization}),
    "cloudflare": ("CLOUDFLARE_BASE_URL", "CLOUDFLARE_API_TOKEN", {}),
    "pulumi": ("PULUMI_BACKEND_URL", "PULUMI_ACCESS_TOKEN", {}),
    "cloudtruth": ("CLOUDTRUTH_SERVER_URL", "CLOUDTRUTH_API_KEY", {}),
}
#: the variables the delivery targets read (the github_secret sink: GITHUB_TOKEN or GH_TOKEN;
#: its api_url has no variable, so the banner names it)
SINK_VARIABLES = {"github": ("GITHUB_TOKEN",)}
TITLES = {"pactflow": "PactFlow", "tfe": "HCP Terraform / Terraform Enterprise",
          "cloudflare": "Cloudflare", "pulumi": "Pulumi Cloud", "cloudtruth": "CloudTruth",
          "github": "GitHub (the github_secret sink's target)"}
#: the banner's last line: scripts may wait for it
END_LINE = "# The sandbox is ready; Ctrl-C stops it."


def _names(values):
    return ", ".join(values) or "none"


def _pactflow(platform):
    from .pactflow import SYSTEM_ACCOUNT
    people = [p for p in platform.principals.values() if p.type != SYSTEM_ACCOUNT]
    accounts = [p.name for p in platform.principals.values() if p.type == SYSTEM_ACCOUNT]
    return [
        "users: " + _names("%s <%s> (%s%s)" % (p.name, p.email, p.role,
                                               ", the credential's" if p.uuid == platform.admin_uuid
                                               else "") for p in people),
        "system accounts: " + _names(accounts),
        "token types: read-only, read-write (one of each per user and system account)",
    ]


def _tfe(platform):
    teams = {team.id: team.name for team in platform._teams.values()}
    described = {}
    legacy = []
    for token in platform._tokens.values():
        if token.description is None:
            legacy.append(teams.get(token.team_id, token.team_id))
        else:
            described.setdefault(teams.get(token.team_id, token.team_id), []).append(
                token.description)
    return [
        "organization: %s (TFE_ORGANIZATION below)" % platform.organization,
        "teams: " + _names(teams.values()),
        "team tokens: " + _names(["%s (team %s)" % (", ".join(names), team)
                                  for team, names in described.items()]
                                 + ["the legacy token of team %s" % team for team in legacy]),
    ]


def _cloudflare(platform):
    user = [t["name"] for t in platform.tokens() if t["name"] != "Sandbox admin"]
    account = [t["name"] for t in platform.tokens(platform.account_id)]
    return [
        "account: %s (give it as account_id for account-owned tokens)" % platform.account_id,
        "user tokens: " + _names(user),
        "account tokens: " + _names(account),
    ]


def _pulumi(platform):
    from .pulumi import ORGANIZATION, PERSONAL, TEAM
    tokens = platform.tokens()

    def of(kind):
        return _names(t["description"] or t["name"] for t in tokens if t["type"] == kind
                      and t["id"] != platform.admin_token_id)
    members = ["%s (%s%s)" % (login, role, ", the credential's"
                              if login == platform.user_login else "")
               for login, role in platform.members.items()]
    return [
        "users: " + _names(members),
        "organization: %s; teams: %s" % (platform.org_name, _names(platform.teams)),
        "personal tokens: " + of(PERSONAL),
        "organization tokens: " + of(ORGANIZATION),
        "team tokens: " + of(TEAM),
    ]


def _cloudtruth(platform):
    users = ["%s (%s%s)" % (user.name, platform.role_of(user.id) or "no role",
                            ", the credential's" if user.id == platform.admin_user_id else "")
             for user in platform.users.values() if user.type == "interactive"]
    accounts = [account.user.name for account in platform.accounts() if account.user]
    return [
        "organization: " + platform.org_name,
        "users: " + _names(users),
        "service accounts: " + _names(accounts),
    ]


def _github(platform):
    repositories = ["%s%s" % (repo.full_name, " (environments: %s)" % ", ".join(repo.environments)
                              if repo.environments else "")
                    for repo in platform._repos.values()]
    return [
        "organization: %s; repositories: %s" % (platform.organization, _names(repositories)),
        "give api_url: %s in a github_secret sink (GITHUB_TOKEN below)" % platform.url,
    ]


NAMES = {"pactflow": _pactflow, "tfe": _tfe, "cloudflare": _cloudflare, "pulumi": _pulumi,
         "cloudtruth": _cloudtruth, "github": _github}


def exports(sandbox):
    """``{variable: value}`` that points the modules (and the vendors' tools) at ``sandbox``."""
    values = {}
    for name, (url_variable, token_variable, others) in VARIABLES.items():
        platform = sandbox[name]
        values[url_variable] = platform.url
        values[token_variable] = platform.admin_token
        values.update((variable, value(platform)) for variable, value in others.items())
    for name, (token_variable,) in SINK_VARIABLES.items():
        if name in sandbox.platforms:
            values[token_variable] = sandbox[name].admin_token
    return values


def banner(sandbox, demo=True):
    """The lines for people after the JSON line: names per platform, then the export block."""
    data = ", with demo data (some tokens old enough to be due)" if demo else ", empty"
    lines = ["", "tokenops.tokens sandbox: the five platforms' APIs and a GitHub stand-in on "
             "loopback%s." % data, ""]
    for name in [n for n in NAMES if n in sandbox.platforms]:
        lines.append("%s  %s" % (TITLES[name], sandbox[name].url))
        lines.extend("  " + line for line in NAMES[name](sandbox[name]))
    lines += ["", "# In another shell, for the modules (and the vendors' own tools):"]
    lines += ["export %s=%s" % (variable, shlex.quote(value))
              for variable, value in exports(sandbox).items()]
    lines += ["# For example: ansible localhost -m tokenops.tokens.tfe_team_token_info",
              END_LINE]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sandbox", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-demo", action="store_true", help="start empty, without demo data")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds added to every request")
    parser.add_argument("--tls", metavar="DIR",
                        help="serve HTTPS with a certificate from a test CA written to DIR "
                             "(DIR/ca.pem is what clients trust, e.g. SSL_CERT_FILE for gh)")
    args = parser.parse_args(argv)
    try:
        from . import Sandbox
        from .tls import make_certificates
    except ImportError as exc:   # flask or werkzeug: the sandbox's own requirements
        print("python -m tests.sandbox: %s. The sandbox needs its own requirements: run "
              "`make sandbox`, which installs them, or `python -m pip install -r "
              "tests/sandbox/requirements.txt` in this Python's virtualenv" % exc,
              file=sys.stderr)
        return 2

    tls = make_certificates(args.tls).server_pair if args.tls else False
    sandbox = Sandbox(demo=not args.no_demo, latency=args.latency, tls=tls).start()
    print(json.dumps(sandbox.endpoints()), flush=True)
    try:
        print("\n".join(banner(sandbox, demo=not args.no_demo)), flush=True)
    except BrokenPipeError:      # nobody reads on: serve all the same
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # pylint: disable=consider-using-with
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the benchmarks run per platform: the module's operations with the fewest requests the
platform's API allows (and why), and the same jobs written by hand with ``ansible.builtin.uri``.

Every hand-written job is what a careful user writes today: list, pick the token with a Jinja
filter, create or delete. They read only the first page and have no retries and no check mode, so
they are, if anything, cheaper than a correct client.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass
class Operation:
    label: str                  # create, no-op, update, rotate, delete
    args: Optional[dict]        # module options besides the connection; None: not possible
    minimum: Optional[int]      # fewest requests the platform's API allows
    why: str                    # how that minimum follows from the API


@dataclass
class Case:
    platform: str
    module: str
    title: str
    setup: Callable             # setup(sandbox) -> connection options (and seeds the sandbox)
    operations: Callable        # operations(sandbox) -> [Operation]
    collection_jobs: Callable   # collection_jobs(conn) -> {"no-op": tasks, "rotation": tasks}
    uri_jobs: Callable          # uri_jobs(conn) -> {"no-op": tasks, "rotation": tasks}
    extra_vars: Callable = field(default=lambda conn: {})


CASES = []


def checked(path):
    """The last request of an operation that issues a secret (issue 23, two runs over a token)."""
    return ("; then `GET %s` with the new secret: the module's one check, before it returns "
            "the secret, that no other run replaced it" % path)


def case(**kwargs):
    CASES.append(Case(**kwargs))


# -- Pulumi ---------------------------------------------------------------------------------

def pulumi_setup(sandbox):
    pulumi = sandbox["pulumi"]
    pulumi.add_personal_tokens(20, prefix="neighbour")
    return {"api_url": pulumi.url, "api_token": pulumi.admin_token}


def pulumi_operations(_sandbox):
    listing = "one page of `GET /api/user/tokens?filter=all` (up to 1,000 tokens)"
    return [
        Operation("create", {"description": "bench"}, 3,
                  listing + " shows the token is absent; one `POST /api/user/tokens`"
                  + checked("/api/user")),
        Operation("no-op", {"description": "bench"}, 1,
                  listing + ": there is no read-one endpoint"),
        Operation("update", None, None, "Pulumi cannot change a token after it is issued"),
        Operation("rotate", {"description": "bench", "rotate": "always"}, 6,
                  listing + "; `POST` the new token; the listing again, newest first, to read it "
                  "back and compare what it may do with its predecessor (there is no read-one "
                  "endpoint; issue 22); then `DELETE` the old one; then `GET "
                  "/api/user` with the module's own credential: a personal token cannot be told "
                  "apart from the user's others, so this is the only way to learn whether the "
                  "delete ended the credential itself (then the result says so and later "
                  "requests use the new secret)" + checked("/api/user")),
        Operation("delete", {"description": "bench", "state": "absent"}, 2,
                  listing + "; one `DELETE /api/user/tokens/{id}`"),
    ]


def pulumi_collection_jobs(conn):
    task = {"tokenops.tokens.pulumi_token": {**conn, "description": "bench"}}
    rotate = {"tokenops.tokens.pulumi_token": {**conn, "description": "bench",
                                               "rotate": "always"}, "no_log": True}
    return {"no-op": [dict(task, name="token")], "rotation": [dict(rotate, name="rotate")]}


def pulumi_uri_jobs(conn):
    headers = {"Authorization": "token {{ bench_token }}",
               "Accept": "application/vnd.pulumi+8"}
    base = conn["api_url"] + "/api/user/tokens"
    find = [
        {"name": "list tokens", "ansible.builtin.uri": {"url": base + "?filter=all",
                                                        "headers": headers},
         "register": "listed"},
        {"name": "pick the token", "ansible.builtin.set_fact": {
            "found": "{{ listed.json.tokens | selectattr('description', 'equalto', 'bench') "
                     "| list }}"}},
    ]
    create = {"name": "create", "ansible.builtin.uri": {
        "url": base, "method": "POST", "headers": headers, "body_format": "json",
        "body": {"description": "bench", "expires": 0}}, "register": "created",
        "no_log": True}
    return {
        "no-op": find + [dict(create, when="found | length == 0")],
        "rotation": find + [create, {"name": "delete the old token", "ansible.builtin.uri": {
            "url": base + "/{{ found[0].id }}", "method": "DELETE", "headers": headers,
            "status_code": [200, 204]}}],
    }


case(platform="pulumi", module="pulumi_token", title="Pulumi Cloud personal token",
     setup=pulumi_setup, operations=pulumi_operations, collection_jobs=pulumi_collection_jobs,
     uri_jobs=pulumi_uri_jobs, extra_vars=lambda conn: {"bench_token": conn["api_token"]})


# -- HCP Terraform / Terraform Enterprise ----------------------------------------------------

def tfe_setup(sandbox):
    tfe = sandbox["tfe"]
    team_id = tfe.add_team("bench")
    tfe.add_teams(20, prefix="neighbour")
    for number in range(5):
        tfe.add_token(team_id, description="neighbour-%d" % number)
    return {"api_url": tfe.url, "api_token": tfe.admin_token, "organization": tfe.organization}


def tfe_operations(_sandbox):
    team = "one `GET /organizations/{org}/teams?filter[names]=bench` (the team's id)"
    tokens = ("one page of `GET /organizations/{org}/team-tokens?q=bench` (the team's tokens, "
              "up to 100)")
    # Issue 15: deleting the token the credential acts through would lock the caller out.
    caller = ("`GET /account/details`, the only way to learn whether the module's own "
              "credential is a token of this team (deleting it would lock the caller out)")
    # Issue 22: a new token's expiry must stay within the organization's token TTL policy.
    policy = "one `GET /organizations/{org}/token-ttl-policies` (the lifetime cap)"
    args = {"team": "bench", "description": "bench"}
    return [
        Operation("create", args, 5, "%s; %s; %s; one `POST /teams/{id}/authentication-tokens`"
                  % (team, tokens, policy) + checked("/account/details")),
        Operation("no-op", args, 2, "%s; %s" % (team, tokens)),
        Operation("update", None, None, "TFE cannot change a token's description or expiry"),
        Operation("rotate", dict(args, rotate="always"), 8,
                  "%s; %s; %s; `POST` the successor as `bench--N` (descriptions are unique per "
                  "team, and the previous token works until it exists); `GET "
                  "/authentication-tokens/{id}` to read it back and compare its team (issue 22); "
                  "%s; then `DELETE` the previous one" % (team, tokens, policy, caller)
                  + checked("/account/details")),
        Operation("delete", dict(args, state="absent"), 4,
                  "%s; %s; %s; one `DELETE /authentication-tokens/{id}`"
                  % (team, tokens, caller)),
    ]


def tfe_collection_jobs(conn):
    args = {**conn, "team": "bench", "description": "bench"}
    return {"no-op": [{"name": "token", "tokenops.tokens.tfe_team_token": args}],
            "rotation": [{"name": "rotate", "no_log": True,
                          "tokenops.tokens.tfe_team_token": dict(args, rotate="always")}]}


def tfe_uri_jobs(conn):
    headers = {"Authorization": "Bearer {{ bench_token }}",
               "Content-Type": "application/vnd.api+json"}
    api = conn["api_url"].rstrip("/") + "/api/v2"
    org = api + "/organizations/" + conn["organization"]
    find = [
        {"name": "find the team", "ansible.builtin.uri": {
            "url": org + "/teams?filter%5Bnames%5D=bench", "headers": headers},
         "register": "teams"},
        {"name": "list the team's tokens", "ansible.builtin.uri": {
            "url": org + "/team-tokens?q=bench&page%5Bsize%5D=100", "headers": headers},
         "register": "listed"},
        # The token and its generations (bench, bench--2, ...), as the module names them.
        {"name": "pick the token", "ansible.builtin.set_fact": {
            "team_id": "{{ teams.json.data[0].id }}",
            "found": "{{ listed.json.data | selectattr('attributes.description', 'match', "
                     "'^bench(--[0-9]+)?$') | list }}",
            "generation": "{{ ([1] + (listed.json.data | map(attribute='attributes.description')"
                          " | select('match', '^bench--[0-9]+$') | map('regex_replace', "
                          "'^bench--', '') | map('int') | list)) | max }}"}},
    ]

    def create(description):
        return {"name": "create", "no_log": True, "register": "created",
                "ansible.builtin.uri": {
                    "url": api + "/teams/{{ team_id }}/authentication-tokens",
                    "method": "POST", "headers": headers, "body_format": "json",
                    "status_code": [201],
                    "body": {"data": {"type": "authentication-tokens",
                                      "attributes": {"description": description}}}}}
    delete = {"name": "delete the previous token", "ansible.builtin.uri": {
        "url": api + "/authentication-tokens/{{ found[0].id }}", "method": "DELETE",
        "headers": headers, "status_code": [204]}}
    return {"no-op": find + [dict(create("bench"), when="found | length == 0")],
            "rotation": find + [create("bench--{{ generation | int + 1 }}"), delete]}


case(platform="tfe", module="tfe_team_token", title="HCP Terraform team token (described)",
     setup=tfe_setup, operations=tfe_operations, collection_jobs=tfe_collection_jobs,
     uri_jobs=tfe_uri_jobs, extra_vars=lambda conn: {"bench_token": conn["api_token"]})


# -- PactFlow -------------------------------------------------------------------------------

def pactflow_setup(sandbox):
    pactflow = sandbox["pactflow"]
    return {"api_url": pactflow.url, "api_token": pactflow.admin_token}


def pactflow_operations(_sandbox):
    listing = "one `GET /settings/tokens` (both tokens, no paging)"
    args = {"type": "read-only"}
    return [
        Operation("create", None, None, "PactFlow tokens always exist; they cannot be created"),
        Operation("no-op", args, 1, listing + " (the import: the value can be read)"),
        Operation("update", None, None, "PactFlow tokens have nothing that can be changed"),
        Operation("rotate", dict(args, rotate="always"), 3,
                  listing + " (the token's id); one `POST /settings/tokens/{id}/regenerate`"
                  + checked("/settings/tokens")),
        Operation("delete", None, None, "PactFlow cannot delete tokens"),
    ]


def pactflow_collection_jobs(conn):
    args = {**conn, "type": "read-only"}
    return {"no-op": [{"name": "token", "no_log": True, "tokenops.tokens.pactflow_token": args}],
            "rotation": [{"name": "rotate", "no_log": True,
                          "tokenops.tokens.pactflow_token": dict(args, rotate="always")}]}


def pactflow_uri_jobs(conn):
    headers = {"Authorization": "Bearer {{ bench_token }}", "Accept": "application/hal+json"}
    find = [
        {"name": "list tokens", "no_log": True, "register": "listed",
         "ansible.builtin.uri": {"url": conn["api_url"].rstrip("/") + "/settings/tokens",
                                 "headers": headers}},
        {"name": "pick the read-only token", "no_log": True, "ansible.builtin.set_fact": {
            "found": "{{ listed.json._embedded['items'] | selectattr('description', 'search', "
                     "'(?i)read only') | list }}"}},
    ]
    regenerate = {"name": "regenerate", "no_log": True, "register": "regenerated",
                  "ansible.builtin.uri": {
                      "url": (conn["api_url"].rstrip("/")
                              + "/settings/tokens/{{ found[0].uuid }}/regenerate"),
                      "method": "POST", "headers": headers, "status_code": [200, 201]}}
    return {"no-op": find, "rotation": find + [regenerate]}


case(platform="pactflow", module="pactflow_token", title="PactFlow read-only token",
     setup=pactflow_setup, operations=pactflow_operations,
     collection_jobs=pactflow_collection_jobs, uri_jobs=pactflow_uri_jobs,
     extra_vars=lambda conn: {"bench_token": conn["api_token"]})


# -- CloudTruth -----------------------------------------------------------------------------

def cloudtruth_setup(sandbox):
    cloudtruth = sandbox["cloudtruth"]
    cloudtruth.add_service_accounts(20)
    return {"api_url": cloudtruth.url, "api_token": cloudtruth.admin_token}


def cloudtruth_operations(_sandbox):
    listing = "one page of `GET /api/v1/serviceaccounts/` (up to 1,000 accounts)"
    args = {"name": "bench-bot", "role": "viewer", "description": "bench"}
    return [
        Operation("create", args, 3, listing + " shows the account is absent; one `POST "
                  "/api/v1/serviceaccounts/` (the role is sent with it)"
                  + checked("/api/v1/users/current/")),
        Operation("no-op", args, 1, listing),
        Operation("update", dict(args, description="bench v2"), 2,
                  listing + "; one `PATCH /api/v1/serviceaccounts/{id}/`"),
        Operation("rotate", dict(args, description="bench v2", rotate="always"), 4,
                  listing + "; one `POST /api/v1/serviceaccounts/{id}/rekey/` with an explicit "
                  "`expire_at`; `GET /api/v1/serviceaccounts/{id}/` to read back what became of "
                  "the previous key (issue 13). With `keep_previous_for: 0` also `GET "
                  "/api/v1/users/current/`, because an immediate cut-over must not stop the "
                  "caller's own key" + checked("/api/v1/users/current/")),
        Operation("delete", dict(args, state="absent"), 2,
                  listing + "; one `DELETE /api/v1/serviceaccounts/{id}/`"),
    ]


def cloudtruth_collection_jobs(conn):
    args = {**conn, "name": "bench-bot"}
    return {"no-op": [{"name": "account", "tokenops.tokens.cloudtruth_service_account": args}],
            "rotation": [{"name": "rekey", "no_log": True,
                          "tokenops.tokens.cloudtruth_service_account": dict(
                              args, rotate="always", keep_previous_for="1h")}]}


def cloudtruth_uri_jobs(conn):
    headers = {"Authorization": "Api-Key {{ bench_token }}"}
    base = conn["api_url"].rstrip("/") + "/api/v1/serviceaccounts/"
    find = [
        {"name": "list accounts", "register": "listed",
         "ansible.builtin.uri": {"url": base + "?page_size=1000", "headers": headers}},
        {"name": "pick the account", "ansible.builtin.set_fact": {
            "found": "{{ listed.json.results | selectattr('user') | "
                     "selectattr('user.name', 'equalto', 'bench-bot') | list }}"}},
    ]
    create = {"name": "create", "no_log": True, "when": "found | length == 0",
              "ansible.builtin.uri": {"url": base, "method": "POST", "headers": headers,
                                      "body_format": "json", "status_code": [201],
                                      "body": {"name": "bench-bot", "role": "VIEWER"}}}
    rekey = {"name": "rekey", "no_log": True, "register": "rekeyed",
             "ansible.builtin.uri": {"url": base + "{{ found[0].id | urlencode }}/rekey/",
                                     "method": "POST", "headers": headers,
                                     "body_format": "json", "status_code": [200, 201],
                                     "body": {"expire_at": "{{ '%Y-%m-%dT%H:%M:%SZ' | "
                                              "strftime(now(utc=true).timestamp() + 3600) }}"}}}
    return {"no-op": find + [create], "rotation": find + [rekey]}


case(platform="cloudtruth", module="cloudtruth_service_account",
     title="CloudTruth service account", setup=cloudtruth_setup,
     operations=cloudtruth_operations, collection_jobs=cloudtruth_collection_jobs,
     uri_jobs=cloudtruth_uri_jobs, extra_vars=lambda conn: {"bench_token": conn["api_token"]})


# -- Cloudflare -----------------------------------------------------------------------------

def cloudflare_setup(sandbox):
    cloudflare = sandbox["cloudflare"]
    cloudflare.add_tokens(20, prefix="neighbour")
    return {"api_url": cloudflare.url, "api_token": cloudflare.admin_token}


def cloudflare_policies():
    from tests.sandbox.cloudflare import group_id   # the catalogue id of a permission group
    return [{"permission_groups": [group_id("Zone Read")],
             "resources": {"com.cloudflare.api.account.zone.*": "*"}}]


def cloudflare_operations(_sandbox):
    listing = "one page of `GET /user/tokens?include_expired=true` (up to 50 tokens)"
    args = {"name": "bench", "policies": cloudflare_policies()}
    return [
        Operation("create", args, 3, listing + " shows the name is free; one `POST /user/tokens` "
                  "(permission groups given by id; by name costs one `GET` of the catalogue)"
                  + checked("/user/tokens/verify")),
        Operation("no-op", args, 1, listing + ": names are not unique, so a lookup by name "
                  "reads the list"),
        Operation("update", dict(args, status="disabled"), 2,
                  listing + "; one full-object `PUT /user/tokens/{id}`"),
        Operation("rotate", dict(args, status="disabled", rotate="always"), 3,
                  listing + "; `GET /user/tokens/verify`, the only way to learn which token "
                  "the module's own credential is (a roll of it would lock the caller out); "
                  "one `PUT /user/tokens/{id}/value` (the roll); no check of the new secret, "
                  "which a disabled token's cannot pass"),
        Operation("delete", dict(args, state="absent"), 3,
                  listing + "; `GET /user/tokens/verify` (deleting the module's own credential "
                  "would lock the caller out); one `DELETE /user/tokens/{id}`"),
    ]


def cloudflare_collection_jobs(conn):
    args = {**conn, "name": "bench", "policies": cloudflare_policies()}
    return {"no-op": [{"name": "token", "tokenops.tokens.cloudflare_token": args}],
            "rotation": [{"name": "roll", "no_log": True,
                          "tokenops.tokens.cloudflare_token": dict(args, rotate="always")}]}


def cloudflare_uri_jobs(conn):
    headers = {"Authorization": "Bearer {{ bench_token }}"}
    base = conn["api_url"].rstrip("/") + "/user/tokens"
    find = [
        {"name": "list tokens", "register": "listed",
         "ansible.builtin.uri": {"url": base + "?per_page=50&include_expired=true",
                                 "headers": headers}},
        {"name": "pick the token", "ansible.builtin.set_fact": {
            "found": "{{ listed.json.result | selectattr('name', 'equalto', 'bench') | list }}"}},
    ]
    create = {"name": "create", "no_log": True, "when": "found | length == 0",
              "ansible.builtin.uri": {"url": base, "method": "POST", "headers": headers,
                                      "body_format": "json", "status_code": [200],
                                      "body": {"name": "bench",
                                               "policies": cloudflare_policies()}}}
    roll = {"name": "roll", "no_log": True, "register": "rolled",
            "ansible.builtin.uri": {"url": base + "/{{ found[0].id }}/value", "method": "PUT",
                                    "headers": headers, "body_format": "json", "body": {}}}
    return {"no-op": find + [create], "rotation": find + [roll]}


case(platform="cloudflare", module="cloudflare_token", title="Cloudflare user token",
     setup=cloudflare_setup, operations=cloudflare_operations,
     collection_jobs=cloudflare_collection_jobs, uri_jobs=cloudflare_uri_jobs,
     extra_vars=lambda conn: {"bench_token": conn["api_token"]})

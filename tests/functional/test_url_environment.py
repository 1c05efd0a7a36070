"""The vendors' URL variables as ``api_url`` fallbacks (issue 17): a value that is not an
http(s) URL (``PULUMI_BACKEND_URL=s3://bucket`` names a Pulumi self-managed backend) is ignored
with a warning naming the variable; an error about a value from the environment names the
variable, not ``api_url``."""
import json

import pytest

from tests.functional.harness import run_playbook

# ansible-core's own machinery: runs on every supported ansible-core line (tests/conftest.py)
pytestmark = pytest.mark.core


def pulumi_info(tmp_path, sandbox, env, **args):
    task = {"name": "listed", "tokenops.tokens.pulumi_token_info": {
        "api_token": sandbox["pulumi"].admin_token, "max_retry_wait": 0, "timeout": 3, **args},
        "register": "listed", "ignore_errors": True}
    return run_playbook(tmp_path, [task], env=env)


def test_an_http_url_in_the_variable_is_used(sandbox, tmp_path):
    run = pulumi_info(tmp_path, sandbox, {"PULUMI_BACKEND_URL": sandbox["pulumi"].url})
    assert run.rc == 0, run.output
    assert not run["listed"].get("failed") and not run["listed"].get("warnings")


def test_a_backend_url_in_the_variable_is_ignored_with_a_warning(sandbox, tmp_path):
    # api_url given: the variable plays no part, and nothing warns.
    run = pulumi_info(tmp_path, sandbox, {"PULUMI_BACKEND_URL": "s3://state-bucket"},
                      api_url=sandbox["pulumi"].url)
    assert not run["listed"].get("failed"), run.output
    assert not run["listed"].get("warnings")
    # api_url not given: the public endpoint is called (unreachable from the test machine, or
    # refusing the sandbox's credential), never s3://, and no error blames api_url.
    run = pulumi_info(tmp_path / "unset", sandbox, {"PULUMI_BACKEND_URL": "s3://state-bucket"})
    result = run["listed"]
    assert result["warnings"] == [
        "PULUMI_BACKEND_URL names a URL that is not http(s), so it is not used for api_url "
        "(Pulumi Cloud uses it for other things too); calling https://api.pulumi.com"]
    assert "api_url" not in result.get("msg", ""), result.get("msg")
    assert "s3" not in json.dumps(result.get("msg", ""))


def test_an_error_about_the_variable_names_it(sandbox, tmp_path):
    run = pulumi_info(tmp_path, sandbox,
                      {"PULUMI_BACKEND_URL": "https://ops:hunter2@pulumi.example.com"})
    result = run["listed"]
    assert result["failed"]
    assert result["msg"] == ("the PULUMI_BACKEND_URL environment variable (used for api_url): "
                             "must not contain a user name or password; pass the credential in "
                             "api_token instead")
    assert "hunter2" not in run.output

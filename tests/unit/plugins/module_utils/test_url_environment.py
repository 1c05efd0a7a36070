"""api_url's fallback to the vendors' URL variables (issue 17)."""
import pytest

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import AnsibleFallbackNotFound

from ansible_collections.tokenops.tokens.plugins.module_utils._module import (
    checked_base_url, connection_argument_spec, ignored_url_variable, url_env_fallback,
)
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import InputError


@pytest.mark.parametrize("value", ["s3://state-bucket", "file://~", "azblob://c", "gs://b", ""])
def test_a_value_that_is_not_an_http_url_is_not_a_fallback(monkeypatch, value):
    monkeypatch.setenv("PULUMI_BACKEND_URL", value)
    with pytest.raises(AnsibleFallbackNotFound):
        url_env_fallback("PULUMI_BACKEND_URL")
    assert ignored_url_variable("pulumi") == ("PULUMI_BACKEND_URL" if value else None)


def test_an_http_url_is_the_fallback_and_remembers_its_variable(monkeypatch):
    monkeypatch.setenv("TFE_ADDRESS", "https://tfe.example.com")
    params = ArgumentSpecValidator(connection_argument_spec("tfe")).validate({}).validated_parameters
    assert params["api_url"] == "https://tfe.example.com"
    assert params["api_url"].variable == "TFE_ADDRESS"
    assert ignored_url_variable("tfe") is None
    assert checked_base_url("tfe", params) == "https://tfe.example.com"


def test_the_public_endpoint_when_the_variable_is_ignored(monkeypatch):
    monkeypatch.setenv("PULUMI_BACKEND_URL", "s3://state-bucket")
    params = ArgumentSpecValidator(connection_argument_spec("pulumi")).validate({}).validated_parameters
    assert params["api_url"] is None
    assert checked_base_url("pulumi", params) == "https://api.pulumi.com"


def test_errors_name_the_variable_or_the_option(monkeypatch):
    monkeypatch.setenv("CLOUDTRUTH_SERVER_URL", "https://api.example.com/?x=1")
    params = ArgumentSpecValidator(
        connection_argument_spec("cloudtruth")).validate({}).validated_parameters
    with pytest.raises(InputError) as error:
        checked_base_url("cloudtruth", params)
    assert str(error.value) == ("the CLOUDTRUTH_SERVER_URL environment variable (used for "
                                "api_url): must not contain a query string or fragment")
    given = ArgumentSpecValidator(connection_argument_spec("cloudtruth")).validate(
        {"api_url": "https://api.example.com/?x=1"}).validated_parameters
    with pytest.raises(InputError) as error:
        checked_base_url("cloudtruth", given)
    assert str(error.value) == "api_url: must not contain a query string or fragment"


@pytest.mark.parametrize("value", ["app.terraform.io", "tfe.example.com", "tfe.example.com/api"])
def test_a_host_name_without_a_scheme_fails_naming_the_variable(monkeypatch, value):
    # Ignoring it would send the credential meant for that host to the public endpoint.
    monkeypatch.setenv("TFE_ADDRESS", value)
    params = ArgumentSpecValidator(connection_argument_spec("tfe")).validate({}).validated_parameters
    assert ignored_url_variable("tfe") is None
    with pytest.raises(InputError) as error:
        checked_base_url("tfe", params)
    assert str(error.value).startswith("the TFE_ADDRESS environment variable (used for api_url): "
                                       "must start with https://")

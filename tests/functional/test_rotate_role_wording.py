"""The rotation role's words (issue 26): a first run is information, a ``params`` typo lists
only what ``params`` accepts, ``force`` is called ``force``, and CloudTruth's previous key is
named by its public prefix, not called a secret."""
import pytest

from tests.functional.test_rotate_role import assert_no_leak, file_sink, rotate
from tests.sandbox.core import days_ago
from ansible_collections.tokenops.tokens.plugins.module_utils._timeutil import utcnow
from ansible_collections.tokenops.tokens.plugins.plugin_utils._rotation_plan import (
    ITEM_LEVEL, ValidationError, validate_item,
)

# ansible-core's own machinery: runs on every supported ansible-core line (tests/conftest.py)
pytestmark = pytest.mark.core


def pulumi_item(sandbox, tmp_path, label, **more):
    pulumi = sandbox["pulumi"]
    (tmp_path / "sinks").mkdir(exist_ok=True)
    item = {"provider": "pulumi", "id": label,
            "params": {"api_url": pulumi.url, "api_token": pulumi.admin_token,
                       "description": label},
            "deliver": [file_sink(tmp_path / "sinks" / label)]}
    item.update(more)
    return item


def test_the_first_run_in_a_new_state_directory_says_so_once_as_information(sandbox, tmp_path):
    sandbox["pulumi"].add_personal_token("first-run", created=days_ago(5))
    tokens = [pulumi_item(sandbox, tmp_path, "first-run", max_age="90d")]
    run = rotate(tmp_path, tokens)
    assert run.rc == 0, run.output
    lines = [line for line in run.output.splitlines() if "holds no journal" in line]
    assert len([line for line in run.stdout.splitlines() if "holds no journal" in line]) == 1, \
        run.stdout
    assert lines[0].startswith("tokenops.tokens: rotate_state_dir ")
    assert "first rotation run here" in lines[0]
    assert "[WARNING]" not in run.output, run.output
    again = rotate(tmp_path, tokens, name="again")
    assert again.rc == 0, again.output
    assert "holds no journal" not in again.output
    assert_no_leak(sandbox, run)


@pytest.mark.parametrize("provider, typo", [
    ("pulumi", "descripton"), ("tfe", "organisation"), ("cloudflare", "nmae"),
    ("pactflow", "tpye"), ("cloudtruth", "nmae"),
])
def test_a_params_typo_lists_only_options_params_accepts(provider, typo, tmp_path):
    item = {"provider": provider, "id": "typo", "max_age": "9d",
            "params": {"api_token": "a-credential-of-some-length", typo: "x"},
            "deliver": [file_sink(tmp_path / "s")]}
    with pytest.raises(ValidationError) as raised:
        validate_item(0, item, set(), utcnow())
    message = str(raised.value)
    assert message.startswith("rotate_tokens[typo].params: ") and typo in message, message
    listed = message.split("Supported parameters include: ", 1)[1].rstrip(".").split(", ")
    assert "api_token" in listed and "api_url" in listed, listed
    refused = [option for option in listed if option in ITEM_LEVEL]
    assert refused == [], "listed as supported, then refused as not allowed here: %s" % refused


def test_force_is_reported_as_force(sandbox, tmp_path):
    sandbox["pulumi"].add_personal_token("forced", created=days_ago(1))
    run = rotate(tmp_path, [pulumi_item(sandbox, tmp_path, "forced", force=True)])
    assert run.rc == 0, run.output
    row = run.rows()["forced"]
    assert row["action"] == "rotated" and row["reason"] == "force: true", row
    assert "rotate is always" not in run.output + run.report_md
    assert_no_leak(sandbox, run)


def test_cloudtruth_names_the_previous_key_by_its_public_prefix(sandbox, tmp_path):
    cloudtruth = sandbox["cloudtruth"]
    _id, old_key = cloudtruth.add_service_account("prefix-named", created_at=days_ago(120))
    prefix = old_key.split(".")[0]
    (tmp_path / "sinks").mkdir()
    run = rotate(tmp_path, [{
        "provider": "cloudtruth", "id": "prefix-named", "max_age": "90d",
        "params": {"api_url": cloudtruth.url, "api_token": cloudtruth.admin_token,
                   "name": "prefix-named"},
        "deliver": [file_sink(tmp_path / "sinks" / "prefix-named")]}])
    assert run.rc == 0, run.output
    notes = " ".join(run.rows()["prefix-named"]["notes"])
    assert "rekeyed with a window: the previous key (public prefix %s) works until " % prefix \
        in notes, notes
    assert "previous secret" not in notes
    assert_no_leak(sandbox, run)

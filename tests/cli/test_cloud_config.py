"""cli.cloud_config and cli.keystone_login's pure part: clouds.yaml, OS_*, the catalog."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.cloud_config import CloudConfigError, keystone_auth
from cli.keystone_login import auth_body, endpoints_from_catalog

CLOUDS = """
clouds:
  brume:
    region_name: RegionOne
    auth:
      auth_url: http://127.0.0.1:5000
      username: tester
      project_name: test
      user_domain_name: Default
      project_domain_name: Default
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: http://127.0.0.1:5000/v3
      application_credential_id: abc
      application_credential_secret: s3cret
"""


@pytest.fixture
def clouds_file(tmp_path):
    path = tmp_path / "clouds.yaml"
    path.write_text(CLOUDS)
    (tmp_path / "secure.yaml").write_text(
        "clouds:\n  brume:\n    auth:\n      password: testing\n")
    return str(path)


def test_a_cloud_entry_merged_with_its_secure_yaml(clouds_file):
    auth = keystone_auth("brume", {"OS_CLIENT_CONFIG_FILE": clouds_file})
    assert (auth.username, auth.password, auth.project_name) == ("tester", "testing", "test")
    assert auth.v3_url == "http://127.0.0.1:5000/v3" and auth.region_name == "RegionOne"
    body = auth_body(auth)
    assert body["auth"]["scope"]["project"] == {"name": "test", "domain": {"name": "Default"}}


def test_os_cloud_variable_and_application_credentials(clouds_file):
    auth = keystone_auth(None, {"OS_CLIENT_CONFIG_FILE": clouds_file, "OS_CLOUD": "appcred"})
    assert auth.v3_url == "http://127.0.0.1:5000/v3"
    assert auth_body(auth)["auth"]["identity"]["methods"] == ["application_credential"]


def test_os_variables_as_the_openstack_cli_reads_them():
    env = {"OS_AUTH_URL": "http://127.0.0.1:5000/v3", "OS_USERNAME": "tester",
           "OS_PASSWORD": "testing", "OS_PROJECT_NAME": "test"}
    auth = keystone_auth(None, env)
    assert (auth.user_domain_name, auth.project_domain_name, auth.interface) == (
        "Default", "Default", "public")
    assert keystone_auth(None, {}) is None


@pytest.mark.parametrize("env,message", [
    ({"OS_AUTH_URL": "127.0.0.1:5000", "OS_USERNAME": "u", "OS_PASSWORD": "p",
      "OS_PROJECT_NAME": "p"}, "http"),
    ({"OS_AUTH_URL": "http://x", "OS_USERNAME": "u", "OS_PROJECT_NAME": "p"}, "password"),
    ({"OS_AUTH_URL": "http://x", "OS_USERNAME": "u", "OS_PASSWORD": "p"}, "project"),
    ({"OS_AUTH_URL": "http://x", "OS_APPLICATION_CREDENTIAL_ID": "i"}, "secret"),
])
def test_incomplete_variables_are_one_line_errors(env, message):
    with pytest.raises(CloudConfigError, match=message):
        keystone_auth(None, env)


def test_missing_cloud_and_bad_files(tmp_path, clouds_file):
    with pytest.raises(CloudConfigError, match="no cloud named 'nope'"):
        keystone_auth("nope", {"OS_CLIENT_CONFIG_FILE": clouds_file})
    bad = tmp_path / "bad" / "clouds.yaml"
    bad.parent.mkdir()
    bad.write_text("clouds: [unclosed")
    with pytest.raises(CloudConfigError, match="not valid YAML"):
        keystone_auth("x", {"OS_CLIENT_CONFIG_FILE": str(bad)})
    bad.write_text("!!python/object/apply:os.system ['true']")
    with pytest.raises(CloudConfigError):
        keystone_auth("x", {"OS_CLIENT_CONFIG_FILE": str(bad)})


def test_endpoints_by_interface_and_region():
    catalog = [
        {"type": "object-store", "endpoints": [
            {"interface": "internal", "region": "RegionOne", "url": "http://int/v1/AUTH_t"},
            {"interface": "public", "region": "RegionTwo", "url": "http://two/v1/AUTH_t"},
            {"interface": "public", "region": "RegionOne", "url": "http://one/v1/AUTH_t/"}]},
        {"type": "image", "endpoints": [{"interface": "public", "region_id": "RegionOne",
                                         "url": "http://img"}]},
        {"type": "network", "endpoints": [{"interface": "public", "region_id": "RegionOne",
                                           "url": "http://net:9696/"}]},
    ]
    found = endpoints_from_catalog(catalog, "public", "RegionOne")
    assert found == {"storage_url": "http://one/v1/AUTH_t", "image_url": "http://img",
                     "compute_url": "", "network_url": "http://net:9696"}


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20))
def test_junk_catalogs_never_raise(catalog):
    assert set(endpoints_from_catalog(catalog, "public", "")) == {
        "storage_url", "image_url", "compute_url", "network_url"}

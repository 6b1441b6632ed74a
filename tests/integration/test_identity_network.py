"""The session cluster's identity service (Keystone v3) and network service (Neutron v2.0),
as `brume up` starts them, driven by the unmodified keystoneauth1 and openstacksdk: a token
from the identity service carries a catalog naming every endpoint of this cluster, and the
network service accepts that token (one shared Fernet key file in the conf dir)."""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

import pytest

from cli.allinone.configs import find_option

pytestmark = pytest.mark.cluster


def session(cluster, project: str = "test", user: str = "tester", password: str = "testing"):
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import v3

    auth = v3.Password(auth_url=cluster.identity_url + "/v3", username=user,
                       password=password, project_name=project,
                       user_domain_name="Default", project_domain_name="Default")
    return ks_session.Session(auth=auth)


def expected_endpoints(cluster) -> dict[str, str]:
    return {
        "identity": cluster.identity_url + "/v3",
        "object-store": cluster.proxy_url + "/v1/AUTH_test",
        "image": cluster.image_url,
        "compute": cluster.compute_url + "/v2.1",
        "network": cluster.network_url,
        "block-storage": cluster.volume_url + "/v3/test",
        "volumev3": cluster.volume_url + "/v3/test",
        "dashboard": cluster.dashboard_url,
    }


def test_token_catalog_lists_every_endpoint_of_the_cluster(cluster):
    sess = session(cluster)
    access = sess.auth.get_access(sess)
    assert access.project_name == "test" and access.username == "tester"
    assert "member" in access.role_names
    catalog = access.service_catalog
    for kind, url in expected_endpoints(cluster).items():
        for interface in ("public", "internal", "admin"):
            assert catalog.url_for(service_type=kind, interface=interface) == url, (kind,
                                                                                  interface)
    # The object-store endpoint is the account Swift v1 auth gives the same user.
    assert cluster.storage_url("test:tester") == expected_endpoints(cluster)["object-store"]


def test_identity_token_creates_and_lists_a_network(cluster, name):
    openstack = pytest.importorskip("openstack")
    conn = openstack.connection.Connection(session=session(cluster), region_name="RegionOne")
    net_name = name("net")
    network = conn.network.create_network(name=net_name)
    try:
        assert network.project_id == "test"
        assert net_name in {net.name for net in conn.network.networks()}
        subnet = conn.network.create_subnet(network_id=network.id, ip_version=4,
                                            cidr="10.42.0.0/24", name=name("sub"))
        assert subnet.gateway_ip == "10.42.0.1"
    finally:
        conn.network.delete_network(network.id)
    assert net_name not in {net.name for net in conn.network.networks()}


def test_same_credentials_in_both_auth_systems(cluster):
    """Every Swift v1 user logs in to the identity service with its key; a reader cannot
    write to the network service; no token, no entry."""
    for user, key in cluster.credentials.items():
        project, _, name = user.partition(":")
        access = session(cluster, project, name, key).get_auth_headers()
        assert access["X-Auth-Token"], user
    reader = session(cluster, "test", "tester3", cluster.credentials["test:tester3"])
    token = reader.get_auth_headers()["X-Auth-Token"]
    body = json.dumps({"network": {"name": "nope"}}).encode()
    request = urllib.request.Request(cluster.network_url + "/v2.0/networks", data=body,
                                     method="POST", headers={"X-Auth-Token": token,
                                                             "Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403
    with pytest.raises(urllib.error.HTTPError) as anonymous:
        urllib.request.urlopen(cluster.network_url + "/v2.0/networks", timeout=30)
    assert anonymous.value.code == 401


def test_services_share_one_generated_token_key(cluster):
    key_file = os.path.join(cluster.conf_dir, "fernet-keys")
    assert os.stat(key_file).st_mode & 0o777 == 0o600
    for name in ("identity-api", "network-api"):
        conf = cluster.service_spec(name).conf_path
        assert find_option(conf, "token_key_file") == key_file


def test_a_token_revoked_at_identity_is_refused_by_the_network_service(cluster):
    """The network service polls revocation events as the cluster's service user."""
    from tests.integration.support import wait_until

    token = session(cluster).get_auth_headers()["X-Auth-Token"]

    def network_status() -> int:
        request = urllib.request.Request(cluster.network_url + "/v2.0/networks",
                                         headers={"X-Auth-Token": token})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status
        except urllib.error.HTTPError as exc:
            return exc.code

    assert network_status() == 200
    revoke = urllib.request.Request(cluster.identity_url + "/v3/auth/tokens", method="DELETE",
                                    headers={"X-Auth-Token": token, "X-Subject-Token": token})
    with urllib.request.urlopen(revoke, timeout=30) as answer:
        assert answer.status == 204
    wait_until(lambda: network_status() == 401, timeout=40, interval=0.5,
               message="the network service still accepts a revoked token")
    with open(cluster.layout.log_path("network-api"), encoding="utf-8") as handle:
        assert "Traceback" not in handle.read()

"""Keystone identity across the whole all-in-one cluster, with the unmodified OpenStack
clients (the `openstack` CLI, openstacksdk) and the `swift` CLI: objects stored through
Swift v1 auth and through Keystone land in the same account; an admin's new project, member
and reader; tenants see nothing of each other in any service; a reader writes nowhere; a
revoked token, a disabled user and a changed password are refused by the proxy, the image,
compute and network APIs within seconds; `openstack server create --wait` boots a server."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
import uuid

import pytest

from tests.integration.support import wait_until
from tests.integration.test_keystone_tokens import call, v3_token

pytestmark = pytest.mark.cluster

OPENSTACK = shutil.which("openstack")
SWIFT = shutil.which("swift")


def clean_env(tmp_path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "ST_"))}
    env["HOME"] = str(tmp_path)
    return env


def openstack(cluster, tmp_path, user, password, project, *args, check=True):
    assert OPENSTACK, "the openstack CLI is missing: ./install.sh --dev installs it"
    env = clean_env(tmp_path)
    env.update({"OS_AUTH_URL": cluster.identity_url + "/v3", "OS_IDENTITY_API_VERSION": "3",
                "OS_USERNAME": user, "OS_PASSWORD": password, "OS_PROJECT_NAME": project,
                "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
                "OS_REGION_NAME": "RegionOne"})
    done = subprocess.run([OPENSTACK, *args], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    if check:
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    if "json" in args and done.returncode == 0:
        return json.loads(done.stdout or "null")
    return done


def swift_cli(cluster, tmp_path, user, key, *args):
    assert SWIFT, "the swift CLI is missing"
    done = subprocess.run([SWIFT, "-A", cluster.auth_url, "-U", user, "-K", key, *args],
                          env=clean_env(tmp_path), cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def v1_auth(cluster, user, key) -> tuple[int, str, str]:
    request = urllib.request.Request(cluster.auth_url,
                                     headers={"X-Auth-User": user, "X-Auth-Key": key})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return (answer.status, answer.headers["X-Auth-Token"],
                    answer.headers["X-Storage-Url"])
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code, "", ""


def admin_sdk(cluster):
    import openstack as sdk

    return sdk.connect(auth_url=cluster.identity_url + "/v3", project_name="admin",
                       username="admin", password=cluster.credentials["admin:admin"],
                       user_domain_name="Default", project_domain_name="Default",
                       region_name="RegionOne", load_yaml_config=False, load_envvars=False)


@pytest.fixture(scope="module")
def tenant(cluster):
    """A project made by the admin, with a `member` and a `reader` user (openstacksdk)."""
    conn = admin_sdk(cluster)
    tag = uuid.uuid4().hex[:8]
    project = conn.identity.create_project(name=f"ks-{tag}", domain_id="default")
    people = {}
    for role_name in ("member", "reader"):
        user = conn.identity.create_user(name=f"ks-{role_name}-{tag}", password=f"pw-{tag}",
                                         default_project_id=project.id, domain_id="default")
        conn.identity.assign_project_role_to_user(project, user,
                                                  conn.identity.find_role(role_name))
        people[role_name] = user
    return {"project": project, "tag": tag, "password": f"pw-{tag}", "users": people,
            "admin": conn}


def token_of(cluster, tenant, role, password=None) -> str:
    return v3_token(cluster, tenant["users"][role].name, password or tenant["password"],
                    tenant["project"].name)


def service_urls(cluster, project_id) -> dict[str, str]:
    return {"proxy": f"{cluster.proxy_url}/v1/AUTH_{project_id}",
            "image": cluster.image_url + "/v2/images",
            "compute": cluster.compute_url + "/v2.1/servers",
            "network": cluster.network_url + "/v2.0/networks"}


def put(url, token, body=b"") -> int:
    request = urllib.request.Request(url, method="PUT", data=body,
                                     headers={"X-Auth-Token": token})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()
            return answer.status
    except urllib.error.HTTPError as exc:
        exc.read()
        return exc.code


def get_json(url, token):
    request = urllib.request.Request(url, headers={"X-Auth-Token": token,
                                                   "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def test_swift_v1_and_the_openstack_cli_share_the_account(cluster, tmp_path, name):
    container = name("kscli")
    (tmp_path / "by-swift.txt").write_text("stored with swift v1\n")
    (tmp_path / "by-openstack.txt").write_text("stored with openstack\n")
    swift_cli(cluster, tmp_path, "test:tester", "testing", "upload", container, "by-swift.txt")
    openstack(cluster, tmp_path, "tester", "testing", "test",
              "object", "create", container, "by-openstack.txt", "-f", "json")
    listed = openstack(cluster, tmp_path, "tester", "testing", "test",
                       "object", "list", container, "-f", "json")
    assert sorted(item["Name"] for item in listed) == ["by-openstack.txt", "by-swift.txt"]
    both = swift_cli(cluster, tmp_path, "test:tester", "testing", "list", container)
    assert both.stdout.split() == ["by-openstack.txt", "by-swift.txt"]
    created = openstack(cluster, tmp_path, "tester", "testing", "test",
                        "container", "create", name("ksmade"), "-f", "json")
    assert created
    containers = openstack(cluster, tmp_path, "tester", "testing", "test",
                           "container", "list", "-f", "json")
    assert container in {item["Name"] for item in containers}


def test_a_new_projects_users_get_its_account_by_either_auth(cluster, tenant, tmp_path):
    project, tag = tenant["project"], tenant["tag"]
    member = tenant["users"]["member"].name
    status, token, storage_url = v1_auth(cluster, f"{project.name}:{member}",
                                         tenant["password"])
    assert status == 200 and storage_url == f"{cluster.proxy_url}/v1/AUTH_{project.id}"
    (tmp_path / "v1.txt").write_text("v1\n")
    swift_cli(cluster, tmp_path, f"{project.name}:{member}", tenant["password"], "upload",
              f"box-{tag}", "v1.txt")
    listed = openstack(cluster, tmp_path, member, tenant["password"], project.name,
                       "object", "list", f"box-{tag}", "-f", "json")
    assert [item["Name"] for item in listed] == ["v1.txt"]
    assert v1_auth(cluster, f"{project.name}:{member}", "wrong")[0] == 401
    assert v1_auth(cluster, f"test:{member}", tenant["password"])[0] == 401


def test_tenants_see_nothing_of_each_other(cluster, tenant, name):
    tester = v3_token(cluster, "tester", "testing")
    mine = token_of(cluster, tenant, "member")
    pid = tenant["project"].id
    # The test project's private things, in every service.
    secret_box = name("secret")
    assert put(f"{cluster.proxy_url}/v1/AUTH_test/{secret_box}", tester) in (201, 202)
    assert put(f"{cluster.proxy_url}/v1/AUTH_test/{secret_box}/o", tester, b"x") == 201
    image = name("private-img")
    assert call("POST", cluster.image_url + "/v2/images", tester,
                {"name": image, "disk_format": "raw", "container_format": "bare"}) == 201
    network = name("private-net")
    assert call("POST", cluster.network_url + "/v2.0/networks", tester,
                {"network": {"name": network}}) == 201
    # The new project's member: nothing of it, anywhere.
    for path in ("", f"/{secret_box}", f"/{secret_box}/o"):
        assert call("GET", f"{cluster.proxy_url}/v1/AUTH_test{path}", mine) == 403
    assert put(f"{cluster.proxy_url}/v1/AUTH_test/{secret_box}/evil", mine) == 403
    assert image not in {i["name"] for i in get_json(cluster.image_url + "/v2/images",
                                                     mine)["images"]}
    assert network not in {n["name"] for n in get_json(
        cluster.network_url + "/v2.0/networks", mine)["networks"]}
    assert all(s.get("tenant_id", pid) == pid for s in get_json(
        cluster.compute_url + "/v2.1/servers/detail", mine)["servers"])
    # ... and works in its own project.
    assert put(f"{cluster.proxy_url}/v1/AUTH_{pid}/own", mine) in (201, 202)
    assert put(f"{cluster.proxy_url}/v1/AUTH_{pid}/own/o", mine, b"mine") == 201
    assert call("POST", cluster.image_url + "/v2/images", mine,
                {"name": name("own-img"), "disk_format": "raw",
                 "container_format": "bare"}) == 201
    assert call("POST", cluster.network_url + "/v2.0/networks", mine,
                {"network": {"name": name("own-net")}}) == 201
    assert call("GET", f"{cluster.proxy_url}/v1/AUTH_{pid}/own", tester) == 403
    # The services' own user (admin of project service; the compute agents fetch images as it)
    # still sees every project's images with its Swift v1 token, as with a Keystone one.
    _status, service, _url = v1_auth(cluster, "service:brume",
                                     cluster.credentials["service:brume"])
    assert image in {i["name"] for i in get_json(cluster.image_url + "/v2/images",
                                                 service)["images"]}


def test_a_reader_reads_but_writes_nowhere(cluster, tenant, name):
    member = token_of(cluster, tenant, "member")
    reader = token_of(cluster, tenant, "reader")
    pid = tenant["project"].id
    store = f"{cluster.proxy_url}/v1/AUTH_{pid}"
    assert put(f"{store}/shelf", member) in (201, 202)
    assert put(f"{store}/shelf/book", member, b"text") == 201
    assert call("GET", f"{store}/shelf/book", reader) == 200
    assert call("GET", store, reader) == 200
    assert put(f"{store}/shelf/scribble", reader, b"no") == 403
    assert put(f"{store}/new-shelf", reader) == 403
    assert call("DELETE", f"{store}/shelf/book", reader) == 403
    assert call("POST", cluster.image_url + "/v2/images", reader,
                {"name": name("ro"), "disk_format": "raw", "container_format": "bare"}) == 403
    assert call("POST", cluster.compute_url + "/v2.1/servers", reader,
                {"server": {"name": name("ro"), "flavorRef": "1", "imageRef": "x"}}) == 403
    assert call("POST", cluster.network_url + "/v2.0/networks", reader,
                {"network": {"name": name("ro")}}) == 403
    assert put(f"{cluster.proxy_url}/v1/AUTH_test/anything", reader) == 403


def test_acls_name_keystone_projects_and_users_by_name_or_id(cluster, tenant, name):
    tester = v3_token(cluster, "tester", "testing")
    project, user = tenant["project"], tenant["users"]["member"]
    box = f"{cluster.proxy_url}/v1/AUTH_test/{name('acl')}"
    assert put(box, tester) in (201, 202)
    assert put(box + "/o", tester, b"shared") == 201
    _status, v1_token, _url = v1_auth(cluster, f"{project.name}:{user.name}",
                                      tenant["password"])
    for token in (token_of(cluster, tenant, "member"), v1_token):
        assert call("GET", box + "/o", token) == 403
    for acl in (f"{project.name}:{user.name}", f"{project.id}:{user.id}", f"{project.id}:*",
                f"*:{user.name}"):
        request = urllib.request.Request(box, method="POST", headers={
            "X-Auth-Token": tester, "X-Container-Read": acl})
        with urllib.request.urlopen(request, timeout=30) as answer:
            assert answer.status == 204
        for token in (token_of(cluster, tenant, "member"), v1_token):
            wait_until(lambda token=token: call("GET", box + "/o", token) == 200, timeout=30,
                       interval=0.5, what=f"read access by the ACL {acl}")
    # The seeded users' ids are their names: test:tester3 is one name for both tokens.
    request = urllib.request.Request(box, method="POST", headers={
        "X-Auth-Token": tester, "X-Container-Read": "test:tester3"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 204
    _status, tester3_v1, _url = v1_auth(cluster, "test:tester3", "testing3")
    assert call("GET", box + "/o", tester3_v1) == 200
    assert put(box + "/nope", tester3_v1, b"x") == 403


def refused_everywhere(cluster, token, project_id, what):
    for service, url in service_urls(cluster, project_id).items():
        wait_until(lambda url=url: call("GET", url, token) == 401, timeout=60, interval=0.5,
                   what=f"the {service} refusing {what}")


def accepted_everywhere(cluster, token, project_id):
    for service, url in service_urls(cluster, project_id).items():
        assert call("GET", url, token) in (200, 204), service


def test_revoked_disabled_and_changed_password_are_refused_everywhere(cluster, tenant):
    conn, pid = tenant["admin"], tenant["project"].id
    user = tenant["users"]["member"]
    member = f"{tenant['project'].name}:{user.name}"
    identity = cluster.identity_url + "/v3"
    token = token_of(cluster, tenant, "member")
    accepted_everywhere(cluster, token, pid)
    request = urllib.request.Request(identity + "/auth/tokens", method="DELETE", headers={
        "X-Auth-Token": token, "X-Subject-Token": token})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 204
    refused_everywhere(cluster, token, pid, "a revoked token")

    token = token_of(cluster, tenant, "member")
    _status, v1_token, _url = v1_auth(cluster, member, tenant["password"])
    accepted_everywhere(cluster, v1_token, pid)
    conn.identity.update_user(user, enabled=False)
    refused_everywhere(cluster, token, pid, "a disabled user's token")
    refused_everywhere(cluster, v1_token, pid, "a disabled user's v1 token")
    assert v1_auth(cluster, member, tenant["password"])[0] == 401
    conn.identity.update_user(user, enabled=True)

    token = token_of(cluster, tenant, "member")
    _status, v1_token, _url = v1_auth(cluster, member, tenant["password"])
    accepted_everywhere(cluster, token, pid)
    conn.identity.update_user(user, password="changed-" + tenant["tag"])
    refused_everywhere(cluster, token, pid, "a token from before a password change")
    refused_everywhere(cluster, v1_token, pid, "a v1 token from before a password change")
    assert v1_auth(cluster, member, tenant["password"])[0] == 401
    status, fresh, _url = v1_auth(cluster, member, "changed-" + tenant["tag"])
    assert status == 200
    accepted_everywhere(cluster, fresh, pid)
    accepted_everywhere(cluster, token_of(cluster, tenant, "member",
                                          "changed-" + tenant["tag"]), pid)
    conn.identity.update_user(user, password=tenant["password"])


def test_openstack_server_create_wait(cluster, tmp_path, name):
    image_file = tmp_path / "tiny.img"
    image_file.write_bytes(os.urandom(64 * 1024))
    image_name = name("os-img")
    openstack(cluster, tmp_path, "tester", "testing", "test", "image", "create",
              "--disk-format", "raw", "--container-format", "bare", "--file",
              str(image_file), image_name, "-f", "json")
    server_name = name("os-vm")
    server = openstack(cluster, tmp_path, "tester", "testing", "test", "server", "create",
                       "--flavor", "m1.tiny", "--image", image_name, "--wait", server_name,
                       "-f", "json")
    assert server["status"] == "ACTIVE", server
    listed = openstack(cluster, tmp_path, "tester", "testing", "test", "server", "list",
                       "-f", "json")
    assert server_name in {item["Name"] for item in listed}
    openstack(cluster, tmp_path, "tester", "testing", "test", "server", "delete", "--wait",
              server["id"])
    listed = openstack(cluster, tmp_path, "tester", "testing", "test", "server", "list",
                       "-f", "json")
    assert server_name not in {item["Name"] for item in listed}

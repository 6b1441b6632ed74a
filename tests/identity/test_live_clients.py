"""The real identity service (`python -m common.wsgi_server`, real socket, real SQLite)
driven by the unmodified OpenStack clients: keystoneauth1, openstacksdk and the `openstack`
CLI (the latter two skipped when not installed)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.identity.conftest import write_conf
from tests.integration.support import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    root = tmp_path_factory.mktemp("identity-live")
    port = free_port()
    conf = write_conf(root, port, identity={"token_key_file": str(root / "fernet-keys")})
    log = open(root / "identity.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "common.wsgi_server", conf], cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT)
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 20
    while True:
        if proc.poll() is not None:
            raise AssertionError((root / "identity.log").read_text())
        try:
            with urllib.request.urlopen(url + "/healthcheck", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)
    assert "Traceback" not in (root / "identity.log").read_text()


def test_discovery_and_401_over_http(service):
    request = urllib.request.Request(service + "/v3/projects")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=5)
    assert caught.value.code == 401
    assert caught.value.headers["WWW-Authenticate"] == f'Keystone uri="{service}"'
    body = json.loads(caught.value.read())
    assert body["error"]["code"] == 401


def test_keystoneauth1_password_session(service):
    from keystoneauth1 import session
    from keystoneauth1.identity import generic, v3

    for auth in (v3.Password(auth_url=service + "/v3", username="admin", password="adminpass",
                             project_name="admin", user_domain_id="default",
                             project_domain_id="default"),
                 generic.Password(auth_url=service, username="tester", password="testing",
                                  project_name="test", user_domain_name="Default",
                                  project_domain_name="Default")):
        sess = session.Session(auth=auth)
        assert sess.get_token()
        assert sess.get_project_id() in ("admin", "test")
        store = sess.get_endpoint(service_type="object-store", interface="public")
        assert store == f"http://127.0.0.1:8080/v1/AUTH_{sess.get_project_id()}"
        assert sess.get_endpoint(service_type="compute", interface="internal",
                                 region_name="RegionOne") == "http://127.0.0.1:8774/v2.1"
        answer = sess.get("/auth/projects", endpoint_filter={"service_type": "identity"})
        assert answer.status_code == 200
        assert sess.get_project_id() in {p["id"] for p in answer.json()["projects"]}
        access = auth.get_access(sess)
        assert access.user_domain_id == "default"
        assert "reader" in access.role_names


def test_keystoneauth1_application_credential(service):
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    sess = session.Session(auth=v3.Password(
        auth_url=service + "/v3", username="tester", password="testing", project_name="test",
        user_domain_id="default", project_domain_id="default"))
    user_id = sess.get_user_id()
    created = sess.post(f"/users/{user_id}/application_credentials",
                        endpoint_filter={"service_type": "identity"},
                        json={"application_credential": {"name": "live"}}).json()
    cred = created["application_credential"]
    cred_sess = session.Session(auth=v3.ApplicationCredential(
        auth_url=service + "/v3", application_credential_id=cred["id"],
        application_credential_secret=cred["secret"]))
    assert cred_sess.get_project_id() == "test"
    assert cred_sess.get_token()


def test_openstacksdk(service):
    openstack = pytest.importorskip("openstack")
    conn = openstack.connect(auth_url=service + "/v3", project_name="admin",
                             username="admin", password="adminpass",
                             user_domain_name="Default", project_domain_name="Default",
                             region_name="RegionOne", load_yaml_config=False,
                             load_envvars=False)
    assert conn.authorize()
    names = {project.name for project in conn.identity.projects()}
    assert {"admin", "test", "service"} <= names
    project = conn.identity.create_project(name="sdk-project", domain_id="default")
    user = conn.identity.create_user(name="sdk-user", password="sdk-pass",
                                     default_project_id=project.id, domain_id="default")
    role = conn.identity.find_role("member")
    conn.identity.assign_project_role_to_user(project, user, role)
    assert conn.identity.validate_user_has_project_role(project, user, role)
    assert any(u.name == "sdk-user" for u in conn.identity.users())
    mine = openstack.connect(auth_url=service + "/v3", project_name="sdk-project",
                             username="sdk-user", password="sdk-pass",
                             user_domain_name="Default", project_domain_name="Default",
                             region_name="RegionOne", load_yaml_config=False,
                             load_envvars=False)
    assert mine.current_project_id == project.id
    assert [p.id for p in mine.identity.projects()] == [project.id]


def test_openstack_cli(service, tmp_path):
    cli = shutil.which("openstack")
    # A test dependency (setup.py's `test` extra): missing, it is a broken install, not a skip.
    assert cli is not None, "the openstack CLI is missing: ./install.sh --dev installs it"
    env = {key: value for key, value in os.environ.items() if not key.startswith("OS_")}
    env.update({"OS_AUTH_URL": service + "/v3", "OS_IDENTITY_API_VERSION": "3",
                "OS_USERNAME": "admin", "OS_PASSWORD": "adminpass",
                "OS_PROJECT_NAME": "admin", "OS_USER_DOMAIN_NAME": "Default",
                "OS_PROJECT_DOMAIN_NAME": "Default", "OS_REGION_NAME": "RegionOne",
                "HOME": str(tmp_path)})

    def run(*args, **extra):
        done = subprocess.run([cli, *args], env={**env, **extra}, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return json.loads(done.stdout) if "json" in args else done.stdout

    token = run("token", "issue", "-f", "json")
    assert token["project_id"] == "admin" and token["id"]
    run("project", "create", "cli-project", "-f", "json")
    user = run("user", "create", "--password", "cli-pass", "--project", "cli-project",
               "cli-user", "-f", "json")
    run("role", "add", "--project", "cli-project", "--user", "cli-user", "member")
    listed = run("role", "assignment", "list", "--user", user["id"], "--names", "-f", "json")
    assert [(a["Role"], a["Project"]) for a in listed] == [("member", "cli-project@Default")]
    catalog = run("catalog", "list", "-f", "json")
    assert {entry["Type"] for entry in catalog} >= {"identity", "object-store"}
    endpoints = run("endpoint", "list", "--service", "object-store", "-f", "json")
    assert {e["Interface"] for e in endpoints} == {"public", "internal", "admin"}
    as_user = {"OS_USERNAME": "cli-user", "OS_PASSWORD": "cli-pass",
               "OS_PROJECT_NAME": "cli-project"}
    theirs = run("token", "issue", "-f", "json", **as_user)
    assert theirs["user_id"] == user["id"]
    cred = {key.lower(): value for key, value in run(
        "application", "credential", "create", "script", "-f", "json", **as_user).items()}
    assert cred["secret"] and "member" in str(cred["roles"])
    by_cred = run("token", "issue", "-f", "json", OS_AUTH_TYPE="v3applicationcredential",
                  OS_APPLICATION_CREDENTIAL_ID=cred["id"],
                  OS_APPLICATION_CREDENTIAL_SECRET=cred["secret"], OS_USERNAME="",
                  OS_PASSWORD="", OS_PROJECT_NAME="", OS_USER_DOMAIN_NAME="",
                  OS_PROJECT_DOMAIN_NAME="")
    assert by_cred["user_id"] == user["id"]


def test_concurrent_duplicate_creations_get_one_201_and_409s(service):
    from concurrent.futures import ThreadPoolExecutor

    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    sess = session.Session(auth=v3.Password(
        auth_url=service + "/v3", username="admin", password="adminpass",
        project_name="admin", user_domain_id="default", project_domain_id="default"))
    sess.get_token()

    def create(_):
        return sess.post("/projects", endpoint_filter={"service_type": "identity"},
                         json={"project": {"name": "race"}}, raise_exc=False)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(create, range(8)))
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [201] + [409] * 7, codes
    conflict = next(a for a in answers if a.status_code == 409).json()
    assert conflict["error"]["title"] == "Conflict"

"""Rendering the all-in-one cluster's configs from the etc/ samples (no processes)."""
from __future__ import annotations

import configparser
import os

import pytest

from cli.allinone import configs
from cli.allinone.layout import SAMPLE_DIR, Layout, available, check_ip_prefix, load_layout
from common.config import ConfigError

SAMPLE = """\
# A sample.
[server]
app = storage.objects.server:make_app
# Address to listen on.
bind_ip = 127.0.0.1
bind_port = 6200
conf_dir = /etc/brume

[object-server]
devices = /srv/node
# mount_check = false
# recon_dir = /var/cache/brume/recon
cache = /var/lib/brume/cache
proxy = http://127.0.0.1:8080/v1
# Where images come from.
# image_url = http://127.0.0.1:9292
# A commented alternative that names nothing conventional stays commented.
# mode = fast
# Prose with an equals sign = not an option.
"""


@pytest.fixture
def layout(tmp_path):
    return Layout(data_dir=str(tmp_path), ip_prefix="127.0.9.", storage_port=7000,
                  proxy_port=7100)


def parse(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def test_render_overrides_rewrites_and_keeps_comments(layout):
    spec = layout.storage_spec(3, "object")
    text = configs.render(
        SAMPLE,
        configs.overrides_for(layout, spec),
        {**configs.anywhere_overrides(layout, spec), "recon_dir": "/x/recon"},
        configs.location_rewrites(layout, spec),
        "# header\n",
    )
    parser = parse(text)
    assert parser["server"]["bind_ip"] == "127.0.9.3"
    assert parser["server"]["bind_port"] == "7000"
    assert parser["server"]["conf_dir"] == layout.conf_dir
    assert parser["server"]["app"] == "storage.objects.server:make_app"
    section = parser["object-server"]
    assert section["devices"] == layout.devices_root(3)
    assert section["mount_check"] == "false"  # commented in the sample: appended
    assert section["recon_dir"] == "/x/recon"
    assert section["cache"] == os.path.join(layout.var_dir("node3"), "cache")
    assert section["proxy"] == "http://127.0.9.1:7100/v1"
    assert section["image_url"] == "http://127.0.9.1:9292"
    assert "mode" not in section
    assert "# Address to listen on." in text and text.startswith("# header\n")


def test_render_adds_missing_sections(layout):
    text = configs.render("[a]\nx = 1\n", {"b": {"y": "2"}}, {}, [], "")
    parser = parse(text)
    assert parser["a"]["x"] == "1" and parser["b"]["y"] == "2"


def test_write_process_config_never_overwrites(layout):
    spec = layout.storage_spec(1, "object")
    if available(spec) is not None and not os.path.exists(
            os.path.join(SAMPLE_DIR, spec.sample)):
        pytest.fail("etc/object-server.conf must exist")
    assert configs.write_process_config(layout, spec)
    with open(spec.conf_path, "a", encoding="utf-8") as handle:
        handle.write("# local edit\n")
    assert not configs.write_process_config(layout, spec)
    with open(spec.conf_path, encoding="utf-8") as handle:
        assert handle.read().endswith("# local edit\n")


def test_set_option_anywhere_changes_only_live_lines(tmp_path):
    path = tmp_path / "agent.conf"
    path.write_text("[a]\n# libvirt_uri = old\nlibvirt_uri = qemu:///system\n")
    assert configs.set_option_anywhere(str(path), "libvirt_uri", "test:///default")
    assert path.read_text() == "[a]\n# libvirt_uri = old\nlibvirt_uri = test:///default\n"
    assert not configs.set_option_anywhere(str(path), "libvirt_uri", "test:///default")


def test_read_users_keeps_colon_names(tmp_path):
    path = tmp_path / "proxy.conf"
    path.write_text("[users]\ntest:tester = testing .admin\nadmin:admin = admin .admin "
                    ".reseller_admin\n")
    assert configs.read_users(str(path)) == {
        "test:tester": ("testing", [".admin"]),
        "admin:admin": ("admin", [".admin", ".reseller_admin"]),
    }


@pytest.mark.parametrize("prefix", ["10.0.0.", "127.0.0", "abc", "127.0.0.1."])
def test_ip_prefix_must_be_loopback(prefix):
    with pytest.raises(ConfigError):
        check_ip_prefix(prefix)


def test_layout_roundtrip(layout):
    layout.test_driver = True
    layout.save()
    loaded = load_layout(layout.data_dir)
    assert loaded == layout
    assert loaded.spec("object-2").port == 7000 and loaded.spec("account-2").port == 7002
    # the agents take compute_port + 1, + 2, skipping the volume service's port
    ports = {loaded.spec(f"agent-hv{n}").port for n in (1, 2)}
    assert loaded.volume_port not in ports and len(ports) == 2
    assert ports <= {layout.compute_port + k for k in (1, 2, 3)}
    assert load_layout(os.path.join(layout.data_dir, "nothing-here")) is None


def test_a_data_dir_from_before_the_volume_service_keeps_its_agents_ports(tmp_path):
    import json

    from cli.allinone.layout import Layout

    old = Layout(data_dir=str(tmp_path), compute_port=8774)
    old.save()
    path = os.path.join(old.conf_dir, "cluster.json")
    with open(path) as handle:
        data = json.load(handle)
    del data["volume_port"]
    with open(path, "w") as handle:
        json.dump(data, handle)
    loaded = load_layout(str(tmp_path))
    assert loaded.spec("agent-hv2").port == 8776 and loaded.volume_port == 8777


def test_cluster_config_gets_its_own_backend_secret_readable_by_its_owner_only(tmp_path):
    from common.backend_auth import DEV_BACKEND_SECRET, load_backend_auth

    secrets = []
    for name in ("one", "two"):
        layout = Layout(data_dir=str(tmp_path / name), ip_prefix="127.0.9.")
        assert configs.write_cluster_config(layout) is True
        path = os.path.join(layout.conf_dir, "brume.conf")
        assert os.stat(path).st_mode & 0o777 == 0o600
        section = parse(open(path, encoding="utf-8").read())["cluster"]
        assert section["hash_path_prefix"] == "brume-dev-prefix"  # placement as the sample
        secret = section["backend_secret"]
        assert secret != DEV_BACKEND_SECRET and len(secret) >= 32
        assert load_backend_auth(layout.conf_dir).sign("GET", "/x", {}, now=1.0) != \
            load_backend_auth(SAMPLE_DIR).sign("GET", "/x", {}, now=1.0)
        secrets.append(secret)
        assert configs.write_cluster_config(layout) is False  # never rewritten
    assert secrets[0] != secrets[1]


def test_proxy_config_keeps_its_pipeline(layout):
    spec = layout.spec("proxy")
    assert configs.write_process_config(layout, spec)
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.read(spec.conf_path)
    assert parser["server"]["app"] == "proxy.pipeline:make_app"
    assert parser["server"]["conf_dir"] == layout.conf_dir
    assert parser["server"]["bind_port"] == str(layout.proxy_port)
    names = parser["pipeline:main"]["pipeline"].split()
    assert names[0] == "catch_errors" and names[-1] == "proxy-server"
    assert all(parser.has_section(f"filter:{name}") for name in names[:-1])
    assert parser["app:proxy-server"]["use"] == "egg:brume#proxy"
    assert parser["filter:auth"]["token_secret"]
    assert configs.read_users(spec.conf_path)["test:tester"] == ("testing", [".admin"])


def prepared(layout):
    from cli.allinone import lifecycle

    layout.identity_port, layout.network_port = 7500, 7696
    lifecycle.prepare(layout, lifecycle.runnable_specs(layout)[0])
    return layout


def test_identity_config_names_this_clusters_endpoints_and_users(layout):
    from identity.config import load_identity_config

    prepared(layout)
    spec = layout.spec("identity-api")
    assert (spec.ip, spec.port) == (layout.service_ip, 7500)
    config = load_identity_config(spec.conf_path)
    assert config.token_key_file == layout.token_key_file
    assert config.public_url == layout.identity_url
    assert config.db_path == os.path.join(layout.data_dir, "var", "identity", "identity.db")
    expected = {
        "identity": layout.identity_url + "/v3",
        "object-store": layout.proxy_url + "/v1/AUTH_$(project_id)s",
        "image": layout.image_url,
        "compute": layout.compute_url + "/v2.1",
        "network": layout.network_url,
        "block-storage": layout.volume_url + "/v3/$(project_id)s",
        "volumev3": layout.volume_url + "/v3/$(project_id)s",
        "dashboard": layout.dashboard_url,
    }
    for interface in ("public", "internal", "admin"):
        assert {kind: url for (kind, each), url in config.catalog.items()
                if each == interface} == expected
    # The proxy's users, with the same passwords: one set of credentials for both auths.
    users = configs.read_users(layout.spec("proxy").conf_path)
    seeded = {f"{u.project}:{u.user}": (u.password, u.role) for u in config.bootstrap}
    assert seeded == {name: (key, configs.keystone_role(roles))
                      for name, (key, roles) in users.items()}
    assert seeded["test:tester"] == ("testing", "member")
    assert seeded["test:tester3"] == ("testing3", "reader")
    assert seeded["admin:admin"] == ("admin", "admin")
    assert seeded["service:brume"][1] == "admin"


def test_bootstrap_follows_an_edited_proxy_user_list(layout):
    from identity.config import load_identity_config

    proxy = layout.spec("proxy")
    configs.write_process_config(layout, proxy)
    with open(proxy.conf_path, encoding="utf-8") as handle:
        text = handle.read()
    with open(proxy.conf_path, "w", encoding="utf-8") as handle:
        handle.write(text.replace("test2:tester2 = testing2 .admin\n", "")
                     .replace("[users]\n", "[users]\nops:alice = s3cret .admin\n"))
    spec = layout.spec("identity-api")
    configs.write_process_config(layout, spec)
    seeded = {f"{u.project}:{u.user}": u.role for u in load_identity_config(
        spec.conf_path).bootstrap}
    assert "test2:tester2" not in seeded and seeded["ops:alice"] == "member"


def test_network_config_verifies_identity_tokens_and_polls_as_the_service_user(layout):
    from network.config import load_network_config

    prepared(layout)
    config = load_network_config(layout.spec("network-api").conf_path)
    assert config.token_check["token_key_file"] == layout.token_key_file
    assert config.public_url == layout.network_url
    assert config.auth_url == config.token_check["revocation_url"] == layout.identity_url
    assert (config.token_check["revocation_project"],
            config.token_check["revocation_user"]) == ("service", "brume")
    users = configs.read_users(layout.spec("proxy").conf_path)
    assert config.token_check["revocation_password"] == users["service:brume"][0]
    assert config.db_path == os.path.join(layout.data_dir, "var", "network", "network.db")


def test_dashboard_config_logs_in_with_this_clusters_identity_service(layout):
    from dashboard.config import load_dashboard_config

    layout.dashboard_port = 7800
    prepared(layout)
    spec = layout.spec("dashboard")
    assert (spec.ip, spec.port) == (layout.service_ip, 7800)
    config = load_dashboard_config(spec.conf_path)
    assert config.identity_url == layout.identity_url
    assert config.session_db == os.path.join(layout.data_dir, "var", "dashboard",
                                             "sessions.db")
    assert config.secure_cookies is False


def test_proxy_checks_keystone_tokens_and_v1_passwords_with_the_identity_service(layout):
    from common.config import read_ini
    from proxy.settings import load_auth_settings

    prepared(layout)
    path = layout.spec("proxy").conf_path
    raw = {key: value for key, value in read_ini(path).items("filter:auth", raw=True)
           if key != "use"}
    auth = load_auth_settings({"__file__": path}, raw).auth
    assert auth["token_key_file"] == layout.token_key_file
    assert auth["identity_url"] == auth["revocation_url"] == layout.identity_url
    assert (auth["revocation_project"], auth["revocation_user"]) == ("service", "brume")
    assert auth["reseller_admin_projects"] == ("admin", "service")


def test_one_random_token_key_file_readable_by_its_owner_only(tmp_path):
    from cryptography.fernet import Fernet

    from common.token_format import key_from_secret, read_key_file

    keys = []
    for name in ("one", "two"):
        layout = Layout(data_dir=str(tmp_path / name), ip_prefix="127.0.9.")
        assert configs.write_token_keys(layout) is True
        assert os.stat(layout.token_key_file).st_mode & 0o777 == 0o600
        [key] = read_key_file(layout.token_key_file)
        Fernet(key)
        assert key != key_from_secret("brume-dev-token-secret")
        before = open(layout.token_key_file, encoding="ascii").read()
        assert configs.write_token_keys(layout) is False  # never rewritten
        assert open(layout.token_key_file, encoding="ascii").read() == before
        keys.append(key)
    assert keys[0] != keys[1]


@pytest.mark.parametrize("name", ["identity-api", "network-api"])
def test_new_services_refuse_dev_secrets_off_loopback(layout, name):
    from identity.config import load_identity_config
    from network.config import load_network_config

    prepared(layout)
    conf = layout.spec(name).conf_path
    load = load_identity_config if name == "identity-api" else load_network_config
    load(conf)  # on loopback: accepted
    assert configs.set_option_anywhere(conf, "bind_ip", "10.0.0.1")
    with pytest.raises(ConfigError) as refused:
        load(conf)
    # The dev passwords are refused; the token secret is not in force (the key file is).
    assert "token_secret" not in str(refused.value)
    assert ("bootstrap" if name == "identity-api" else "revocation_password") \
        in str(refused.value)


def test_network_starts_after_identity_and_stops_before_it(layout, monkeypatch):
    from cli.allinone import lifecycle, processes

    specs = lifecycle.runnable_specs(layout)[0]
    assert layout.spec("network-api").kind in lifecycle.SECOND_WAVE_KINDS
    assert layout.spec("identity-api").kind not in lifecycle.SECOND_WAVE_KINDS
    waves = []
    monkeypatch.setattr(processes, "stop", lambda _layout, wave, **kw: waves.append(
        [s.name for s in wave]) or [])
    lifecycle.stop_in_order(layout, specs)
    assert "network-api" in waves[0] and "identity-api" in waves[1]


def test_later_service_ports_apply_to_a_data_dir_until_their_config_exists(layout):
    import argparse

    from cli.cluster import PORT_FLAGS, layout_for_up

    layout.save()  # a cluster made before the identity and network services

    def args(**ports):
        return argparse.Namespace(data_dir=layout.data_dir, ip_prefix=None, test_driver=True,
                                  **{name: ports.get(name) for name in PORT_FLAGS})

    chosen = layout_for_up(args(identity_port=7501, network_port=7697, proxy_port=7999))
    assert (chosen.identity_port, chosen.network_port) == (7501, 7697)
    assert chosen.proxy_port == 7100  # its configs name that port: kept
    configs.write_process_config(chosen, chosen.spec("identity-api"))
    chosen.save()
    again = layout_for_up(args(identity_port=7502, network_port=7698))
    assert (again.identity_port, again.network_port) == (7501, 7698)

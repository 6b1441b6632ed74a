"""Writing the all-in-one cluster's per-process configs from the samples in etc/.

Each config is the etc/ sample, comments and all, with a few values changed:
- explicit overrides per process (`[server] bind_ip/bind_port/conf_dir`, the agent's name
  and libvirt URI, ...), set where the sample has the option or appended to its section;
- the sample's conventional locations moved into the data dir (`/srv/node` → the node's
  devices root, `/var/lib/brume` → `DIR/var/...`, `/etc/brume` → the conf dir, ...);
- the conventional endpoints (`http://127.0.0.1:8080`, `:9292`, `:8774`, `:5000`, `:9696`)
  moved to the cluster's actual proxy, image, compute, identity and network addresses (so
  the identity service's `[catalog]` lists this cluster's endpoints);
- the identity and network services share the conf dir's Fernet key file (`fernet-keys`,
  random, 0600, written once by `write_token_keys`); the identity service is seeded
  (`[bootstrap]`) with the proxy's `[users]`, so the same credentials work with Swift v1 auth
  and Keystone v3 (`.reseller_admin` → admin, `.admin` → member, neither → reader), and the
  network, image and compute services and the proxy poll revocation events as the proxy's
  service user; the proxy's `/auth/v1.0` checks passwords with the identity service
  (`identity_url`), so a password changed there is the one Swift v1 auth takes.
A commented-out default that names a conventional location or endpoint (`# image_url =
http://127.0.0.1:9292`) is written out, uncommented, with the cluster's value, unless the
section sets that option anyway.
An existing file is never overwritten, so re-running `brume up` keeps every local change.
"""
from __future__ import annotations

import base64
import configparser
import os
import re
import secrets

from cli.allinone.layout import AGENT_NAMES, SAMPLE_DIR, Layout, ProcessSpec
from common.atomic_files import write_atomic
from common.config import ConfigError

SECTION_RE = re.compile(r"^\s*\[([^\]]+)\]\s*$")
OPTION_RE = re.compile(r"^(?P<key>[^#;=\s][^=]*?)\s*=(?P<value>.*)$")

TEST_LIBVIRT_URI = "test:///default"
QEMU_LIBVIRT_URI = "qemu:///system"


def location_rewrites(layout: Layout, spec: ProcessSpec) -> list[tuple[str, str]]:
    """(conventional prefix, this cluster's) pairs, most specific first."""
    if spec.node is not None:
        state = layout.var_dir(f"node{spec.node}")
    elif spec.agent is not None:
        state = layout.var_dir(spec.agent)
    else:
        state = os.path.join(layout.data_dir, "var")
    pairs = [
        ("http://127.0.0.1:8080", layout.proxy_url),
        ("http://127.0.0.1:9292", layout.image_url),
        ("http://127.0.0.1:8774", layout.compute_url),
        ("http://127.0.0.1:5000", layout.identity_url),
        ("http://127.0.0.1:9696", layout.network_url),
        ("http://127.0.0.1:8776", layout.volume_url),
        ("http://127.0.0.1:8000", layout.dashboard_url),
        ("/var/lib/brume", state),
        ("/var/cache/brume", os.path.join(state, "cache")),
        ("/var/log/brume", layout.log_dir),
        ("/var/run/brume", layout.run_dir),
        ("/run/brume", layout.run_dir),
        ("/etc/brume", layout.conf_dir),
    ]
    if spec.node is not None:
        pairs.insert(0, ("/srv/node", layout.devices_root(spec.node)))
    return pairs


# The services that check Keystone tokens locally (common.token_check), by config section:
# they share the identity service's key file and poll its revocation events.
TOKEN_CHECK_SECTIONS = {"network": "network", "image": "image-api", "compute": "compute-api",
                        "proxy": "filter:auth", "volume": "volume"}


def overrides_for(layout: Layout, spec: ProcessSpec) -> dict[str, dict[str, str]]:
    """Values this process must have whatever the sample says, by section."""
    values: dict[str, dict[str, str]] = {}
    if spec.port is not None:
        values["server"] = {
            "bind_ip": spec.ip,
            "bind_port": str(spec.port),
            "conf_dir": layout.conf_dir,
        }
    if spec.kind == "identity":
        values["bootstrap"] = {
            name: f"{key} {keystone_role(roles)}" for name, (key, roles) in
            cluster_users(layout).items()
        }
        # Whatever the ports: a sample's commented endpoint is only written out when moved.
        values["catalog"] = {
            "network": layout.network_url,
            "block-storage": f"{layout.volume_url}/v3/$(project_id)s",
            "volumev3": f"{layout.volume_url}/v3/$(project_id)s",
            "dashboard": layout.dashboard_url,
        }
    elif spec.kind in TOKEN_CHECK_SECTIONS:
        name, key = service_user(cluster_users(layout))
        project, _, user = name.partition(":")
        section = values[TOKEN_CHECK_SECTIONS[spec.kind]] = {
            "revocation_url": layout.identity_url,
            "revocation_user": user,
            "revocation_password": key,
            "revocation_project": project,
        }
        if spec.kind == "network":
            section["auth_url"] = layout.identity_url
        if spec.kind == "volume":  # backups: the proxy's v1 auth, as the service user
            section["auth_url"] = layout.auth_url
            section["service_user"], section["service_key"] = name, key
            section["export_host"] = layout.service_ip
        if spec.kind == "compute":  # explicit: a default endpoint stays commented otherwise
            section["network_url"] = layout.network_url
            section["volume_url"] = layout.volume_url
        if spec.kind == "proxy":  # /auth/v1.0 checks passwords with the identity store
            section["identity_url"] = layout.identity_url
    return values


def keystone_role(roles: list[str]) -> str:
    """The identity role of a proxy user with these `[users]` flags."""
    if ".reseller_admin" in roles:
        return "admin"
    if ".admin" in roles:
        return "member"
    return "reader"


def cluster_users(layout: Layout) -> dict[str, tuple[str, list[str]]]:
    """The proxy's `[users]`: from its rendered config, or the sample before it exists."""
    path = layout.spec("proxy").conf_path
    if not os.path.exists(path):
        path = os.path.join(SAMPLE_DIR, layout.spec("proxy").sample)
    return read_users(path)


def service_user(users: dict[str, tuple[str, list[str]]]) -> tuple[str, str]:
    """(`project:user`, key) of the services' own user: `service:*`, else a reseller admin."""
    admins = [name for name, (_key, roles) in users.items() if ".reseller_admin" in roles]
    ranked = [name for name in admins if name.startswith("service:")] + admins
    if not ranked:
        raise ConfigError("the proxy's [users] has no .reseller_admin user for the network "
                          "service to poll the identity service's revocation events as")
    return ranked[0], users[ranked[0]][0]


def anywhere_overrides(layout: Layout, spec: ProcessSpec) -> dict[str, str]:
    """Options set in whichever section of the sample mentions them (set or commented)."""
    values = {"conf_dir": layout.conf_dir}
    if spec.node is not None:
        values["devices"] = layout.devices_root(spec.node)
        values["mount_check"] = "false"
        # Per node: the default (<devices>/../recon) would be shared by all four nodes.
        values["recon_dir"] = os.path.join(layout.var_dir(f"node{spec.node}"), "recon")
    if spec.kind == "agent":
        values["libvirt_uri"] = TEST_LIBVIRT_URI if layout.test_driver else QEMU_LIBVIRT_URI
        for key in ("host", "host_name", "hostname", "agent_name", "hypervisor_name"):
            values[key] = spec.agent
        values["agent_url"] = spec.endpoint
        values["advertise_url"] = spec.endpoint
        # Both agents run on this one host: one datapath (state dir, bridges, ruleset) that
        # carries the ports of either (compute.vm_network).
        values["datapath_dir"] = os.path.join(layout.data_dir, "var", "datapath")
        values["datapath_hosts"] = ",".join(AGENT_NAMES)
    if spec.kind == "identity" or spec.kind in TOKEN_CHECK_SECTIONS:
        values["token_key_file"] = layout.token_key_file
    return values


def options_by_section(lines: list[str], with_commented: bool) -> dict[str, set[str]]:
    """The option keys each section sets; `with_commented`: also those commented out."""
    found: dict[str, set[str]] = {}
    section = None
    for line in lines:
        match = SECTION_RE.match(line)
        if match:
            section = match.group(1).strip()
            found.setdefault(section, set())
            continue
        if with_commented:
            option = OPTION_RE.match(line.lstrip("#; ").rstrip())
        elif line.lstrip().startswith(("#", ";")):
            continue
        else:
            option = OPTION_RE.match(line)
        if section is not None and option:
            found[section].add(option.group("key").strip())
    return found


def render(text: str, sections: dict[str, dict[str, str]], anywhere: dict[str, str],
           rewrites: list[tuple[str, str]], header: str) -> str:
    """Apply overrides and rewrites to an ini text, keeping its comments."""
    lines = text.splitlines()
    mentioned = options_by_section(lines, with_commented=True)
    live = options_by_section(lines, with_commented=False)
    wanted: dict[str, dict[str, str]] = {name: dict(values) for name, values in sections.items()}
    for name, keys in mentioned.items():
        for key, value in anywhere.items():
            if key in keys:
                wanted.setdefault(name, {}).setdefault(key, value)

    out: list[str] = [header]
    remaining: dict[str, str] = {}
    activated: set[str] = set()
    section = None

    def flush() -> None:
        if remaining:
            while out and not out[-1].strip():
                out.pop()
            for key, value in remaining.items():
                out.append(f"{key} = {value}")
            out.append("")
            remaining.clear()

    for line in lines:
        match = SECTION_RE.match(line)
        if match:
            flush()
            section = match.group(1).strip()
            remaining.update(wanted.get(section, {}))
            activated = set()
            out.append(line)
            continue
        commented = line.lstrip().startswith(("#", ";"))
        option = OPTION_RE.match(line.lstrip("#; ") if commented else line)
        if section is not None and option:
            key = option.group("key").strip()
            if commented and (key in live.get(section, ()) or key in activated):
                out.append(line)
                continue
            if key in remaining:
                if commented:
                    out.append(line)
                out.append(f"{key} = {remaining.pop(key)}")
                activated.add(key)
                continue
            value = option.group("value").strip()
            moved = value
            for old, new in rewrites:
                moved = moved.replace(old, new)
            if not commented:
                out.append(f"{key} = {moved}")
            elif moved != value and " " not in key:
                out.append(line)
                out.append(f"{key} = {moved}")
                activated.add(key)
            else:
                out.append(line)
            continue
        out.append(line)
    flush()
    for name, values in wanted.items():
        if name not in mentioned:
            out.append(f"[{name}]")
            out.extend(f"{key} = {value}" for key, value in values.items())
            out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def write_new(path: str, text: str) -> bool:
    """Write `text` to `path` atomically unless the file exists. True if written."""
    if os.path.exists(path):
        return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, text, mode=0o644)
    return True


def write_process_config(layout: Layout, spec: ProcessSpec) -> bool:
    """Create spec's config from its sample unless it exists. True if created."""
    if os.path.exists(spec.conf_path):
        return False
    with open(os.path.join(SAMPLE_DIR, spec.sample), encoding="utf-8") as handle:
        sample = handle.read()
    header = (
        f"# Written by `brume up` for {spec.name} from etc/{spec.sample}; edit freely,\n"
        f"# `brume up` never overwrites it. Every option is documented in that sample.\n"
    )
    sections = overrides_for(layout, spec)
    text = render(
        sample,
        sections,
        anywhere_overrides(layout, spec),
        location_rewrites(layout, spec),
        header,
    )
    if "bootstrap" in sections:  # exactly the cluster's users, not the sample's as well
        text = comment_out_others(text, "bootstrap", set(sections["bootstrap"]))
    return write_new(spec.conf_path, text)


def comment_out_others(text: str, section: str, keep: set[str]) -> str:
    """Comment out the options of `section` whose key is not in `keep`."""
    out, current = [], None
    for line in text.splitlines():
        match = SECTION_RE.match(line)
        if match:
            current = match.group(1).strip()
        elif current == section and not line.lstrip().startswith(("#", ";")):
            option = OPTION_RE.match(line)
            if option and option.group("key").strip() not in keep:
                line = "# " + line
        out.append(line)
    return "\n".join(out) + "\n"


def write_token_keys(layout: Layout) -> bool:
    """Write the conf dir's Fernet key file (one random key, 0600) unless it exists.

    The identity service signs tokens with it and the network service verifies them with it
    (both configs name it as `token_key_file`), so neither relies on the development
    `token_secret`. True if written.
    """
    path = layout.token_key_file
    if os.path.exists(path):
        return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")  # a Fernet key
    write_atomic(path, key + "\n", mode=0o600)
    return True


def write_cluster_config(layout: Layout) -> bool:
    """Write etc/brume.conf into the conf dir, with a random `backend_secret`, unless it exists.

    The file then holds a real secret, so only its owner may read it (0600). A brume.conf
    from before backend signatures has no `backend_secret` and keeps the development default,
    which the servers accept on loopback.
    """
    target = os.path.join(layout.conf_dir, "brume.conf")
    if os.path.exists(target):
        return False
    with open(os.path.join(SAMPLE_DIR, "brume.conf"), encoding="utf-8", newline="") as handle:
        sample = handle.read()
    header = "# Written by `brume up` from etc/brume.conf (backend_secret generated).\n"
    text = render(sample, {"cluster": {"backend_secret": secrets.token_urlsafe(32)}}, {}, [],
                  header)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    write_atomic(target, text, mode=0o600)
    return True


def set_option_anywhere(path: str, key: str, value: str) -> bool:
    """Change every existing `key = value` line of a rendered config. True if one changed."""
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    changed = False
    for index, line in enumerate(lines):
        if line.lstrip().startswith(("#", ";")):
            continue
        option = OPTION_RE.match(line)
        if option and option.group("key").strip() == key:
            if option.group("value").strip() != value:
                lines[index] = f"{key} = {value}"
                changed = True
    if changed:
        write_atomic(path, "\n".join(lines) + "\n", mode=0o644)
    return changed


def read_users(path: str) -> dict[str, tuple[str, list[str]]]:
    """`account:user` -> (key, roles) from a proxy config's [users] section."""
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keep user names' case
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error:
        return {}
    if not parser.has_section("users"):
        return {}
    users = {}
    for name, value in parser.items("users", raw=True):
        if name in parser.defaults():
            continue
        words = value.split()
        if words:
            users[name] = (words[0], words[1:])
    return users


def find_option(path: str, key: str) -> str | None:
    """The first value of `key` in any section of a rendered config."""
    section = None
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                if SECTION_RE.match(line):
                    section = True
                    continue
                if line.lstrip().startswith(("#", ";")) or not section:
                    continue
                option = OPTION_RE.match(line.rstrip("\n"))
                if option and option.group("key").strip() == key:
                    return option.group("value").strip()
    except OSError:
        return None
    return None

"""`brume up`'s start sequence with a compute agent that cannot use its hypervisor: the agents
are switched to libvirt's test driver and started again; any other failure stops everything.
Real processes: a tiny stand-in agent that refuses qemu:///system and otherwise answers
/healthcheck."""
from __future__ import annotations

import os
import textwrap

import pytest

from cli.allinone import lifecycle, processes
from cli.allinone.health import StartupError
from cli.allinone.hypervisor import QEMU_URI, TEST_URI
from cli.allinone.layout import Layout, ProcessSpec
from tests.integration.support import free_port

FAKE_AGENT = textwrap.dedent('''
    """Stand-in agent: exits 2 on qemu:///system, else serves /healthcheck."""
    import configparser, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer

    parser = configparser.ConfigParser()
    parser.read(sys.argv[1])
    section = parser["compute-agent"]
    if section["libvirt_uri"] == "qemu:///system":
        print("no usable hypervisor here", flush=True)
        sys.exit(2)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args):
            pass

    HTTPServer((parser["server"]["bind_ip"], int(parser["server"]["bind_port"])),
               Handler).serve_forever()
''')


@pytest.fixture
def agents(tmp_path, monkeypatch):
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "fake_agent.py").write_text(FAKE_AGENT)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "mods"))
    layout = Layout(data_dir=str(tmp_path / "data"))
    specs = []
    for name in ("hv1", "hv2"):
        conf = tmp_path / "data" / "etc" / name / "compute-agent.conf"
        conf.parent.mkdir(parents=True)
        port = free_port()
        conf.write_text(f"[server]\nbind_ip = 127.0.0.1\nbind_port = {port}\n\n"
                        f"[compute-agent]\nlibvirt_uri = {QEMU_URI}\n")
        specs.append(ProcessSpec(name=f"agent-{name}", kind="agent", module="fake_agent",
                                 conf_path=str(conf), sample="compute-agent.conf",
                                 ip="127.0.0.1", port=port,
                                 agent=name))
    yield layout, specs
    processes.stop(layout, specs, timeout=5)


def test_agents_fall_back_to_the_test_driver(agents):
    layout, specs = agents
    notes = []
    fallback = lifecycle.agent_fallback_to_test_driver(layout, specs, notes.append)
    started = lifecycle.start_all(layout, specs, timeout=20, agent_fallback=fallback)
    assert sorted(started) == ["agent-hv1", "agent-hv2"]
    for spec in specs:
        with open(spec.conf_path, encoding="utf-8") as handle:
            assert f"libvirt_uri = {TEST_URI}" in handle.read()
        assert processes.running_pid(layout, spec) is not None
    assert any("no usable hypervisor here" in note for note in notes)
    assert any("fall back to the test driver" in note for note in notes)


def test_without_fallback_a_failing_agent_stops_everything(agents):
    layout, specs = agents
    with pytest.raises(StartupError) as caught:
        lifecycle.start_all(layout, specs, timeout=20)
    assert caught.value.spec.kind == "agent"
    assert "exited with code 2" in str(caught.value)
    assert all(processes.running_pid(layout, spec) is None for spec in specs)
    assert not [f for f in os.listdir(layout.run_dir) if f.endswith(".pid")]

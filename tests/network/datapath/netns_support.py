"""Network namespaces for the datapath tests: a "node" namespace and one per stand-in VM.

Every namespace is `brume-t<random>` and is created and deleted by the test; processes
left in it (dnsmasq, listeners) are killed by pid before it goes. Nothing here runs a
network command in the host's own namespace: every command is `ip netns exec <ns> ...`.
A VM is a namespace whose `eth0` is one end of a veth pair; the other end is named as the
port's tap and enslaved to the port's bridge in the node namespace, as libvirt would do.
"""
from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time

REQUIRED = ("ip", "nft", "dnsmasq", "busybox", "sysctl", "conntrack")

UDHCPC_SCRIPT = """#!/bin/sh
# udhcpc hook of the datapath tests: configure eth0 and note what the server said.
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    [ -n "$router" ] && ip route replace default via "$router" dev "$interface"
    echo "ip=$ip mask=$mask router=$router dns=$dns mtu=$mtu hostname=$hostname" > "$LEASE_OUT"
    ;;
esac
exit 0
"""

LISTENER = """
import socket, sys
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", int(sys.argv[1])))
server.listen(16)
print("listening", flush=True)
while True:
    conn, _ = server.accept()
    conn.sendall(sys.argv[2].encode())
    conn.close()
"""

PROBE = """
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])) as s:
        s.settimeout(float(sys.argv[3]))
        print(s.recv(100).decode())
except OSError as exc:
    print("unreachable", type(exc).__name__)
    sys.exit(1)
"""

UDP_ECHO = """
import socket, sys
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(("0.0.0.0", int(sys.argv[1])))
print("listening", flush=True)
while True:
    data, peer = server.recvfrom(100)
    server.sendto(data, peer)
"""

UDP_PROBE = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[3])))
s.settimeout(float(sys.argv[4]))
try:
    s.sendto(b"ping", (sys.argv[1], int(sys.argv[2])))
    print(s.recvfrom(100)[0].decode())
except OSError as exc:
    print("unreachable", type(exc).__name__)
    sys.exit(1)
"""


def missing_binaries() -> list[str]:
    return [name for name in REQUIRED if shutil.which(name) is None]


def new_name() -> str:
    return "brume-t" + secrets.token_hex(4)


class Netns:
    """One test-made network namespace and the processes the test started in it."""

    def __init__(self, name: str | None = None):
        self.name = name or new_name()
        self.processes: list[subprocess.Popen] = []
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        self.run("ip", "link", "set", "lo", "up")

    def argv(self, *args: str) -> list[str]:
        return ["ip", "netns", "exec", self.name, *args]

    def run(self, *args: str, check: bool = True,
            timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*args), capture_output=True, text=True, check=check,
                              timeout=timeout)

    def start(self, *args: str) -> subprocess.Popen:
        proc = subprocess.Popen(self.argv(*args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        self.processes.append(proc)
        return proc

    def listen(self, port: int, reply: str) -> None:
        """A TCP listener answering `reply` to every connection."""
        proc = self.start(sys.executable, "-c", LISTENER, str(port), reply)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "listening"

    def udp_echo(self, port: int) -> None:
        """A UDP echo server."""
        proc = self.start(sys.executable, "-c", UDP_ECHO, str(port))
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "listening"

    def udp_exchange(self, address: str, port: int, source_port: int,
                     timeout: float = 2.0) -> bool:
        """Whether a datagram from source_port to address:port is echoed (one flow)."""
        result = self.run(sys.executable, "-c", UDP_PROBE, address, str(port),
                          str(source_port), str(timeout), check=False, timeout=timeout + 20)
        return result.returncode == 0

    def connect(self, address: str, port: int, timeout: float = 2.0) -> str | None:
        """What a TCP connection from here to address:port reads, or None if unreachable."""
        result = self.run(sys.executable, "-c", PROBE, address, str(port), str(timeout),
                          check=False, timeout=timeout + 20)
        return result.stdout.strip() if result.returncode == 0 else None

    def ping(self, address: str) -> bool:
        return self.run("busybox", "ping", "-c", "1", "-W", "1", address,
                        check=False).returncode == 0

    def pids(self) -> list[int]:
        out = subprocess.run(["ip", "netns", "pids", self.name], capture_output=True,
                             text=True, check=False).stdout
        return [int(p) for p in out.split()]

    def delete(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for _ in range(50):
            if not self.pids():
                break
            time.sleep(0.05)
        subprocess.run(["ip", "netns", "del", self.name], check=False)


class Vm(Netns):
    """A stand-in VM: a namespace whose eth0 is a veth to the port's tap on the node."""

    def __init__(self, node: Netns, tap: str, mac: str, bridge: str, script_dir: str):
        super().__init__()
        self.node = node
        self.script_dir = script_dir
        try:
            node.run("ip", "link", "add", tap, "type", "veth", "peer", "name", "eth0",
                     "netns", self.name)
            node.run("ip", "link", "set", tap, "master", bridge, "up")
            self.run("ip", "link", "set", "eth0", "address", mac, "up")
        except BaseException:
            self.delete()
            raise

    def dhcp(self) -> dict[str, str]:
        """Run busybox udhcpc once; the lease's fields (ip, mask, router, dns, mtu...)."""
        script = os.path.join(self.script_dir, "udhcpc.sh")
        if not os.path.exists(script):
            with open(script, "w", encoding="utf-8") as handle:
                handle.write(UDHCPC_SCRIPT)
            os.chmod(script, 0o755)
        lease_out = os.path.join(self.script_dir, f"lease-{self.name}")
        result = subprocess.run(
            self.argv("env", f"LEASE_OUT={lease_out}", "busybox", "udhcpc", "-i", "eth0",
                      "-n", "-q", "-f", "-t", "5", "-T", "1", "-O", "mtu", "-O", "hostname",
                      "-s", script),
            capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            raise AssertionError(f"udhcpc failed: {result.stdout} {result.stderr}")
        with open(lease_out, encoding="utf-8") as handle:
            fields = handle.read().split()
        return dict(field.split("=", 1) for field in fields)

    def configure(self, address: str, prefixlen: int, gateway: str) -> None:
        """Static addressing (for an "outside" host on the external bridge)."""
        self.run("ip", "addr", "add", f"{address}/{prefixlen}", "dev", "eth0")
        self.run("ip", "route", "replace", "default", "via", gateway)

"""A server's ports in the network service, as the compute API makes and removes them.

All calls carry the caller's own token, so the network service decides what the caller may
use: another project's network or port is a 404 here as there. `allocate` turns the checked
`networks` request (`compute.requested_networks`) into ports whose `device_id` is the
server: a new port per `{"uuid"}` (at its `fixed_ip`), an existing port claimed per
`{"port"}`. If any step fails, the ports it created are deleted and the ports it claimed
released before the error is raised: a refused boot leaves nothing behind. `release` undoes
a server's ports on delete; `refresh` (`refresh_many`: a page of servers) reads them again
(with their floating IPs) for views.
Errors are `HTTPError`s: the network service's 4xx passed on, 503 when it is unreachable.
"""
from __future__ import annotations

import logging

from common.http_errors import HTTPError
from compute import network_info
from compute.network_client import NetworkClient, NetworkError
from compute.requested_networks import NicRequest

LOG = logging.getLogger("brume.compute.nics")
QUERY_CHUNK = 40  # ids per list query


def _http_error(exc: NetworkError, what: str = "") -> HTTPError:
    if exc.status is None or exc.status >= 500:
        return HTTPError(503, f"The network service is unavailable: {exc}")
    if exc.status == 404 and what:
        return HTTPError(404, f"{what} could not be found.")
    if exc.status in (400, 403, 404, 409):
        return HTTPError(exc.status, f"Network service refused: {exc}")
    return HTTPError(400, f"Network service refused (HTTP {exc.status}): {exc}")


def usable(network: dict, project_id: str) -> bool:
    """A network a project's server may join by default: its own or shared, up, with a
    subnet, and not an external (floating IP) network."""
    return (not network.get("router:external")
            and network.get("admin_state_up", True)
            and bool(network.get("subnets"))
            and (network.get("project_id") == project_id or bool(network.get("shared"))))


class NicAllocator:
    """Ports of servers, through one network service."""

    def __init__(self, client: NetworkClient | None):
        self.client = client

    @property
    def enabled(self) -> bool:
        return self.client is not None

    def plan(self, token: str, project_id: str, choice) -> tuple[NicRequest, ...]:
        """The NICs a `networks` choice means ("default", "auto", "none" or a list)."""
        if choice == "none":
            return ()
        if not self.enabled:
            if choice == "default":
                return ()
            raise HTTPError(400, "Networking is not available in this cloud: boot with "
                            "\"networks\": \"none\".")
        if choice not in ("default", "auto"):
            return tuple(choice)
        try:
            candidates = [n for n in self.client.networks(token) if usable(n, project_id)]
        except NetworkError as exc:
            raise _http_error(exc) from None
        if len(candidates) > 1:
            raise HTTPError(409, "Multiple possible networks found, use a Network ID to be "
                            "more specific.")
        if not candidates:
            if choice == "auto":
                raise HTTPError(400, "Unable to automatically allocate a network for project "
                                f"{project_id}: it has no network to use.")
            return ()
        return (NicRequest(network_id=candidates[0]["id"]),)

    def allocate(self, token: str, server_id: str, zone: str | None,
                 nics: tuple[NicRequest, ...]) -> list[dict]:
        """The network_info entries of new or claimed ports for `nics` (see module doc)."""
        done: list[dict] = []
        owner = f"compute:{zone or 'nova'}"
        try:
            for nic in nics:
                done.append(self._one(token, server_id, owner, nic))
        except BaseException:
            self.release(token, done, strict=False)
            raise
        return done

    def _one(self, token: str, server_id: str, owner: str, nic: NicRequest) -> dict:
        if nic.port_id is not None:
            try:
                port = self.client.port(token, nic.port_id)
            except NetworkError as exc:
                raise _http_error(exc, f"Port {nic.port_id}") from None
            if port.get("device_id") or port.get("device_owner"):
                raise HTTPError(409, f"Port {nic.port_id} is still in use.")
            try:
                network = self.client.network(token, port["network_id"])
                port = self.client.update_port(token, nic.port_id, {
                    "device_id": server_id, "device_owner": owner})
            except NetworkError as exc:
                raise _http_error(exc, f"Port {nic.port_id}") from None
            return network_info.entry(port, network.get("name", ""), preexisting=True)
        try:
            network = self.client.network(token, nic.network_id)
        except NetworkError as exc:
            raise _http_error(exc, f"Network {nic.network_id}") from None
        if network.get("router:external") and not network.get("shared"):
            raise HTTPError(400, f"Network {nic.network_id} is an external network: use a "
                            "floating IP from it instead.")
        if not network.get("subnets"):
            raise HTTPError(400, f"Network {nic.network_id} requires a subnet in order to "
                            "boot instances on.")
        attrs = {"network_id": nic.network_id, "device_id": server_id, "device_owner": owner}
        if nic.fixed_ip is not None:
            attrs["fixed_ips"] = [{"ip_address": nic.fixed_ip}]
        try:
            port = self.client.create_port(token, attrs)
        except NetworkError as exc:
            raise _http_error(exc, f"Network {nic.network_id}") from None
        return network_info.entry(port, network.get("name", ""))

    def release(self, token: str, nics: list[dict], strict: bool = True) -> None:
        """Delete the ports compute made and release those the caller gave. `strict`: an
        unreachable network service is an HTTPError 503 (nothing more is tried); otherwise
        failures are logged and the rest goes on."""
        for nic in nics:
            try:
                if nic.get("preexisting"):
                    self.client.update_port(token, nic["port_id"],
                                            {"device_id": "", "device_owner": ""})
                else:
                    self.client.delete_port(token, nic["port_id"])
            except NetworkError as exc:
                if exc.status == 404:
                    continue
                if strict:
                    raise _http_error(exc) from None
                LOG.warning("could not release port %s: %s", nic["port_id"], exc)

    def refresh(self, token: str, server_id: str, known: list[dict]) -> list[dict]:
        """The server's ports as the network service has them now (with floating IPs);
        NetworkError when it cannot say."""
        return self.refresh_many(token, {server_id: known})[server_id]

    def refresh_many(self, token: str, known: dict[str, list[dict]]) -> dict[str, list[dict]]:
        """`refresh` for several servers ({server id: recorded NICs}): two calls (ports,
        then floating IPs) per QUERY_CHUNK servers, and one per network no server named."""
        ids = list(known)
        ports: list[dict] = []
        for start in range(0, len(ids), QUERY_CHUNK):  # query strings stay short
            ports += self.client.ports(token, device_id=ids[start:start + QUERY_CHUNK])
        fips: dict[str, list[str]] = {}
        for start in range(0, len(ports), QUERY_CHUNK):
            chunk = [p["id"] for p in ports[start:start + QUERY_CHUNK]]
            for fip in self.client.floatingips(token, port_id=chunk):
                if fip.get("port_id") and fip.get("floating_ip_address"):
                    fips.setdefault(fip["port_id"], []).append(fip["floating_ip_address"])
        names = {nic["network_id"]: nic["network_name"]
                 for nics in known.values() for nic in nics}
        fresh: dict[str, list[dict]] = {}
        for server_id, nics in known.items():
            by_port = {nic["port_id"]: nic for nic in nics}
            order = {port_id: index for index, port_id in enumerate(by_port)}
            mine = [p for p in ports if p.get("device_id") == server_id]
            entries = []
            for port in sorted(mine, key=lambda p: (order.get(p["id"], len(order)), p["id"])):
                name = names.get(port.get("network_id"))
                if name is None:
                    name = names[port["network_id"]] = self.client.network(
                        token, port["network_id"]).get("name", "")
                old = by_port.get(port["id"], {})
                entries.append(network_info.entry(port, name, fips.get(port["id"], ()),
                                                  old.get("preexisting", False)))
            fresh[server_id] = entries
        return fresh

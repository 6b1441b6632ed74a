"""The image tests' view of the real object store (the session cluster's proxy).

`StoreSettings` reads what the image service needs from the cluster's generated configs (the
proxy's token secret, the service user and key). `StoreView` looks at one test's store
account through the proxy as the service user: object names, SLO manifests
(`?multipart-manifest=get`), sizes; it also hands out tokens (real ones from `/auth/v1.0`
for the cluster's users, signed with the proxy's secret for made-up projects) and writes
objects into users' accounts for the import tests, and removes all of it after the test.
"""
from __future__ import annotations

import configparser
import http.client
import json
import os
import urllib.parse
from dataclasses import dataclass

from common.tokens import issue_token

CONTAINERS = ("images", "images_segments")


def read_ini(path: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.read(path)
    return parser


@dataclass(frozen=True)
class StoreSettings:
    auth_url: str
    proxy_url: str
    service_user: str
    service_key: str
    token_secret: str

    @classmethod
    def of_cluster(cls, cluster) -> StoreSettings:
        proxy = read_ini(os.path.join(cluster.conf_dir, "proxy-server.conf"))
        image = read_ini(os.path.join(cluster.conf_dir, "image-api.conf"))
        user = image.get("image-api", "service_user")
        return cls(auth_url=cluster.auth_url, proxy_url=cluster.proxy_url, service_user=user,
                   service_key=image.get("image-api", "service_key"),
                   token_secret=proxy.get("filter:auth", "token_secret"))


class StoreView:
    """One test's store account (`account`, e.g. AUTH_imgtest-1a2b...) seen through the proxy."""

    def __init__(self, cluster, settings: StoreSettings, account: str, tokens: dict):
        self.cluster = cluster
        self.settings = settings
        self.account = account
        self._tokens = tokens  # session-wide cache: user -> token
        self._elsewhere: list[tuple[str, str, str | None]] = []  # put in users' accounts

    def token(self, user: str) -> str:
        """A token for `user` ("account:name"): real from the cluster's auth for its users,
        else signed with the proxy's secret (a made-up project, admin in its own account)."""
        if user not in self._tokens:
            if user in self.cluster.credentials:
                self._tokens[user] = self.cluster.token(user)
            else:
                account, name = user.split(":")
                self._tokens[user] = issue_token(self.settings.token_secret, account, name,
                                                 [".admin"])[0]
        return self._tokens[user]

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None, user: str | None = None):
        """(status, headers, body) of one request to the proxy; `path` starts with /v1/."""
        parts = urllib.parse.urlsplit(self.settings.proxy_url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        try:
            all_headers = {"X-Auth-Token": self.token(user or self.settings.service_user),
                           **(headers or {})}
            name, _, query = path.partition("?")  # the query comes already encoded
            target = urllib.parse.quote(name, safe="/") + (f"?{query}" if query else "")
            conn.request(method, target, body=body, headers=all_headers)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def listing(self, container: str) -> list[str]:
        names: list[str] = []
        while True:
            query = urllib.parse.urlencode({"format": "json", "marker": names[-1] if names
                                            else ""})
            status, _, body = self.request("GET", f"/v1/{self.account}/{container}?{query}")
            if status == 404:
                return names
            assert status == 200, (status, body)
            page = [entry["name"] for entry in json.loads(body or b"[]")]
            if not page:
                return names
            names += page

    def names(self) -> set[str]:
        """Every object of the image service in this account, as "container/name"."""
        return {f"{container}/{name}" for container in CONTAINERS
                for name in self.listing(container)}

    def manifest(self, container: str, name: str) -> list[dict] | None:
        """The stored SLO manifest (Swift's format), or None for a plain object."""
        status, headers, body = self.request(
            "GET", f"/v1/{self.account}/{container}/{name}?multipart-manifest=get")
        assert status == 200, (status, body[:200])
        lowered = {key.lower(): value for key, value in headers.items()}
        if lowered.get("x-static-large-object", "").lower() != "true":
            return None
        return json.loads(body)

    def size(self, path: str) -> int:
        """Content-Length of a HEAD of `path` ("/container/object" in this account)."""
        status, headers, _ = self.request("HEAD", f"/v1/{self.account}{path}")
        assert status == 200, status
        return int({k.lower(): v for k, v in headers.items()}["content-length"])

    def put(self, path: str, data: bytes, user: str | None = None,
            account: str | None = None) -> None:
        """PUT `data` at "/container/object" (container created) in `account` (default:
        this test's store account) as `user` (default: the service user)."""
        account = account or self.account
        container = path.lstrip("/").split("/")[0]
        status, _, body = self.request("PUT", f"/v1/{account}/{container}", b"",
                                       {"Content-Length": "0"}, user)
        assert status // 100 == 2, (status, body)
        status, _, body = self.request("PUT", f"/v1/{account}{path}", data, None, user)
        assert status == 201, (status, body)
        if account != self.account:
            self._elsewhere.append((account, path, user))

    def remove_everything(self) -> None:
        """Delete this test's objects and containers, and what `put` wrote in users'
        accounts, so the shared cluster does not accumulate (and other tests' users'
        accounts look as before). Best effort: a test that killed servers may leave some."""
        for container in CONTAINERS:
            for name in self.listing(container):
                self.request("DELETE", f"/v1/{self.account}/{container}/{name}")
            self.request("DELETE", f"/v1/{self.account}/{container}")
        for account, path, user in reversed(self._elsewhere):
            self.request("DELETE", f"/v1/{account}{path}", user=user)
            container = path.lstrip("/").split("/")[0]
            self.request("DELETE", f"/v1/{account}/{container}", user=user)
        self._elsewhere.clear()

"""The object store (the proxy's Swift API) as a service's own user, on `common.http_client`.

The image service keeps image bytes there, the volume service its backups. The service
authenticates at `auth_url` as its service user (`common.v1_auth.V1Session`:
the token is kept until shortly before it expires, and renewed once on a 401) and reads and
writes objects in its store account, over one pool of kept-alive connections shared by
every upload and download. Bodies go out streamed (chunked unless their length is known)
and come back as a stream (`common.http_client.Response`: `read(n)`, iteration in 1 MiB
chunks, `length`, `etag`, `close()`), so nothing is held whole in memory. Requests that can
be sent again (no streamed body) are retried after `RETRY_DELAYS` when the store gives no
answer or a 5xx, which a busy or recovering cluster gives at times. Every failure is
`common.http_client.HTTPClientError` with a one-line message.

Why not python-swiftclient's `Connection`: it is one connection per object, not safe to
share between the parallel segment uploads, retries with its own sleeps and its own error
type, and adds `requests` over the same urllib3; streaming segments gains nothing from it.
"""
from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Iterable

from common.http_client import HTTPClient, HTTPClientError, Response
from common.v1_auth import V1Session

CHUNK_SIZE = 1024 * 1024
RETRY_DELAYS = (0.5, 2.0)

log = logging.getLogger("brume.object_store")


def quote(name: str) -> str:
    return urllib.parse.quote(name, safe="/")


def account_url(url: str, account: str) -> str:
    """The same proxy as `url`, another account: <scheme>://<host>/v1/<account> (quoted)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/v1/{urllib.parse.quote(account, safe='')}"


def _refusal(response: Response, what: str) -> HTTPClientError:
    """An error for an answer the store refused with (the response is closed)."""
    body = response.body if response.body is not None else b""
    response.close()
    reason = body.decode("utf-8", "replace").strip().splitlines()[:1]
    message = f"{what}: HTTP {response.status} {reason[0] if reason else ''}".strip()
    return HTTPClientError(message, response.status, response.reason, body)


class ObjectStore:
    def __init__(self, auth_url: str, user: str, key: str, store_account: str = "",
                 timeout: float = 60.0):
        self.auth_url = auth_url
        self.store_account = store_account
        self.http = HTTPClient(timeout=timeout, retries=1)
        self.session = V1Session(auth_url, user, key, client=self.http)
        self._containers_ready: set[str] = set()

    def _url(self, path: str) -> str:
        """`path` under the store account (the service user's own, or `store_account`)."""
        storage_url = self.session.credentials().storage_url
        if self.store_account:
            storage_url = account_url(storage_url, self.store_account)
        return storage_url.rstrip("/") + path

    def _replayable(self, method: str, path: str, *, user_token: str | None = None,
                    **kwargs) -> Response:
        """A request without a streamed body, retried after `RETRY_DELAYS` when no answer
        came or the answer was a 5xx. `user_token`: `path` is a URL, sent with that token."""
        for delay in (*RETRY_DELAYS, None):
            try:
                if user_token is None:
                    response = self.session.request(method, self._url(path), client=self.http,
                                                    chunk_size=CHUNK_SIZE, **kwargs)
                else:
                    response = self.http.request(method, path, chunk_size=CHUNK_SIZE,
                                                 headers={"X-Auth-Token": user_token},
                                                 **kwargs)
            except HTTPClientError as exc:
                if delay is None or exc.status is not None:
                    raise
                log.info("%s; retrying in %.1fs", exc, delay)
                time.sleep(delay)
                continue
            if response.status >= 500 and delay is not None:
                response.close()
                log.info("store %s %s: HTTP %s; retrying in %.1fs", method, path,
                         response.status, delay)
                time.sleep(delay)
                continue
            return response
        raise AssertionError("unreachable")

    def ensure_container(self, container: str) -> None:
        if container in self._containers_ready:
            return
        response = self._replayable("PUT", "/" + quote(container), body=b"")
        if not response.ok:
            raise _refusal(response, f"cannot create container {container}")
        self._containers_ready.add(container)

    def put_object(self, container: str, name: str, chunks: Iterable[bytes],
                   length: int | None = None, content_type="application/octet-stream") -> str:
        """PUT a streamed body (chunked unless `length` is given); returns the ETag.

        Never sent twice (its body is a stream). If `chunks` raises, the connection is
        dropped mid-body, so the store never commits a partial object."""
        headers = {"Content-Type": content_type}
        if length is not None:
            headers["Content-Length"] = str(length)
        response = self.session.request("PUT", self._url(f"/{quote(container)}/{quote(name)}"),
                                        client=self.http, body=iter(chunks), headers=headers)
        if not response.ok:
            raise _refusal(response, f"store refused PUT of {container}/{name}")
        return response.etag

    def put_manifest(self, container: str, name: str, segments: list[dict]) -> None:
        response = self._replayable(
            "PUT", f"/{quote(container)}/{quote(name)}?multipart-manifest=put",
            body=json.dumps(segments).encode(),
            headers={"Content-Type": "application/octet-stream"})
        if not response.ok:
            raise _refusal(response, f"store refused the manifest of {name}")

    def delete_object(self, container: str, name: str) -> bool:
        """DELETE; True when gone (404 counts as gone)."""
        try:
            response = self._replayable("DELETE", f"/{quote(container)}/{quote(name)}")
        except HTTPClientError as exc:
            log.warning("%s", exc)
            return False
        return response.ok or response.status == 404

    def list_objects(self, container: str, prefix: str) -> list[str]:
        """Names in `container` starting with `prefix` (all pages)."""
        names: list[str] = []
        marker = ""
        while True:
            query = urllib.parse.urlencode({"format": "json", "prefix": prefix,
                                            "marker": marker})
            response = self._replayable("GET", f"/{quote(container)}?{query}")
            if response.status == 404:
                return names
            if not response.ok:
                raise _refusal(response, f"cannot list {container}")
            page = [entry["name"] for entry in response.json() or []]
            if not page:
                return names
            names.extend(page)
            marker = page[-1]

    def get_object(self, container: str, name: str) -> Response:
        """The object's bytes as an open stream (close it when done)."""
        response = self._replayable("GET", f"/{quote(container)}/{quote(name)}", stream=True)
        if not response.ok:
            raise _refusal(response, f"store GET of {container}/{name}")
        return response

    def get_user_object(self, account: str, container: str, name: str,
                        user_token: str) -> Response:
        """GET an object of a user's account with the user's own token (their permissions)."""
        url = f"{account_url(self.auth_url, account)}/{quote(container)}/{quote(name)}"
        response = self._replayable("GET", url, stream=True, user_token=user_token)
        if not response.ok:
            raise _refusal(response, f"cannot read {container}/{name}")
        return response

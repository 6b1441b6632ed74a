"""`container_quotas`: a container's owner caps its bytes and object count.

    [filter:container_quotas]
    use = egg:brume#container_quotas

The quotas are the container's metadata `X-Container-Meta-Quota-Bytes` and
`X-Container-Meta-Quota-Count`, set like any metadata by whoever may write the container's
metadata (its owner: a write ACL allows object writes, not container POSTs); a value that is
not a non-negative integer is refused with 400, an empty one removes the quota. An object PUT
(a COPY too: `copy`, above, turns it into a PUT) that would take the container past a quota
is refused with 413 before a byte is stored (`proxy.quota_rules`; a chunked upload is cut
with 413 at the quota, before the replicas commit it); the container's usage is
read with a trusted HEAD (`proxy.usage_lookup`).
"""
from __future__ import annotations

from common.config import load_options
from common.http_errors import HTTPError
from proxy.metadata_lookup import DirectLookup
from proxy.quota_rules import (
    Limits,
    cap_chunked_body,
    exceeded,
    parse_quota,
    request_length,
    stored_quota,
)
from proxy.responses import error
from proxy.target import parse_target
from proxy.usage_lookup import head_entity

QUOTA_HEADERS = {
    "HTTP_X_CONTAINER_META_QUOTA_BYTES": "X-Container-Meta-Quota-Bytes",
    "HTTP_X_CONTAINER_META_QUOTA_COUNT": "X-Container-Meta-Quota-Count",
}

QUOTA_META = ("x-container-meta-quota-bytes", "x-container-meta-quota-count")


class ContainerQuotas:
    capabilities = {"container_quotas": {}}

    def __init__(self, app):
        self.app = app
        self.direct = DirectLookup(app)  # below every path rewrite: the app's info cache

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        if method in ("PUT", "POST"):
            _version, target, reason = parse_target(environ.get("PATH_INFO", ""))
            if target is not None and not reason and target.container is not None:
                try:
                    if target.obj is None:
                        check_quota_values(environ)
                    elif method == "PUT":
                        refusal = self.refusal(environ, target)
                        if refusal is not None:
                            return refusal(environ, start_response)
                except HTTPError as exc:
                    return error(exc.status, exc.first_line)(environ, start_response)
        return self.app(environ, start_response)

    def refusal(self, environ, target):
        """413 when this PUT would break the container's quota, else None. The quota is
        read from the info cache first: only a container with a quota costs a fresh HEAD."""
        cached = self.direct.get(environ, target.account, target.container)
        if not cached.found or not any(cached.get(name) for name in QUOTA_META):
            return None
        state = head_entity(self.app, environ, target.account, target.container)
        if not state.exists:
            return None  # the app answers 404 (or 503) itself
        limits = Limits(*(stored_quota(state.headers.get(name)) for name in QUOTA_META))
        if limits.max_bytes is None and limits.max_count is None:
            return None
        reason = exceeded(limits, state.usage, request_length(environ.get("CONTENT_LENGTH")))
        if reason:
            return error(413, reason)
        cap_chunked_body(environ, limits, state.usage.bytes_used)
        return None


def check_quota_values(environ) -> None:
    """400 (HTTPError) when a container PUT/POST sets a quota that is not an integer."""
    for key, header in QUOTA_HEADERS.items():
        if key in environ:
            parse_quota(header, environ[key])


def filter_factory(global_conf: dict, **local_conf):
    load_options(local_conf, global_conf.get("__section__", "filter:container_quotas"), [],
                 global_conf.get("__file__", "<config>"))
    return ContainerQuotas

"""`account_quotas`: a reseller admin caps an account's bytes and object count.

    [filter:account_quotas]
    use = egg:brume#account_quotas

Quotas, set by an account POST (or PUT) of a reseller admin only (anyone else: 403, and
nothing changes), removed with an empty value or `X-Remove-...`:

- `X-Account-Quota-Bytes`, `X-Account-Quota-Count`: the account's bytes and objects;
- `X-Account-Quota-Bytes-Policy-<name>`, `X-Account-Quota-Count-Policy-<name>`: the same
  for the objects in the account's containers of one storage policy (`brume.conf`'s
  `[storage-policy:N]` names; another name is a 400);
- `X-Account-Meta-Quota-Bytes`: the older form of the bytes quota, kept as user metadata and
  used when `X-Account-Quota-Bytes` is not set.

The new forms are stored as account sysmeta (`x-account-sysmeta-quota-*`, written by this
middleware as an internal request, so a client can never set them directly) and shown again
under their own names on the account's HEAD/GET. An object PUT (COPY included: `copy`, above,
turns it into a PUT) that would take the account past a quota is refused with 413; the usage
is read with a trusted HEAD of the account (`proxy.usage_lookup`; its per-policy usage from
`X-Account-Storage-Policy-<Name>-*`), only when the cached account info
(`proxy.metadata_lookup`) shows a quota.
"""
from __future__ import annotations

from common.config import load_options
from common.http_errors import HTTPError
from common.storage_policies import BACKEND_INDEX_HEADER, load_policies
from proxy.environ_keys import IDENTITY_KEY, INTERNAL_KEY, SYSMETA_KEY
from proxy.metadata_lookup import DirectLookup
from proxy.quota_rules import (
    Limits,
    Usage,
    cap_chunked_body,
    exceeded,
    parse_quota,
    request_length,
    stored_count,
    stored_quota,
)
from proxy.responses import error
from proxy.settings import cluster_conf_dir
from proxy.subrequest import call
from proxy.target import parse_target
from proxy.usage_lookup import head_entity

LEGACY_BYTES = "x-account-meta-quota-bytes"
QUOTA_PREFIX = "x-account-quota-"
SYSMETA_QUOTA_PREFIX = "x-account-sysmeta-quota-"
ACCOUNT_SYSMETA_KEY_PREFIX = "HTTP_X_ACCOUNT_SYSMETA_"


def quota_suffix(header: str, policy_names: frozenset[str]) -> str | None:
    """'x-account-quota-bytes-policy-gold' -> 'bytes-policy-gold'; None when not a quota.

    400 (HTTPError) for a per-policy quota of a policy this cluster does not have.
    """
    if not header.startswith(QUOTA_PREFIX):
        return None
    suffix = header[len(QUOTA_PREFIX):]
    kind, _sep, policy = suffix.partition("-policy-")
    if kind not in ("bytes", "count"):
        return None
    if not _sep:
        return kind if suffix == kind else None
    if policy.lower() not in policy_names:
        raise HTTPError(400, f"no storage policy named {policy[:64]!r}")
    return f"{kind}-policy-{policy.lower()}"


def quota_updates(environ, policy_names: frozenset[str]) -> tuple[dict[str, str], bool]:
    """The sysmeta a PUT/POST's quota headers set ({suffix: value}), and whether it touches
    any quota at all (the legacy metadata form included). 400 on a bad value."""
    updates: dict[str, str] = {}
    touched = False
    for key, value in environ.items():
        if not key.startswith("HTTP_X_"):
            continue
        header = key[5:].replace("_", "-").lower()
        removing = header.startswith("x-remove-")
        name = "x-" + header[len("x-remove-"):] if removing else header
        if name == LEGACY_BYTES:
            touched = True
            if not removing:
                parse_quota("X-Account-Meta-Quota-Bytes", value)
            continue
        suffix = quota_suffix(name, policy_names)
        if suffix is None:
            continue
        touched = True
        if removing:
            updates[suffix] = ""
        else:
            quota = parse_quota(name.title(), value)
            updates[suffix] = "" if quota is None else str(quota)
    return updates, touched


class AccountQuotas:
    capabilities = {"account_quotas": {}}

    def __init__(self, app, policies):
        self.app = app
        self.direct = DirectLookup(app)  # below every path rewrite: the app's info cache
        self.policies = policies
        self.policy_names = frozenset(policy.name.lower() for policy in policies)

    def __call__(self, environ, start_response):
        _version, target, reason = parse_target(environ.get("PATH_INFO", ""))
        if target is None or reason:
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD")
        try:
            if target.container is None:
                if method in ("PUT", "POST"):
                    return self.set_quotas(environ, start_response)
                if method in ("GET", "HEAD"):
                    return self.show_quotas(environ, start_response)
            elif target.obj is not None and method == "PUT":
                refusal = self.refusal(environ, target)
                if refusal is not None:
                    return refusal(environ, start_response)
        except HTTPError as exc:
            return error(exc.status, exc.first_line)(environ, start_response)
        return self.app(environ, start_response)

    def set_quotas(self, environ, start_response):
        if not environ.get(INTERNAL_KEY):  # else a middleware above set its own sysmeta
            for key in [key for key in environ if key.startswith(ACCOUNT_SYSMETA_KEY_PREFIX)]:
                del environ[key]  # a client never writes sysmeta
        updates, touched = quota_updates(environ, self.policy_names)
        if not touched:
            return self.app(environ, start_response)
        identity = environ.get(IDENTITY_KEY)
        if identity is None or not identity.is_reseller_admin:
            status = 401 if identity is None else 403
            return error(status, "only a reseller admin sets account quotas")(
                environ, start_response)
        for suffix, value in updates.items():
            sysmeta = SYSMETA_QUOTA_PREFIX + suffix
            environ["HTTP_" + sysmeta.upper().replace("-", "_")] = value
        if updates:
            environ[INTERNAL_KEY] = True
        return self.app(environ, start_response)

    def show_quotas(self, environ, start_response):
        """The account's read, with its quota sysmeta shown as X-Account-Quota-*."""
        asked = bool(environ.get(SYSMETA_KEY))
        environ[SYSMETA_KEY] = True
        response = call(self.app, environ)
        headers = []
        for name, value in response.headers:
            lowered = name.lower()
            if lowered.startswith(SYSMETA_QUOTA_PREFIX) and value != "":
                suffix = lowered[len(SYSMETA_QUOTA_PREFIX):]
                headers.append(("X-Account-Quota-" + suffix.title(), value))
            if asked or not lowered.startswith("x-account-sysmeta-"):
                headers.append((name, value))
        response.headers = headers
        return response(environ, start_response)

    def refusal(self, environ, target):
        """413 when this PUT would break one of the account's quotas, else None. The quotas
        are read from the info cache first: only an account with one costs a fresh HEAD."""
        cached = self.direct.get(environ, target.account)
        if not cached.found or not any(
                value for name, value in cached.headers.items()
                if name.startswith(SYSMETA_QUOTA_PREFIX) or name == LEGACY_BYTES):
            return None
        state = head_entity(self.app, environ, target.account)
        if not state.exists:
            return None
        stored = state.headers
        new_bytes = request_length(environ.get("CONTENT_LENGTH"))
        max_bytes = stored_quota(stored.get(SYSMETA_QUOTA_PREFIX + "bytes"))
        if max_bytes is None:
            max_bytes = stored_quota(stored.get(LEGACY_BYTES))
        candidates = [(Limits(max_bytes, stored_quota(stored.get(SYSMETA_QUOTA_PREFIX + "count"))),
                       state.usage)]
        policy = self.policies.index_of_header(
            self.direct.get(environ, target.account, target.container).get(
                BACKEND_INDEX_HEADER.lower()))
        if policy is not None:
            name = policy.name.lower()
            policy_limits = Limits(
                stored_quota(stored.get(f"{SYSMETA_QUOTA_PREFIX}bytes-policy-{name}")),
                stored_quota(stored.get(f"{SYSMETA_QUOTA_PREFIX}count-policy-{name}")))
            prefix = f"x-account-storage-policy-{name}-"
            candidates.append((policy_limits, Usage(
                stored_count(stored.get(prefix + "bytes-used")),
                stored_count(stored.get(prefix + "object-count")))))
        for limits, usage in candidates:
            reason = exceeded(limits, usage, new_bytes)
            if reason:
                return error(413, reason)
        for limits, usage in candidates:
            cap_chunked_body(environ, limits, usage.bytes_used)
        return None


def filter_factory(global_conf: dict, **local_conf):
    load_options(local_conf, global_conf.get("__section__", "filter:account_quotas"), [],
                 global_conf.get("__file__", "<config>"))
    policies = load_policies(cluster_conf_dir(global_conf))
    return lambda app: AccountQuotas(app, policies)

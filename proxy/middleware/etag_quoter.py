"""`etag_quoter`: RFC 7232 double-quoted ETags, for the accounts and containers that ask.

    [filter:etag_quoter]
    use = egg:brume#etag_quoter
    # enable_by_default = false

Swift's object ETags are a bare MD5 (`ETag: d41d8...`); some CDNs and HTTP caches want the
quoted form RFC 7232 specifies (`ETag: "d41d8..."`). An account's owner turns quoting on for
the whole account with `X-Account-Rfc-Compliant-Etags: true`; a container's setting
(`X-Container-Rfc-Compliant-Etags: true|false`) wins over the account's, and an empty value
(or `X-Remove-...`) removes a setting. Without either the operator's `enable_by_default`
decides. The settings are kept as sysmeta; a GET or HEAD of the account or container shows
them under the names they were set with. On object requests the filter reads them through
`proxy.metadata_lookup.DirectLookup` (the proxy app's info cache, read in-process: keep the
filter below domain_remap, which rewrites the paths it reads) and quotes every ETag of the answer
that is not quoted already. /info lists `etag_quoter` with `enable_by_default`.
"""
from __future__ import annotations

from common.config import Option, load_options, parse_bool
from common.truth import is_true
from proxy import metadata_lookup
from proxy.environ_keys import INTERNAL_KEY
from proxy.target import parse_target

OPTIONS = [
    Option("enable_by_default", parse_bool, False,
           "quote ETags where neither the account nor the container says otherwise"),
]

SETTING = "rfc-compliant-etags"
CONTAINER_SETTING = "x-container-sysmeta-" + SETTING
ACCOUNT_SETTING = "x-account-sysmeta-" + SETTING


def quoted_etags(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The headers with every ETag value double-quoted (quoted and weak ones kept)."""
    out = []
    for name, value in headers:
        if name.lower() == "etag" and not (value.startswith(('"', 'W/"'))
                                           and value.endswith('"') and len(value) > 1):
            value = f'"{value}"'
        out.append((name, value))
    return out


def setting_value(client_value: str) -> str:
    """The stored sysmeta for a client's header value ("" removes the setting)."""
    return ("true" if is_true(client_value) else "false") if client_value.strip() else ""


class EtagQuoter:
    def __init__(self, app, enable_by_default: bool):
        self.app = app
        self.direct = metadata_lookup.DirectLookup(app)  # object requests: no sub-request
        self.enable_by_default = enable_by_default
        self.capabilities = {"etag_quoter": {"enable_by_default": enable_by_default}}

    def __call__(self, environ, start_response):
        _version, target, reason = parse_target(environ.get("PATH_INFO", ""))
        if target is None or reason:
            return self.app(environ, start_response)
        if target.obj is None:
            kind = "container" if target.container is not None else "account"
            return self._settings_request(environ, start_response, target, kind)
        if not self._quoting(environ, target):
            return self.app(environ, start_response)

        def quoting_start_response(status, headers, exc_info=None):
            return start_response(status, quoted_etags(headers), exc_info)

        return self.app(environ, quoting_start_response)

    def _settings_request(self, environ, start_response, target, kind: str):
        client_key = f"HTTP_X_{kind.upper()}_RFC_COMPLIANT_ETAGS"
        remove_key = f"HTTP_X_REMOVE_{kind.upper()}_RFC_COMPLIANT_ETAGS"
        sysmeta_key = f"HTTP_X_{kind.upper()}_SYSMETA_RFC_COMPLIANT_ETAGS"
        method = environ.get("REQUEST_METHOD")
        if method in ("PUT", "POST") and (client_key in environ or remove_key in environ):
            value = setting_value(environ.pop(client_key, ""))
            if environ.pop(remove_key, "").strip():
                value = ""
            if not environ.get(INTERNAL_KEY):  # the client's own sysmeta never passes
                for key in [k for k in environ if k.startswith(f"HTTP_X_{kind.upper()}_SYSMETA_")]:
                    del environ[key]
            environ[sysmeta_key] = value
            environ[INTERNAL_KEY] = True
            return self.app(environ, start_response)
        if method not in ("GET", "HEAD"):
            return self.app(environ, start_response)
        original = dict(environ)  # for the lookup: layers below may change the environ

        def showing_start_response(status, headers, exc_info=None):
            if status[:1] == "2":
                found = self.direct.get(original, target.account, target.container)
                value = found.get(f"x-{kind}-sysmeta-{SETTING}") if found.found else None
                if value:
                    headers = headers + [(f"X-{kind.title()}-Rfc-Compliant-Etags", value)]
            return start_response(status, headers, exc_info)

        return self.app(environ, showing_start_response)

    def _quoting(self, environ, target) -> bool:
        flag = self.direct.value(environ, CONTAINER_SETTING, target.account, target.container)
        if not flag:
            flag = self.direct.value(environ, ACCOUNT_SETTING, target.account)
        if not flag:
            return self.enable_by_default
        return is_true(flag)


def filter_factory(global_conf: dict, **local_conf):
    settings = load_options(local_conf, global_conf.get("__section__", "filter:etag_quoter"),
                            OPTIONS, global_conf.get("__file__", "<config>"))

    return lambda app: EtagQuoter(app, settings["enable_by_default"])

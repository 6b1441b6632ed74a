"""`domain_remap`: an account or container named by the Host header instead of the path.

    [filter:domain_remap]
    use = egg:brume#domain_remap
    storage_domain = example.com
    # path_root = v1
    # reseller_prefixes = AUTH
    # default_reseller_prefix =

`Host: c.AUTH_test.example.com` with `GET /o` reaches the rest of the pipeline as
`GET /v1/AUTH_test/c/o` (`proxy.host_remap` has the rules). The path the client sent is kept
in the environ (`brume.client_path`) so that redirects (staticweb's) point where the client
can follow them. A Host under the storage domain that names no account is a 400; any other
Host passes untouched. /info lists `domain_remap` with its `default_reseller_prefix`.
"""
from __future__ import annotations

from common.config import Option, load_options, parse_list
from proxy.environ_keys import CLIENT_PATH_KEY
from proxy.host_remap import BadHost, RemapSettings, host_labels, make_settings, remap_path
from proxy.responses import error

OPTIONS = [
    Option("storage_domain", parse_list, ["example.com"],
           "comma-separated domains whose subdomains name accounts and containers"),
    Option("path_root", str, "v1", "the API version prefixed to remapped paths"),
    Option("reseller_prefixes", parse_list, ["AUTH"],
           "comma-separated account prefixes recognised in host labels"),
    Option("default_reseller_prefix", str, "",
           "prefix given to a host label that has none (empty: leave such requests alone)"),
]
MAX_PLAIN_HOSTS = 1024  # Host values remembered as outside every storage domain


class DomainRemap:
    def __init__(self, app, settings: RemapSettings):
        self.app = app
        self.settings = settings
        self._plain_hosts: set[str] = set()  # Host values outside every storage domain
        self.capabilities = {
            "domain_remap": {"default_reseller_prefix": settings.default_reseller_prefix}}

    def __call__(self, environ, start_response):
        host = environ.get("HTTP_HOST")
        if not host or host in self._plain_hosts:
            return self.app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        try:
            remapped = remap_path(host, path, self.settings)
        except BadHost as exc:
            return error(400, str(exc))(environ, start_response)
        if remapped is None:
            if host_labels(host, self.settings) is None:  # never remapped, whatever the path
                if len(self._plain_hosts) >= MAX_PLAIN_HOSTS:
                    self._plain_hosts.clear()
                self._plain_hosts.add(host)
            return self.app(environ, start_response)
        environ.setdefault(CLIENT_PATH_KEY, path)
        environ["PATH_INFO"] = remapped
        return self.app(environ, start_response)


def filter_factory(global_conf: dict, **local_conf):
    options = load_options(local_conf, global_conf.get("__section__", "filter:domain_remap"),
                           OPTIONS, global_conf.get("__file__", "<config>"))
    settings = make_settings(options["storage_domain"], options["path_root"],
                             options["reseller_prefixes"], options["default_reseller_prefix"])
    return lambda app: DomainRemap(app, settings)

"""The proxy's WSGI pipeline, read from its config in Swift's PasteDeploy format.

    [server]
    app = proxy.pipeline:make_app

    [pipeline:main]
    pipeline = catch_errors healthcheck auth copy slo dlo proxy-server

    [filter:auth]
    use = egg:brume#auth
    token_secret = ...

    [filter:mine]
    paste.filter_factory = mypackage.module:filter_factory

    [app:proxy-server]
    use = egg:brume#proxy

Every name but the last is a `[filter:NAME]`, the last an `[app:NAME]`. A section names its
factory with `use = egg:brume#<name>` (Brume's own, listed in `BRUME_FILTERS` / `BRUME_APPS`
and as entry points in setup.py) or `paste.filter_factory` / `paste.app_factory =
module:callable`. Factories have PasteDeploy's signatures: `filter_factory(global_conf,
**local_conf) -> (app -> app)` and `app_factory(global_conf, **local_conf) -> app`;
`global_conf` is the `[DEFAULT]` section plus `__file__` (the config's path), `here` and
`__section__` (the factory's section, for messages), `local_conf` the section's own options
(values are strings). The first filter is outermost.
Any mistake is a one-line `ConfigError` naming the section.

Each filter may declare `capabilities` ({name: settings} for `/info`); the pipeline hands
them, outermost first, to the app's `register_capabilities` when it has one.
"""
from __future__ import annotations

import importlib
import os

from common.config import ConfigError, read_ini

BRUME_FILTERS = {
    "catch_errors": "proxy.middleware.catch_errors:filter_factory",
    "healthcheck": "proxy.middleware.healthcheck:filter_factory",
    "tempurl": "proxy.middleware.tempurl:filter_factory",
    "auth": "proxy.middleware.auth:filter_factory",
    "formpost": "proxy.middleware.formpost:filter_factory",
    "dlo": "proxy.middleware.dlo:filter_factory",
    "slo": "proxy.middleware.slo:filter_factory",
    "copy": "proxy.middleware.copy:filter_factory",
    "container_quotas": "proxy.middleware.container_quotas:filter_factory",
    "account_quotas": "proxy.middleware.account_quotas:filter_factory",
    "bulk": "proxy.middleware.bulk:filter_factory",
    "ratelimit": "proxy.middleware.ratelimit:filter_factory",
    "symlink": "proxy.middleware.symlink:filter_factory",
    "versioned_writes": "proxy.middleware.versioned_writes:filter_factory",
    "object_versioning": "proxy.middleware.object_versioning:filter_factory",
    "cors": "proxy.middleware.cors:filter_factory",
    "domain_remap": "proxy.middleware.domain_remap:filter_factory",
    "etag_quoter": "proxy.middleware.etag_quoter:filter_factory",
    "staticweb": "proxy.middleware.staticweb:filter_factory",
}
BRUME_APPS = {
    "proxy": "proxy.server:app_factory",
}
PIPELINE_SECTION = "pipeline:main"
EGG_PREFIX = "egg:brume#"
FACTORY_KEYS = {"filter": "paste.filter_factory", "app": "paste.app_factory"}


class Pipeline:
    """The built pipeline: a WSGI app (its outermost layer) that knows its pieces."""

    # The runner leaves /healthcheck to the pipeline (its `healthcheck` filter, if any).
    serves_healthcheck = True

    def __init__(self, head, names: list[str], layers: list, app):
        self.head = head
        self.names = names  # the config's names, outermost first, the app's last
        self.layers = layers  # the built filters, outermost first
        self.app = app  # the terminal application

    def __call__(self, environ, start_response):
        return self.head(environ, start_response)


def resolve(spec: str, where: str):
    """`module:callable` -> the callable, or a one-line ConfigError."""
    module_name, sep, attr = spec.strip().partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{where}: factory must be module:callable, got {spec!r}")
    try:
        target = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{where}: cannot load {spec!r}: {first}") from None
    if not callable(target):
        raise ConfigError(f"{where}: {spec!r} is not callable")
    return target


def factory_of(kind: str, options: dict[str, str], where: str):
    """The factory a `[filter:...]` or `[app:...]` section names (`use` or paste.*_factory)."""
    registry = BRUME_FILTERS if kind == "filter" else BRUME_APPS
    use = options.pop("use", None)
    spec = options.pop(FACTORY_KEYS[kind], None)
    if (use is None) == (spec is None):
        raise ConfigError(f"{where}: set exactly one of 'use = {EGG_PREFIX}<name>' or "
                          f"'{FACTORY_KEYS[kind]} = module:callable'")
    if use is not None:
        use = use.strip()
        if not use.startswith(EGG_PREFIX):
            raise ConfigError(f"{where}: bad use {use!r}: expected {EGG_PREFIX}<name>")
        name = use[len(EGG_PREFIX):]
        spec = registry.get(name)
        if spec is None:
            raise ConfigError(f"{where}: unknown {kind} {use!r} (Brume's: "
                              f"{', '.join(sorted(registry))})")
    return resolve(spec, where)


def load_pipeline(conf_path: str, global_conf: dict | None = None) -> Pipeline:
    """Build `[pipeline:main]` of `conf_path`; `global_conf` adds to its `[DEFAULT]`."""
    parser = read_ini(conf_path)
    if not parser.has_section(PIPELINE_SECTION):
        if parser.has_section("proxy-server") or parser.has_section("auth"):
            raise ConfigError(f"{conf_path}: missing section [{PIPELINE_SECTION}]: a proxy "
                              "config from before the pipeline; move [proxy-server] to "
                              "[app:proxy-server] and [auth] to [filter:auth] as in "
                              "etc/proxy-server.conf")
        raise ConfigError(f"{conf_path}: missing section [{PIPELINE_SECTION}]")
    names = parser.get(PIPELINE_SECTION, "pipeline", raw=True, fallback="").split()
    if not names:
        raise ConfigError(f"{conf_path}: [{PIPELINE_SECTION}] pipeline names no app")
    defaults = dict(parser.defaults())
    conf = {**defaults, "__file__": conf_path,
            "here": os.path.dirname(os.path.abspath(conf_path)), **(global_conf or {})}

    def section_options(kind: str, name: str) -> tuple[dict[str, str], str]:
        section = f"{kind}:{name}"
        if not parser.has_section(section):
            role = "its app" if kind == "app" else "a filter"
            raise ConfigError(f"{conf_path}: pipeline names {name!r} as {role} but there is "
                              f"no [{section}] section")
        own = {key: value for key, value in parser.items(section, raw=True)
               if key not in defaults or parser.get(section, key, raw=True) != defaults[key]}
        return own, section

    def build(kind: str, name: str):
        options, section = section_options(kind, name)
        factory = factory_of(kind, options, f"{conf_path}: [{section}]")
        return factory({**conf, "__section__": section}, **options)

    # Filters first: their factories only check options, the app's opens the rings.
    filters = [build("filter", name) for name in names[:-1]]
    app = build("app", names[-1])
    head = app
    layers = []
    for make_filter in reversed(filters):
        head = make_filter(head)
        layers.insert(0, head)
    register = getattr(app, "register_capabilities", None)
    if register is not None:
        for layer in layers:
            for name, settings in (getattr(layer, "capabilities", None) or {}).items():
                register(name, settings)
    return Pipeline(head, names, layers, app)


def make_app(conf_path: str, rings: dict | None = None) -> Pipeline:
    """`[server] app = proxy.pipeline:make_app`: the proxy's pipeline (rings: for tests)."""
    return load_pipeline(conf_path, {"rings": rings} if rings is not None else None)

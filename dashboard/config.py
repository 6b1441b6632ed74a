"""The dashboard's config: `[dashboard]` (identity service, session store, cookie flags, how
often live pages re-read the APIs).

`load_dashboard_config(conf_path)` reads the file through `common.config` and returns a
`DashboardConfig`; every problem is a one-line `ConfigError`.
"""
from __future__ import annotations

from dataclasses import dataclass

from common.config import ConfigError, Option, load_config_file, parse_bool, positive_float

INTERFACES = ("public", "internal", "admin")

DASHBOARD_OPTIONS = [
    Option("identity_url", str, help="the identity service users log in with"),
    Option("session_db", str, help="path of the SQLite session store, or :memory:"),
    Option("session_hours", positive_float, 8.0),
    Option("secure_cookies", parse_bool, False),
    Option("interface", str, "public"),
    Option("live_seconds", positive_float, 3.0),
]


@dataclass(frozen=True)
class DashboardConfig:
    identity_url: str
    session_db: str
    session_hours: float = 8.0
    secure_cookies: bool = False
    interface: str = "public"
    live_seconds: float = 3.0


def load_dashboard_config(conf_path: str) -> DashboardConfig:
    values = load_config_file(conf_path, "dashboard", DASHBOARD_OPTIONS)
    if values["interface"] not in INTERFACES:
        raise ConfigError(f"{conf_path}: [dashboard] interface must be one of "
                          f"{', '.join(INTERFACES)}")
    if not values["identity_url"].startswith(("http://", "https://")):
        raise ConfigError(f"{conf_path}: [dashboard] identity_url must be an http(s) URL")
    return DashboardConfig(**values)

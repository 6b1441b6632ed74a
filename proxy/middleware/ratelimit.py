"""`ratelimit`: slow down (then refuse with 498) writes that come too fast.

    [filter:ratelimit]
    use = egg:brume#ratelimit
    account_ratelimit = 0
    max_sleep_time_seconds = 60
    rate_buffer_seconds = 5
    container_ratelimit_100 = 100
    container_ratelimit_1000 = 20
    container_listing_ratelimit_100 = 50
    account_whitelist =
    account_blacklist =

Following Swift's options: `account_ratelimit` caps container PUTs and DELETEs per account
(requests per second, 0 = none); `container_ratelimit_<size>` caps object PUT/POST/DELETE/COPY
per container by how many objects it holds, and `container_listing_ratelimit_<size>`
container GETs (`proxy.rate_limits.rate_for_size`: no limit below the smallest size, a
straight line between sizes). A request over the rate waits its turn (a green sleep); one
that would wait more than `max_sleep_time_seconds` is refused with 498 and does nothing. After
a quiet spell up to `rate_buffer_seconds` of unused rate may be spent at once.
Accounts in `account_whitelist` are never limited; those in `account_blacklist` are refused
(497) whatever they ask. State lives in this proxy's memory (`proxy.rate_limits.Scheduler`):
each proxy limits the requests it serves.

A container's size comes from a HEAD sub-request as the client (this filter sits above
auth, so the client's token travels along), remembered `container_size_ttl` seconds; when the
client may not read it, the container counts as empty (only the account's limits apply).
"""
from __future__ import annotations

import time

from common.config import ConfigError, Option, load_options
from common.green import eventlet
from proxy.rate_limits import Scheduler, rate_for_size, size_rates
from proxy.responses import close_iter
from proxy.subrequest import call, make_environ
from proxy.target import parse_target

OPTIONS = [
    Option("account_ratelimit", float, 0.0, "container PUT/DELETE per second per account"),
    Option("max_sleep_time_seconds", float, 60.0, "longest wait before a request is refused"),
    Option("rate_buffer_seconds", float, 5.0, "seconds of unused rate a burst may spend"),
    Option("container_size_ttl", float, 60.0, "seconds a container's size is remembered"),
    Option("account_whitelist", str, "", "accounts never limited (comma-separated)"),
    Option("account_blacklist", str, "", "accounts refused (comma-separated)"),
]
WRITE_PREFIX = "container_ratelimit_"
LISTING_PREFIX = "container_listing_ratelimit_"
OBJECT_WRITES = frozenset({"PUT", "POST", "DELETE", "COPY"})
PASSED_HEADERS = ("HTTP_X_AUTH_TOKEN", "HTTP_X_STORAGE_TOKEN")
MAX_REMEMBERED_SIZES = 10_000


def refuse(start_response, status: str, text: str):
    body = text.encode() + b"\n"
    start_response(status, [("Content-Type", "text/plain; charset=UTF-8"),
                            ("Content-Length", str(len(body)))])
    return [body]


def _names(text: str) -> frozenset[str]:
    return frozenset(name.strip() for name in text.split(",") if name.strip())


class RateLimit:
    def __init__(self, app, options: dict, write_rates, listing_rates, clock=time.monotonic,
                 sleep=None):
        self.app = app
        self.account_rate = options["account_ratelimit"]
        self.write_rates = write_rates
        self.listing_rates = listing_rates
        self.size_ttl = options["container_size_ttl"]
        self.whitelist = _names(options["account_whitelist"])
        self.blacklist = _names(options["account_blacklist"])
        self.clock = clock
        self.sleep = sleep if sleep is not None else eventlet.sleep
        self.scheduler = Scheduler(clock, options["max_sleep_time_seconds"],
                                   options["rate_buffer_seconds"])
        self._sizes: dict[tuple[str, str], tuple[float, int]] = {}
        self.capabilities = {"ratelimit": {
            "account_ratelimit": self.account_rate,
            "max_sleep_time_seconds": options["max_sleep_time_seconds"],
            "container_ratelimits": [list(point) for point in write_rates],
            "container_listing_ratelimits": [list(point) for point in listing_rates],
        }}

    def __call__(self, environ, start_response):
        _version, target, reason = parse_target(environ.get("PATH_INFO", ""))
        if target is None or reason:
            return self.app(environ, start_response)
        if target.account in self.blacklist:
            return refuse(start_response, "497 Blacklisted", "Your account has been blacklisted")
        method = environ.get("REQUEST_METHOD")
        if target.obj is not None and method not in OBJECT_WRITES:
            return self.app(environ, start_response)  # object reads are never limited
        if target.account not in self.whitelist:
            for key, rate in self.limits(environ, method, target):
                delay = self.scheduler.wait(key, rate)
                if delay is None:
                    return refuse(start_response, "498 Rate Limited", "Slow down")
                if delay > 0:
                    self.sleep(delay)
        return self.app(environ, start_response)

    def limits(self, environ, method: str, target) -> list[tuple[tuple, float]]:
        """[(key, rate)] this request counts against."""
        if target.container is None:
            return []
        if target.obj is None:
            if method in ("PUT", "DELETE") and self.account_rate > 0:
                return [((target.account,), self.account_rate)]
            if method == "GET" and self.listing_rates:
                rate = rate_for_size(self.listing_rates, self.container_size(environ, target))
                if rate is not None:
                    return [(("listing", target.account, target.container), rate)]
            return []
        if method in OBJECT_WRITES and self.write_rates:
            rate = rate_for_size(self.write_rates, self.container_size(environ, target))
            if rate is not None:
                return [((target.account, target.container), rate)]
        return []

    def container_size(self, environ, target) -> int:
        """Objects in the target's container (0 when unknown), remembered size_ttl seconds."""
        key = (target.account, target.container)
        now = self.clock()
        remembered = self._sizes.get(key)
        if remembered is not None and remembered[0] > now:
            return remembered[1]
        headers = {key[5:].replace("_", "-"): environ[key]
                   for key in PASSED_HEADERS if key in environ}
        sub = make_environ(environ, "HEAD", f"/v1/{target.account}/{target.container}", headers)
        response = call(self.app, sub)
        close_iter(response.app_iter)
        count = response.header("X-Container-Object-Count", "") if response.status < 300 else ""
        size = int(count) if count.isascii() and count.isdigit() else 0
        if len(self._sizes) >= MAX_REMEMBERED_SIZES:
            self._sizes.clear()
        self._sizes[key] = (now + self.size_ttl, size)
        return size


def filter_factory(global_conf: dict, **local_conf):
    section = global_conf.get("__section__", "filter:ratelimit")
    path = global_conf.get("__file__", "<config>")
    sized = {name: value for name, value in local_conf.items()
             if name.startswith((WRITE_PREFIX, LISTING_PREFIX))}
    options = load_options(local_conf, section, OPTIONS, path, ignored=set(sized))
    try:
        write_rates = size_rates(sized, WRITE_PREFIX)
        listing_rates = size_rates(sized, LISTING_PREFIX)
    except ValueError as exc:
        raise ConfigError(f"{path}: [{section}] {exc}") from None
    for name in ("account_ratelimit", "max_sleep_time_seconds", "rate_buffer_seconds",
                 "container_size_ttl"):
        if options[name] < 0:
            raise ConfigError(f"{path}: [{section}] {name} must not be negative")
    return lambda app: RateLimit(app, options, write_rates, listing_rates)

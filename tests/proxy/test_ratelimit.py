"""`ratelimit`: rates, waits and refusals on a fake clock (no real sleeps), and its options."""
from __future__ import annotations

import pytest
from webob import Request

from common.config import ConfigError
from proxy.middleware.ratelimit import RateLimit, filter_factory
from proxy.rate_limits import Scheduler, rate_for_size, size_rates


class FakeClock:
    """A clock that moves only when something sleeps (or a test advances it)."""

    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


class Backend:
    """The app below: counts what reaches it; a container HEAD answers `object_count`."""

    def __init__(self, object_count=0, head_status=204):
        self.calls = []
        self.object_count = object_count
        self.head_status = head_status

    def __call__(self, environ, start_response):
        self.calls.append((environ["REQUEST_METHOD"], environ["PATH_INFO"],
                           environ.get("HTTP_X_AUTH_TOKEN")))
        start_response(f"{self.head_status if environ['REQUEST_METHOD'] == 'HEAD' else 201} X",
                       [("X-Container-Object-Count", str(self.object_count)),
                        ("Content-Length", "0")])
        return [b""]

    def count(self, method):
        return sum(1 for call in self.calls if call[0] == method)


def build(clock, backend, **options):
    factory = filter_factory({"__section__": "filter:ratelimit"},
                             **{key: str(value) for key, value in options.items()})
    limiter = factory(backend)
    limiter.clock = clock
    limiter.sleep = clock.sleep
    limiter.scheduler.clock = clock
    return limiter


def send(app, method, path, token="tok"):
    return Request.blank(path, method=method, headers={"X-Auth-Token": token}).get_response(app)


# --- pure pieces ---------------------------------------------------------------------------

def test_rate_for_size_interpolates_between_points():
    points = size_rates({"container_ratelimit_100": "100", "container_ratelimit_200": "50",
                         "container_ratelimit_500": "20", "other": "x"}, "container_ratelimit_")
    assert points == [(100, 100.0), (200, 50.0), (500, 20.0)]
    assert rate_for_size(points, 99) is None
    assert rate_for_size(points, 100) == 100
    assert rate_for_size(points, 150) == 75
    assert rate_for_size(points, 350) == 35
    assert rate_for_size(points, 10**9) == 20
    assert rate_for_size([], 5) is None


@pytest.mark.parametrize("options", [{"container_ratelimit_x": "1"},
                                     {"container_ratelimit_10": "fast"},
                                     {"container_ratelimit_10": "0"},
                                     {"container_ratelimit_10": "-3"}])
def test_bad_size_rates(options):
    with pytest.raises(ValueError):
        size_rates(options, "container_ratelimit_")


def test_scheduler_spaces_requests_and_allows_a_burst_after_quiet():
    clock = FakeClock()
    scheduler = Scheduler(clock, max_sleep=10, burst_seconds=1)
    # a new key may spend one second of unused rate (2 requests at 2/s) on top of its own
    assert [scheduler.wait("k", 2) for _ in range(3)] == [0, 0, 0]
    assert scheduler.wait("k", 2) == 0.5
    assert scheduler.wait("k", 2) == 1.0
    clock.now += 100
    assert [scheduler.wait("k", 2) for _ in range(4)] == [0, 0, 0, 0.5]
    assert scheduler.wait("other", 2) == 0


def test_scheduler_refuses_past_max_sleep_without_taking_a_slot():
    clock = FakeClock()
    scheduler = Scheduler(clock, max_sleep=1, burst_seconds=0)
    assert [scheduler.wait("k", 1) for _ in range(2)] == [0, 1]
    assert scheduler.wait("k", 1) is None
    assert scheduler.wait("k", 1) is None
    clock.now += 1
    assert scheduler.wait("k", 1) == 1


def test_scheduler_state_stays_bounded():
    clock = FakeClock()
    scheduler = Scheduler(clock, max_sleep=1, burst_seconds=1, max_keys=10)
    for index in range(50):
        scheduler.wait(index, 1)
        clock.now += 5
    assert len(scheduler) <= 10


# --- the middleware --------------------------------------------------------------------------

def test_account_ratelimit_slows_container_writes_only():
    clock, backend = FakeClock(), Backend()
    app = build(clock, backend, account_ratelimit=2, rate_buffer_seconds=0)
    for name in "abcd":
        assert send(app, "PUT", f"/v1/AUTH_a/{name}").status_int == 201
    assert clock.slept == [0.5, 0.5, 0.5]
    send(app, "DELETE", "/v1/AUTH_b/x")  # another account has its own schedule
    send(app, "PUT", "/v1/AUTH_a/c/o")  # object writes: no container rates configured
    send(app, "GET", "/v1/AUTH_a/c")
    send(app, "POST", "/v1/AUTH_a")
    assert clock.slept == [0.5, 0.5, 0.5]


def test_498_when_the_wait_would_be_too_long_and_nothing_reaches_the_app():
    clock, backend = FakeClock(), Backend()
    app = build(clock, backend, account_ratelimit=1, max_sleep_time_seconds=2,
                rate_buffer_seconds=0)
    statuses = [send(app, "PUT", "/v1/AUTH_a/c").status_int for _ in range(3)]
    assert statuses == [201, 201, 201] and clock.slept == [1, 1]
    clock.sleep = lambda seconds: None  # time stands still: the queue only grows
    app.sleep = clock.sleep
    # waits of 1 and 2 seconds are still allowed, 3 is not
    assert [send(app, "PUT", "/v1/AUTH_a/c").status_int for _ in range(2)] == [201, 201]
    resp = send(app, "PUT", "/v1/AUTH_a/c")
    assert resp.status == "498 Rate Limited" and b"Slow down" in resp.body
    assert backend.count("PUT") == 5


def test_container_ratelimit_depends_on_the_container_size():
    clock, backend = FakeClock(), Backend(object_count=150)
    app = build(clock, backend, container_ratelimit_100=100, container_ratelimit_200=50,
                rate_buffer_seconds=0)
    for _ in range(3):
        send(app, "PUT", "/v1/AUTH_a/c/o")
    send(app, "POST", "/v1/AUTH_a/c/o")
    send(app, "DELETE", "/v1/AUTH_a/c/o")
    assert clock.slept == pytest.approx([1 / 75] * 4)
    send(app, "GET", "/v1/AUTH_a/c/o")  # reads are not limited
    assert len(clock.slept) == 4
    # the size was asked once, as the client, and remembered
    assert [call for call in backend.calls if call[0] == "HEAD"] == [("HEAD", "/v1/AUTH_a/c",
                                                                     "tok")]


def test_small_or_unreadable_containers_are_not_limited():
    clock = FakeClock()
    app = build(clock, Backend(object_count=5), container_ratelimit_100=1,
                rate_buffer_seconds=0)
    for _ in range(5):
        send(app, "PUT", "/v1/AUTH_a/c/o")
    unreadable = build(clock, Backend(object_count=10**6, head_status=403),
                       container_ratelimit_100=1, rate_buffer_seconds=0)
    for _ in range(5):
        send(unreadable, "PUT", "/v1/AUTH_a/c/o")
    assert clock.slept == []


def test_container_size_is_asked_again_after_its_ttl():
    clock, backend = FakeClock(), Backend(object_count=1000)
    app = build(clock, backend, container_ratelimit_100=1000, container_size_ttl=10)
    send(app, "PUT", "/v1/AUTH_a/c/o")
    clock.now += 11
    send(app, "PUT", "/v1/AUTH_a/c/o")
    assert backend.count("HEAD") == 2


def test_listing_ratelimit():
    clock = FakeClock()
    app = build(clock, Backend(object_count=100), container_listing_ratelimit_100=4,
                rate_buffer_seconds=0)
    for _ in range(3):
        send(app, "GET", "/v1/AUTH_a/c")
    assert clock.slept == [0.25, 0.25]


def test_white_and_black_lists():
    clock, backend = FakeClock(), Backend()
    app = build(clock, backend, account_ratelimit=1, rate_buffer_seconds=0,
                account_whitelist="AUTH_free, AUTH_also", account_blacklist="AUTH_bad")
    for _ in range(5):
        assert send(app, "PUT", "/v1/AUTH_free/c").status_int == 201
    assert clock.slept == []
    resp = send(app, "GET", "/v1/AUTH_bad/c/o")
    assert resp.status == "497 Blacklisted"
    assert backend.calls == [("PUT", "/v1/AUTH_free/c", "tok")] * 5


def test_other_paths_pass_untouched():
    clock, backend = FakeClock(), Backend()
    app = build(clock, backend, account_ratelimit=0.001, max_sleep_time_seconds=0,
                account_blacklist="AUTH_bad")
    for path in ("/info", "/auth/v1.0", "/healthcheck", "/v1", "/v1//x"):
        send(app, "GET", path)
    assert len(backend.calls) == 5 and clock.slept == []


def test_capabilities():
    app = build(FakeClock(), Backend(), account_ratelimit=3, container_ratelimit_10=5,
                container_listing_ratelimit_20=7)
    assert isinstance(app, RateLimit)
    assert app.capabilities == {"ratelimit": {
        "account_ratelimit": 3.0, "max_sleep_time_seconds": 60.0,
        "container_ratelimits": [[10, 5.0]], "container_listing_ratelimits": [[20, 7.0]]}}


@pytest.mark.parametrize("options", [{"account_ratelimit": "-1"}, {"unknown": "1"},
                                     {"container_ratelimit_big": "1"},
                                     {"max_sleep_time_seconds": "soon"}])
def test_bad_options_are_one_line_config_errors(options):
    with pytest.raises(ConfigError) as info:
        filter_factory({"__section__": "filter:ratelimit", "__file__": "p.conf"}, **options)
    assert "[filter:ratelimit]" in str(info.value) and "\n" not in str(info.value)

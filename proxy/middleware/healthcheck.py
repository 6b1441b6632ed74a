"""`healthcheck`: `GET /healthcheck` answers 200 OK before anything below is asked.

    [filter:healthcheck]
    use = egg:brume#healthcheck
    # disable_path = /etc/brume/proxy.disabled

As Swift's: when `disable_path` names an existing file, the answer is 503 DISABLED BY FILE
(take a proxy out of a load balancer's rotation without stopping it). Load balancers and
`brume up` ask it; no token is needed (it sits above auth).
"""
from __future__ import annotations

import os

from common.config import Option, load_options

OPTIONS = [Option("disable_path", str, "", "a file whose existence makes /healthcheck 503")]


class Healthcheck:
    def __init__(self, app, disable_path: str = ""):
        self.app = app
        self.disable_path = disable_path

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") != "/healthcheck":
            return self.app(environ, start_response)
        if self.disable_path and os.path.exists(self.disable_path):
            status, body = "503 Service Unavailable", b"DISABLED BY FILE"
        else:
            status, body = "200 OK", b"OK"
        start_response(status, [("Content-Type", "text/plain"),
                                ("Content-Length", str(len(body)))])
        return [body]


def filter_factory(global_conf: dict, **local_conf):
    options = load_options(local_conf, global_conf.get("__section__", "filter:healthcheck"),
                           OPTIONS, global_conf.get("__file__", "<config>"))
    return lambda app: Healthcheck(app, options["disable_path"])

"""`catch_errors`: a transaction id on every response, and unexpected errors as a 500.

    [filter:catch_errors]
    use = egg:brume#catch_errors

Outermost in the pipeline (as in Swift). Each request gets a fresh `tx...` id
(`proxy.transaction`), kept in the green thread's context (backend requests carry it) and
in the environ, and answered as `X-Trans-Id` and `X-Openstack-Request-Id`. An `HTTPError`
raised below becomes its one-line response (`common.http_errors`); any other exception is
logged with its traceback and answered with a one-line 500.
"""
from __future__ import annotations

import logging

from common.config import load_options
from common.http_errors import HTTPError, render_plain
from proxy.environ_keys import TRANS_ID_KEY
from proxy.transaction import TRANS_ID, new_trans_id

LOG = logging.getLogger("brume.proxy")


class CatchErrors:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        trans_id = new_trans_id()
        TRANS_ID.set(trans_id)
        environ[TRANS_ID_KEY] = trans_id

        def start_with_trans_id(status, headers, exc_info=None):
            headers = [*headers, ("X-Trans-Id", trans_id), ("X-Openstack-Request-Id", trans_id)]
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, start_with_trans_id)
        except HTTPError as error:
            return render_plain(error)(environ, start_with_trans_id)
        except Exception:
            LOG.exception("unexpected error on %s %s (%s)", environ.get("REQUEST_METHOD"),
                          environ.get("PATH_INFO"), trans_id)
            return render_plain(HTTPError(500, "internal error"))(environ, start_with_trans_id)


def filter_factory(global_conf: dict, **local_conf):
    load_options(local_conf, global_conf.get("__section__", "filter:catch_errors"), [],
                 global_conf.get("__file__", "<config>"))
    return CatchErrors

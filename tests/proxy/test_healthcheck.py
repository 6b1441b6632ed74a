"""`healthcheck`: `GET /healthcheck` without a token, and its `disable_path` switch."""
from __future__ import annotations

from webob import Request

from proxy.pipeline import make_app
from tests.proxy.cluster import pipeline_conf
from tests.proxy.conftest import rings_for


def test_healthcheck_needs_no_token(proxy_app):
    resp = Request.blank("/healthcheck").get_response(proxy_app)
    assert resp.status_int == 200 and resp.body == b"OK"
    assert Request.blank("/healthcheck/x").get_response(proxy_app).status_int == 404


def test_disable_path_takes_the_proxy_out_of_rotation(storage_cluster, tmp_path):
    flag = tmp_path / "proxy.disabled"
    path = pipeline_conf(storage_cluster)
    with open(path) as handle:
        text = handle.read()
    with open(path, "w") as handle:
        handle.write(text.replace("# disable_path =", f"disable_path = {flag}"))
    app = make_app(path, rings_for(storage_cluster.conf_dir))
    assert Request.blank("/healthcheck").get_response(app).status_int == 200
    flag.write_text("")
    resp = Request.blank("/healthcheck").get_response(app)
    assert resp.status_int == 503 and resp.body == b"DISABLED BY FILE"
    flag.unlink()
    assert Request.blank("/healthcheck").get_response(app).status_int == 200

"""The proxy's middleware, each a PasteDeploy filter named in `[pipeline:main]`.

`catch_errors` (transaction ids, unexpected errors), `healthcheck` (`GET /healthcheck`),
`auth` (v1 tokens and Swift's tempauth authorization), `copy` (COPY / X-Copy-From), `slo`
and `dlo` (large objects). Each module has `filter_factory(global_conf, **local_conf)`.
"""

"""The public HTTP API (Swift's /v1/<account>/<container>/<object>) with token auth.

Map of the package (entry point `proxy.pipeline:make_app`):

- `pipeline` — reads `[pipeline:main]` (Swift's PasteDeploy format) and builds the WSGI
  pipeline: the filters of `middleware` around the app of `server`.
- `middleware` — `catch_errors` (transaction ids, 500s), `healthcheck`, `auth` (tokens,
  `/auth/v1.0`, the authorize callback), `copy` (COPY / X-Copy-From), `slo`, `dlo` (large
  objects); `middleware.manifest_read` — how slo/dlo read a manifest.
- `server` — the app: `/info`, name checks, authorization through the auth middleware's
  callback, routing to the controllers; `settings` — the config's option lists and
  `[users]`; `target` — what a /v1 path addresses; `environ_keys` — what middleware and app
  tell each other; `subrequest` — middleware sub-requests as the same user.
- `tokens` — signed stateless tokens (`common.tokens`); `auth` — `/auth/v1.0` and the
  authorization rules; `acl` — container ACL syntax.
- `backend_client` — node order, error limiting, retries on a fresh connection, over
  `common.backend_http` (the wire: 100-continue, chunked, strict body lengths, keep-alive pool).
- `put_fanout` — streamed quorum PUT; `get_resume` — failover reads and mid-stream resume;
  `quorum` — status choice and bodiless fan-out; `info_cache` — account/container HEADs.
- `object_controller`, `container_controller`, `account_controller`, `listing` — the verbs;
  `object_headers` — object header checks; `responses` — WSGI responses and header filters.
- `segments` — what slo and dlo share (ranges over segments, streaming, manifest depth);
  `info` — /info and the capabilities the middleware register.
"""

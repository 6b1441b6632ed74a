"""The public HTTP API (Swift's /v1/<account>/<container>/<object>) with token auth.

Map of the package (entry point `proxy.server:make_app`):

- `server` — config once, routing, authentication/authorization of every request,
  internal sub-requests; `settings` — the config's option lists and `[users]`.
- `tokens` — signed stateless tokens (also imported by the image service and compute API);
  `auth` — `/auth/v1.0` and the authorization rules; `acl` — container ACL syntax.
- `backend_http` — green HTTP/1.1 client (100-continue, chunked, strict body lengths);
  `backend_client` — node order, error limiting, keep-alive pool.
- `put_fanout` — streamed quorum PUT; `get_resume` — failover reads and mid-stream resume;
  `quorum` — status choice and bodiless fan-out; `info_cache` — account/container HEADs.
- `object_controller`, `container_controller`, `account_controller`, `listing` — the verbs;
  `object_headers` — object header checks; `responses` — WSGI responses and header filters.
- `dlo`, `slo`, `segments` — large objects; `copy` — COPY / X-Copy-From; `info` — /info.
"""

"""The shared base under every Brume service: nothing here imports another Brume package.

- `config` — ini loading and validation, one-line `ConfigError`s, dev secrets refused off
  loopback; `cluster_conf` — the cluster's `brume.conf` options (salts, backend secret).
- `wsgi_server` — the thin eventlet runner every HTTP service runs under, with
  `wsgi_protocol` (each request's head, environ and answer), `http_headers` (fast head
  parsing), `http_framing` (unclear body framing refused) and `last_resort` (an unhandled
  exception is a logged 500); `green` — the eventlet import.
- `atomic_files` (temp → fsync → rename → fsync dir), `timestamp`, `constraints` (Swift's
  limits on names, metadata and sizes), `untrusted_json` (the strict client-JSON parser).
- `tokens` — signed user tokens; `backend_auth` — signed requests to storage servers.
- `image_formats` — what image bytes really are, and whether QEMU may open them safely.
"""

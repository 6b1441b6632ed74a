"""Container and account servers and their SQLite databases (one file per replica).

`broker` is the shared SQLite layer, `container_db`/`account_db` the two schemas, `files`
where databases live on a device, `server_base` what both servers share,
`container_server`/`account_server` the WSGI apps, `group_commit` batched row writes, and
`listing`/`listing_format` listings (pure logic, then JSON/XML/plain rendering).
"""

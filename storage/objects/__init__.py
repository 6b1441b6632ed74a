"""The object server and its disk files: one node's objects, their bytes, metadata and checks.

`server` is the WSGI app; `diskfile` the disk layer (with `writer`, `reader`, `metadata`,
`ondisk_files`); `suffix_hashes` the summary replicas compare; `container_updates` and
`async_pending` tell container replicas about writes; `headers`, `byteranges`,
`conditional` the HTTP semantics; `partition_lock` the lock shared with the daemons.
"""

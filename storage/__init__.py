"""Storage nodes: account, container and object servers and the daemons that keep data safe.

Subpackages by role, as in Swift: `objects` (object server and disk files), `databases`
(container and account servers and their SQLite files), `replication` (replicators and
their protocols), `daemons` (auditors, updaters, expirer and the runner). Top level:
`backend_common` (request parsing and answers the three servers share), `backend_client`
(the signed node-to-node client of daemons and servers) and `recon` (health records).
"""

# `[server] app` of each storage server, by kind (the samples in etc/ name the same).
SERVER_APPS = {
    "object": "storage.objects.server:make_app",
    "container": "storage.databases.container_server:make_app",
    "account": "storage.databases.account_server:make_app",
}

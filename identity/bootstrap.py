"""The identity store's first start: the Default domain, the three roles, the seed users.

`bootstrap(service)` runs at every start and is idempotent: it creates the `Default` domain
(id `default`) and the roles `reader`, `member` and `admin` when missing. The first time only
(a `meta` flag), it also seeds `[bootstrap]`'s `project:user = password role` entries: each
project in the Default domain with its name as its id (so `AUTH_<project>` storage accounts of
the all-in-one keep their names, and Swift's functional suite finds `AUTH_test`), each user
with its name as its id too (so a Swift ACL naming `test:tester3` names that user whether
they bring a Swift v1 token or a Keystone one, which carries ids only), with that password
and role on that project. An id already taken falls back to a random one.
Users an administrator later deletes are not brought back.
"""
from __future__ import annotations

from identity import assignments, directory
from identity.store import Duplicate

SEEDED = "bootstrap_seeded"


def bootstrap(service) -> None:
    store = service.store
    with store.write() as conn:
        if directory.get_domain(store, directory.DEFAULT_DOMAIN_ID) is None:
            directory.create_domain(conn, "Default", "The default domain",
                                    domain_id=directory.DEFAULT_DOMAIN_ID)
        for name in assignments.BUILTIN_ROLES:
            if assignments.role_by_name(store, name) is None:
                assignments.create_role(conn, name)
    if store.get_meta(SEEDED) is not None:
        return
    # Hash outside the transaction (hashing must not run while the store is locked).
    hashed = [(entry, service.hasher.hash(entry.password)) for entry in
              service.config.bootstrap]
    try:
        with store.write() as conn:
            if store.get_meta(SEEDED) is not None:
                return
            for entry, password_hash in hashed:
                _seed(store, conn, entry, password_hash)
            conn.execute("INSERT INTO meta (key, value) VALUES (?, '1')", (SEEDED,))
    except Duplicate:
        return  # another process seeded meanwhile


def _seed(store, conn, entry, password_hash: str) -> None:
    domain_id = directory.DEFAULT_DOMAIN_ID
    project = directory.project_by_name(store, domain_id, entry.project)
    if project is None:
        project_id = entry.project if directory.get_project(store, entry.project) is None \
            else None
        project_id = directory.create_project(conn, domain_id, entry.project,
                                              project_id=project_id)
    else:
        project_id = project["id"]
    user = directory.user_by_name(store, domain_id, entry.user)
    if user is None:
        user_id = entry.user if directory.get_user(store, entry.user) is None else None
        user_id = directory.create_user(conn, domain_id, entry.user, password_hash,
                                        default_project_id=project_id, user_id=user_id)
    else:
        user_id = user["id"]
    role = assignments.role_by_name(store, entry.role)
    assignments.grant(conn, user_id, "project", project_id, role["id"])

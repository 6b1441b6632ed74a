"""The WSGI environ keys through which the proxy's middleware and its app talk.

Only code sets them (a client cannot: its headers arrive as `HTTP_*` keys), so they are
trusted. Sub-requests made by middleware carry the identity, the authorize callback and the
manifest chain of the request they serve (`proxy.subrequest`).
"""
from __future__ import annotations

IDENTITY_KEY = "brume.identity"  # the caller (proxy.callers.Caller), or None (anonymous)
AUTHORIZE_KEY = "brume.authorize"  # auth's callback: (environ, method, target, container) -> denial
OWNER_KEY = "brume.owner"  # set by the authorize callback: the caller owns the account
# Set by a middleware above auth that authorized the request itself (tempurl): auth leaves
# the identity and the authorize callback it put in the environ alone.
AUTHORIZE_OVERRIDE_KEY = "brume.authorize_override"
INTERNAL_KEY = "brume.internal"  # a middleware's sub-request: may write sysmeta
SYSMETA_KEY = "brume.sysmeta"  # a middleware asks the app for the object's sysmeta headers
TRANS_ID_KEY = "brume.trans_id"  # the request's transaction id (catch_errors)
MANIFEST_CHAIN_KEY = "brume.manifest_chain"  # large-object manifests being expanded
# A middleware's own OPTIONS sub-request asking for the metadata of the container (of the
# account, on an account path) its path addresses: the app answers from its info cache
# without authorization (`proxy.metadata_lookup`); the answer never reaches a client.
METADATA_LOOKUP_KEY = "brume.metadata_lookup"
CLIENT_PATH_KEY = "brume.client_path"  # PATH_INFO as the client sent it, before domain_remap
# A staticweb sub-request reading an index or a listing for a web visitor: a temporary URL
# signed for a whole container lets only these read the container itself.
WEB_READ_KEY = "brume.web_read"
# The parameters of the temporary URL that admitted the request (a TempUrlQuery), so a
# staticweb listing under a signed prefix can carry them on its links.
TEMPURL_QUERY_KEY = "brume.tempurl_query"

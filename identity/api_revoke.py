"""`GET /v3/OS-REVOKE/events[?since=<ISO time>]`: the revocation events, for services that
check tokens locally (`common.token_format.is_revoked`) and poll this list (admins only).
"""
from __future__ import annotations

import datetime

from common.http_errors import HTTPError
from identity import policy, revocations, views
from identity.web import json_response, query


def list_events(service, req):
    policy.require_admin(service.caller(req))
    since_text = query(req).get("since")
    since = 0.0
    if since_text:
        try:
            moment = datetime.datetime.fromisoformat(since_text)
        except ValueError:
            raise HTTPError(400, "Invalid value for query parameter 'since'") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        since = moment.timestamp()
    events = []
    for event in revocations.events_since(service.store, since):
        doc = {"issued_before": views.iso(event.issued_before)}
        for name in revocations.FIELDS:
            if getattr(event, name) is not None:
                doc[name] = getattr(event, name)
        events.append(doc)
    return json_response({"events": events})

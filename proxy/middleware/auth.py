"""`auth`: v1 and Keystone tokens, and authorization with ACLs, following Swift's tempauth
and keystoneauth.

    [filter:auth]
    use = egg:brume#auth
    token_secret = ...      # with token_life, reseller_prefix, public_url; users in [users]
    token_key_file = ...    # the identity service's Fernet keys; revocation_url, ...
    identity_url = ...      # /auth/v1.0 against the identity store instead of [users]

`/auth/v1.0` (and `/auth/v1.0/`, `/auth/v1`) trades a `[users]` key (`proxy.auth.handle_auth`)
or, with `identity_url`, an identity store password (`proxy.identity_login`) for a signed v1
token. A request's `X-Auth-Token` is checked by `common.token_check.TokenChecker` (a v1 token,
or a Keystone project-scoped token of the identity service, refused once its revocation
event is polled); `proxy.callers.caller_of` says what its bearer may do here. Any other
request gets, in its environ, the caller's identity (`brume.identity`: a
`proxy.callers.Caller`, or None without a token) and an authorize
callback (`brume.authorize`) that the app calls once it knows what the request addresses:
`authorize(environ, method, target, container_info, account_info)` returns None (allowed;
`brume.owner` is set when the caller owns the account or holds its `admin` account ACL) or
the denial response (401 anonymous, with a `WWW-Authenticate: Swift
realm="<account>"` challenge; 403 otherwise). `account_info()` fetches the account's
ACL (`proxy.account_acl`) and `container_info()` the container's ACLs; each is only called
when the decision needs it (an authenticated caller who does not own the account). A token
that is invalid or expired is refused at once (401) on a /v1 path that parses (a malformed
one is still a 412/404 first, /info stays open). Sub-requests of the middleware below carry
both keys, so they are authorized as the same user.
A request that a middleware above authorized itself (`brume.authorize_override`, set by
`tempurl`) passes untouched, with the identity and callback that middleware set.
"""
from __future__ import annotations

from urllib.parse import quote

from webob import Request

from common.token_check import TokenChecker
from proxy.account_acl import (
    ADMIN,
    SYSMETA_HEADER,
    access_level,
    level_allows,
    parse_account_acl,
)
from proxy.auth import Authorizer, handle_auth
from proxy.callers import caller_of
from proxy.environ_keys import AUTHORIZE_KEY, AUTHORIZE_OVERRIDE_KEY, IDENTITY_KEY, OWNER_KEY
from proxy.identity_login import IdentityLogin, handle_identity_auth
from proxy.identity_names import IdentityNames
from proxy.responses import error
from proxy.settings import AuthSettings, load_auth_settings
from proxy.target import parse_target

AUTH_PATHS = frozenset({"/auth/v1.0", "/auth/v1.0/", "/auth/v1", "/auth/v1/"})
MAX_REMEMBERED_CALLERS = 4096


class AuthMiddleware:
    def __init__(self, app, settings: AuthSettings):
        self.app = app
        self.users = settings.users
        auth = settings.auth
        self.token_secret = auth["token_secret"]
        self.token_life = auth["token_life"]
        self.reseller_prefix = auth["reseller_prefix"]
        self.public_url = auth["public_url"]
        self.admin_projects = frozenset(auth["reseller_admin_projects"])
        self.tokens = TokenChecker.from_values(auth, self.token_secret, "[filter:auth]")
        self._callers: dict[str, tuple] = {}  # token -> (the checker's Requester, its Caller)
        self.login = None
        if auth["identity_url"]:
            self.login = IdentityLogin(auth["identity_url"], auth["identity_domain"],
                                       self.tokens.fernet)
        self.names = None
        if self.tokens.poller is not None:
            self.names = IdentityNames(auth["revocation_url"],
                                       self.tokens.poller.service_token)
        self.authorizer = Authorizer(self.reseller_prefix)
        self.capabilities = {
            "tempauth": {"account_acls": True},
            "brume": {"token_prefix": "BRM_", "reseller_prefix": self.reseller_prefix},
        }

    def __call__(self, environ, start_response):
        if environ.get(AUTHORIZE_OVERRIDE_KEY):  # authorized above (a temporary URL)
            return self.app(environ, start_response)
        if environ.get("PATH_INFO", "") in AUTH_PATHS:
            if self.login is not None:
                response = handle_identity_auth(
                    Request(environ), self.login, self.token_secret, self.token_life,
                    self.reseller_prefix, self.public_url, self.admin_projects)
            else:
                response = handle_auth(Request(environ), self.users, self.token_secret,
                                       self.token_life, self.reseller_prefix, self.public_url)
            return response(environ, start_response)
        token = environ.get("HTTP_X_AUTH_TOKEN") or environ.get("HTTP_X_STORAGE_TOKEN")
        identity = self.check_token(token) if token else None
        if token and identity is None:
            # Refused at once on a /v1 path; elsewhere (/info, a 404) no callback is needed.
            _version, target, reason = parse_target(environ.get("PATH_INFO", ""))
            if target is not None and not reason:
                return error(401, "invalid or expired token",
                             challenge(target.account))(environ, start_response)
            return self.app(environ, start_response)
        environ[IDENTITY_KEY] = identity
        environ[AUTHORIZE_KEY] = self.authorize
        return self.app(environ, start_response)

    def check_token(self, token: str):
        """The `Caller` bearing `token` (either kind), or None when it is bad, expired,
        revoked or not project-scoped. The checker vouches for the token on every request;
        the Caller made from its answer is remembered while that answer stands."""
        requester = self.tokens.requester(token)
        if requester is None:
            return None
        remembered = self._callers.get(token)
        if remembered is not None and remembered[0] is requester:
            return remembered[1]
        caller = caller_of(requester, self.admin_projects)
        if len(self._callers) >= MAX_REMEMBERED_CALLERS:
            self._callers.clear()
        self._callers[token] = (requester, caller)
        return caller

    def authorize(self, environ, method: str, target, container_info, account_info=None):
        """None when `method` on `target` is allowed, else a 401/403 response."""
        if method == "OPTIONS":
            return None
        identity = environ.get(IDENTITY_KEY)
        authorizer = self.authorizer
        account, container, obj = target.account, target.container, target.obj
        owner = authorizer.is_owner(identity, account)
        environ[OWNER_KEY] = owner
        # COPY reads here; its destination PUT is authorized again as a sub-request.
        check = "GET" if method == "COPY" else method
        if not owner and self.names is not None and identity is not None \
                and not identity.named and not (check in ("GET", "HEAD") and
                                                authorizer.reads_own(identity, account)):
            identity = environ[IDENTITY_KEY] = self.names.named(identity)  # ACLs may decide
        if not owner and account_info is not None and authorizer.may_grant(identity, account):
            level = access_level(account_acl_of(account_info()), authorizer.groups(identity))
            if level == ADMIN:
                environ[OWNER_KEY] = True
            if level_allows(level, check, container):
                return None
        if not authorizer.needs_acl(identity, check, account, container, obj):
            status = authorizer.authorize(identity, check, account, container, obj)
        else:
            info = container_info()
            if not info.exists:
                status = authorizer.deny(identity)
            else:
                status = authorizer.authorize(identity, check, account, container, obj,
                                              info.read_acl, info.write_acl,
                                              environ.get("HTTP_REFERER"))
        if status is None:
            return None
        if status == 401:
            return error(401, "unauthorized", challenge(account))
        return error(status, "forbidden")


def challenge(account: str) -> list[tuple[str, str]]:
    """The `WWW-Authenticate` of a 401: Swift's realm, the account URL-quoted (so nothing a
    client put in the path can break out of the quoted string or the header)."""
    return [("WWW-Authenticate", f'Swift realm="{quote(account)}"')]


def account_acl_of(info):
    """The account ACL in an account's info (`proxy.info_cache.EntityInfo`)."""
    if not info.exists:
        return parse_account_acl(None)
    return parse_account_acl(info.headers.get(SYSMETA_HEADER))


def filter_factory(global_conf: dict, **local_conf):
    settings = load_auth_settings(global_conf, local_conf)

    def make(app):
        middleware = AuthMiddleware(app, settings)
        if middleware.tokens.poller is not None:
            from common.green import eventlet

            middleware.tokens.start(eventlet.spawn_n, eventlet.sleep)
        return middleware

    return make

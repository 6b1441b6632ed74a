"""`formpost`: uploads from an HTML form, signed with the account's or container's key.

    [filter:formpost]
    use = egg:brume#formpost
    # allowed_digests = sha1 sha256 sha512

Sits below `auth` (an anonymous browser has no token). A `POST` of `multipart/form-data`
to `/v1/<account>/<container>[/<object prefix>]` is taken over here: the reader
(`proxy.multipart_form`) streams the body part by part; the fields before the first file
are the form's terms (`proxy.formpost_rules`), checked once, when the first file arrives:
not expired, a signature (`proxy.hmac_signatures`) under one of the keys of
`proxy.signing_keys`. Every file part then becomes a PUT sub-request of exactly
`<object prefix><file name>`, authorized for that one PUT and nothing else, its body
streamed from the form and cut off (the PUT aborted, nothing stored) past `max_file_size`;
files past `max_file_count` are refused. The answer is a 303 to the form's `redirect` with
`status` and `message` in the query, or without a redirect that status with the message as
text. Other requests pass untouched.
"""
from __future__ import annotations

import time
from html import escape

from common.config import Option, load_options
from proxy import subrequest
from proxy.environ_keys import AUTHORIZE_KEY, IDENTITY_KEY, OWNER_KEY
from proxy.formpost_rules import (
    MAX_FIELD_BYTES,
    MAX_FIELDS,
    FormRefused,
    FormTerms,
    object_name,
    redirect_location,
    signed_message,
    terms_of,
)
from proxy.hmac_signatures import (
    DEFAULT_ALLOWED_DIGESTS,
    decode_signature,
    matching_key,
    parse_allowed_digests,
)
from proxy.multipart_form import FormError, MultipartReader, boundary_of
from proxy.responses import RawResponse, close_iter, error
from proxy.signing_keys import lookup_keys
from proxy.target import Target, parse_target

OPTIONS = [
    Option("allowed_digests", parse_allowed_digests, DEFAULT_ALLOWED_DIGESTS,
           "HMAC digests accepted in form signatures"),
]


class FileTooLarge(ValueError):
    """A file of the form is past max_file_size (aborts its PUT sub-request)."""


class LimitedFile:
    """A form part as a PUT body: `read` stops the PUT once past `limit` bytes."""

    def __init__(self, part, limit: int):
        self._part = part
        self._left = limit
        self.too_large = False

    def read(self, size: int = -1) -> bytes:
        data = self._part.read(size if size and size > 0 else 65536)
        self._left -= len(data)
        if self._left < 0:
            self.too_large = True
            raise FileTooLarge("max_file_size exceeded")
        return data


def _only_put_of(path_target: Target):
    def authorize(environ, method, target, container_info, account_info=None):
        environ[OWNER_KEY] = False
        if method == "PUT" and target.path == path_target.path:
            return None
        return error(401, "unauthorized")

    return authorize


class FormPostMiddleware:
    def __init__(self, app, options: dict):
        self.app = app
        self.allowed_digests = options["allowed_digests"]
        self.capabilities = {"formpost": {"allowed_digests": list(self.allowed_digests)}}

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        boundary = boundary_of(environ.get("CONTENT_TYPE", ""))
        if boundary is None:
            return self.app(environ, start_response)
        _version, target, reason = parse_target(environ.get("PATH_INFO", ""))
        if reason or target is None or target.container is None:
            return self.app(environ, start_response)
        return self.upload(environ, target, boundary)(environ, start_response)

    def upload(self, environ, target: Target, boundary: str):
        reader = MultipartReader(environ["wsgi.input"].read, boundary)
        terms = None
        try:
            status, message, terms = self._process(environ, target, reader)
        except FormRefused as refused:
            status, message = refused.status, refused.message
            terms = getattr(refused, "terms", None)
        except FormError as exc:
            status, message = 400, f"FormPost: {exc}"
        if terms is not None and terms.redirect:
            location = redirect_location(terms.redirect, status, message)
            body = (f'<html><body><p><a href="{escape(location)}">Click to continue...'
                    "</a></p></body></html>").encode()
            return RawResponse(303, [("Location", location), ("Content-Type", "text/html"),
                                     ("Content-Length", str(len(body)))], [body])
        return error(status, message)

    def _process(self, environ, target: Target, reader: MultipartReader):
        fields: dict[str, str] = {}
        terms: FormTerms | None = None
        uploaded = 0
        while True:
            part = reader.next_part()
            if part is None:
                break
            if part.filename is None:
                if terms is None:
                    if len(fields) >= MAX_FIELDS:
                        raise FormRefused(400, "FormPost: too many form fields")
                    fields[part.name or ""] = part.read_text(MAX_FIELD_BYTES)
                continue
            if terms is None:
                terms = self._check(environ, target, fields)
            if not part.filename:
                continue  # an empty file input of the form
            if uploaded >= terms.max_file_count:
                raise _with_terms(FormRefused(400, "FormPost: max_file_count exceeded"), terms)
            status = self._put(environ, target, part, terms)
            if status is not None:
                raise _with_terms(FormRefused(*status), terms)
            uploaded += 1
        if terms is None:
            terms = self._check(environ, target, fields)
        if uploaded == 0:
            raise _with_terms(FormRefused(400, "FormPost: no files to process"), terms)
        return 201, "", terms

    def _check(self, environ, target: Target, fields: dict) -> FormTerms:
        terms = terms_of(fields, time.time())
        decoded = decode_signature(terms.signature, self.allowed_digests)
        if decoded is None:
            raise FormRefused(401, "FormPost: Invalid Signature")
        digest, signature = decoded
        # The path as requested (a container's form may end in "/"), already checked UTF-8.
        path = environ["PATH_INFO"].encode("latin-1").decode("utf-8")
        message = signed_message(path, fields)
        if matching_key(lookup_keys(self.app, environ, target), message, digest,
                        signature) is None:
            raise FormRefused(401, "FormPost: Invalid Signature")
        return terms

    def _put(self, environ, target: Target, part, terms: FormTerms):
        """None when the file is stored, else (status, message)."""
        name = object_name(target.obj, part.filename)
        destination = Target(target.account, target.container, name)
        body = LimitedFile(part, terms.max_file_size)
        headers = {"Content-Type": part.content_type or "application/octet-stream",
                   "Transfer-Encoding": "chunked", **terms.delete_headers}
        sub = subrequest.make_environ(environ, "PUT", "/v1" + destination.path, headers,
                                      body_input=body)
        sub[IDENTITY_KEY] = None
        sub[AUTHORIZE_KEY] = _only_put_of(destination)
        response = subrequest.call(self.app, sub)
        close_iter(response.app_iter)
        if body.too_large:
            return 400, "FormPost: max_file_size exceeded"
        if not 200 <= response.status < 300:
            return response.status, f"FormPost: upload of {part.filename!r} failed"
        return None


def _with_terms(refused: FormRefused, terms: FormTerms) -> FormRefused:
    refused.terms = terms
    return refused


def filter_factory(global_conf: dict, **local_conf):
    options = load_options(local_conf, global_conf.get("__section__", "filter:formpost"),
                           OPTIONS, global_conf.get("__file__", "<config>"))
    return lambda app: FormPostMiddleware(app, options)

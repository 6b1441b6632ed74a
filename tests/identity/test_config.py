"""The identity service's config: one-line errors, and development secrets refused off
loopback (the token secret, the bootstrap users' passwords)."""
from __future__ import annotations

import pytest

from common.config import ConfigError
from identity.config import load_identity_config
from tests.identity.conftest import write_conf


def test_sample_config_loads():
    import os

    sample = os.path.join(os.path.dirname(__file__), "..", "..", "etc", "identity-api.conf")
    config = load_identity_config(sample)
    assert config.catalog[("object-store", "public")].endswith("AUTH_$(project_id)s")
    assert {(b.project, b.user, b.role) for b in config.bootstrap} >= {
        ("admin", "admin", "admin"), ("test", "tester", "member"),
        ("service", "brume", "admin")}


@pytest.mark.parametrize("identity,catalog,bootstrap,fragment", [
    ({"token_expiration": "0"}, None, None, "token_expiration"),
    ({"public_url": "ftp://x"}, None, None, "public_url"),
    ({"bogus": "1"}, None, None, "unknown option 'bogus'"),
    (None, {"image.sideways": "http://x"}, None, "[catalog] bad entry"),
    (None, {"image": "not a url"}, None, "[catalog] bad value"),
    (None, None, {"nocolon": "pw member"}, "[bootstrap] bad entry"),
    (None, None, {"p:u": "pw emperor"}, "[bootstrap] bad entry"),
    (None, None, {"p:u": "onlypassword"}, "[bootstrap] bad entry"),
])
def test_bad_values_are_one_line_errors(tmp_path, identity, catalog, bootstrap, fragment):
    conf = write_conf(tmp_path, identity=identity, catalog=catalog, bootstrap=bootstrap)
    with pytest.raises(ConfigError) as caught:
        load_identity_config(conf)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_dev_secrets_refused_off_loopback(tmp_path):
    off = {"bind_ip": "0.0.0.0"}
    conf = write_conf(tmp_path, server=off, bootstrap={},
                      identity={"token_secret": "brume-dev-token-secret"})
    with pytest.raises(ConfigError, match="token_secret"):
        load_identity_config(conf)
    conf = write_conf(tmp_path, server=off, bootstrap={"test:tester": "testing member"})
    with pytest.raises(ConfigError, match="test:tester"):
        load_identity_config(conf)
    # A key file replaces the secret; real passwords are fine.
    conf = write_conf(tmp_path, server=off, bootstrap={"test:tester": "S3cret! member"},
                      identity={"token_secret": "brume-dev-token-secret",
                                "token_key_file": str(tmp_path / "keys")})
    assert load_identity_config(conf).token_key_file
    conf = write_conf(tmp_path, bootstrap={"test:tester": "testing member"},
                      identity={"token_secret": "brume-dev-token-secret"})
    assert load_identity_config(conf).token_secret == "brume-dev-token-secret"

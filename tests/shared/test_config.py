"""Config loading: every problem is one clear line; dev secrets refused off loopback."""
import pytest

from common.config import (
    ConfigError,
    Option,
    load_config_file,
    non_negative_int,
    parse_bool,
    parse_port,
    positive_float,
    refuse_dev_defaults,
)

OPTIONS = [
    Option("bind_port", parse_port),
    Option("workers", int, 1),
    Option("debug", parse_bool, False),
]


def write(tmp_path, text):
    path = tmp_path / "x.conf"
    path.write_text(text)
    return str(path)


def test_values_parsed_and_defaulted(tmp_path):
    path = write(tmp_path, "[s]\nbind_port = 80\ndebug = yes\n")
    assert load_config_file(path, "s", OPTIONS) == {"bind_port": 80, "workers": 1, "debug": True}


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("[s]\nworkers = 2\n", "missing required option 'bind_port'"),
        ("[s]\nbind_port = 99999\n", "bad value for 'bind_port'"),
        ("[s]\nbind_port = 80\nbogus = 1\n", "unknown option 'bogus'"),
        ("[t]\nbind_port = 80\n", "missing section [s]"),
        ("bind_port = 80\n", "cannot parse"),
        ("[s]\nbind_port = 80\ndebug = maybe\n", "bad value for 'debug'"),
    ],
)
def test_errors_are_one_line(tmp_path, text, fragment):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config_file(path, "s", OPTIONS)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    assert path in message


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config_file(str(tmp_path / "nope.conf"), "s", OPTIONS)


def test_dev_secrets_only_on_loopback():
    refuse_dev_defaults("127.0.0.1", {"token_secret": "brume-dev-token-secret"})
    refuse_dev_defaults("10.0.0.5", {"token_secret": "a-real-secret"})
    with pytest.raises(ConfigError, match="refusing to bind 10.0.0.5"):
        refuse_dev_defaults("10.0.0.5", {"token_secret": "brume-dev-token-secret"})


def test_positive_float_and_non_negative_int():
    assert positive_float("0.5") == 0.5
    assert non_negative_int("0") == 0
    for parse, bad in ((positive_float, "0"), (positive_float, "-1"), (non_negative_int, "-1")):
        with pytest.raises(ValueError):
            parse(bad)

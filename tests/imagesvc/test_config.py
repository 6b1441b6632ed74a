"""The image service's config: the sample loads, and mistakes are one-line errors."""
from __future__ import annotations

import os

import pytest

from common.config import ConfigError
from imagesvc.config import load_image_config, parse_size
from imagesvc.server import make_app

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sample_in(tmp_path, extra: str = "") -> str:
    with open(os.path.join(REPO, "etc", "image-api.conf")) as handle:
        text = handle.read().replace("/var/lib/brume", str(tmp_path))
    path = tmp_path / "image-api.conf"
    path.write_text(text + extra)
    return str(path)


def test_sample_config_builds_the_app(tmp_path):
    app = make_app(sample_in(tmp_path))
    assert app.service.config.segment_size == 64 * 1024 * 1024
    assert os.path.exists(tmp_path / "images" / "registry.db")


@pytest.mark.parametrize("extra, words", [
    ("segment_size = 10K\n", "segment_size"),
    ("upload_concurrency = 0\n", "upload_concurrency"),
    ("slo_threshold = lots\n", "slo_threshold"),
    ("bogus_option = 1\n", "bogus_option"),
    ("service_user = nocolon\n", "service_user"),
])
def test_bad_options_are_one_line_errors(tmp_path, extra, words):
    with pytest.raises(ConfigError) as info:
        load_image_config(sample_in(tmp_path, extra))
    assert words in str(info.value) and "\n" not in str(info.value)


def test_sizes():
    assert parse_size("64M") == 64 * 2**20
    assert parse_size("1G") == 2**30
    assert parse_size("512k") == 512 * 1024
    assert parse_size("123") == 123

"""Storage policies from brume.conf: parsing, validation and lookups (no IO but a temp file)."""
from __future__ import annotations

import pytest

from common.config import ConfigError
from common.storage_policies import SINGLE_POLICY, load_policies, parse_policies

GOLD_SILVER = {
    "storage-policy:0": {"name": "gold", "default": "true"},
    "storage-policy:1": {"name": "silver", "aliases": "cheap, Two-Copies"},
    "cluster": {"hash_path_prefix": "x"},
}


def test_two_policies_by_index_and_name():
    policies = parse_policies(GOLD_SILVER)
    assert [p.name for p in policies] == ["gold", "silver"]
    assert policies.default.name == "gold"
    silver = policies.by_name("SILVER")
    assert silver is policies.by_name("two-copies") is policies.by_name(" cheap ")
    assert (silver.index, silver.ring_name, silver.objects_dir) == (1, "object-1", "objects-1")
    gold = policies.get(0)
    assert (gold.ring_name, gold.objects_dir) == ("object", "objects")
    assert policies.by_name("bronze") is None
    assert policies.index_of_header(None) is gold and policies.index_of_header("1") is silver
    assert policies.index_of_header("7") is None and policies.index_of_header("-1") is None
    assert [p.info() for p in policies] == [
        {"name": "gold", "aliases": "gold", "default": True},
        {"name": "silver", "aliases": "silver, cheap, Two-Copies"},
    ]


def test_default_may_be_another_policy():
    sections = {"storage-policy:0": {"name": "gold"},
                "storage-policy:1": {"name": "silver", "default": "yes"}}
    assert parse_policies(sections).default.index == 1


@pytest.mark.parametrize("sections", [
    {"storage-policy:x": {"name": "a"}},
    {"storage-policy:0": {"name": "bad name"}},
    {"storage-policy:0": {"name": ""}},
    {"storage-policy:0": {"name": "a", "colour": "red"}},
    {"storage-policy:0": {"name": "a", "default": "maybe"}},
    {"storage-policy:0": {"name": "a", "default": "true"},
     "storage-policy:1": {"name": "b", "default": "true"}},
    {"storage-policy:0": {"name": "a"}, "storage-policy:1": {"name": "A"}},
    {"storage-policy:0": {"name": "a"}, "storage-policy:1": {"name": "b", "aliases": "a"}},
    {"storage-policy:1": {"name": "b"}},
])
def test_bad_sections_are_one_line_errors(sections):
    with pytest.raises(ConfigError) as caught:
        parse_policies(sections)
    assert "\n" not in str(caught.value)


def test_no_section_means_one_policy(tmp_path):
    (tmp_path / "brume.conf").write_text("[cluster]\nhash_path_prefix = p\n")
    assert load_policies(str(tmp_path)) is SINGLE_POLICY
    assert load_policies(str(tmp_path / "missing")) is SINGLE_POLICY
    (tmp_path / "brume.conf").write_text(
        "[cluster]\nhash_path_prefix = p\n[storage-policy:0]\nname = gold\n"
        "[storage-policy:1]\nname = silver\n")
    assert [p.name for p in load_policies(str(tmp_path))] == ["gold", "silver"]

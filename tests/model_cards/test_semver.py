"""Semantic versions: what authors may type, and which version is the latest."""

from __future__ import annotations

import pytest

from model_cards import semver


@pytest.mark.parametrize("value", ["0.0.1", "1.0.0", "1.2.3-rc.1", "1.0.0+build.5", "10.20.30-alpha.beta+exp.sha.5114f85"])
def test_valid_versions(value):
    assert semver.is_valid(value)


@pytest.mark.parametrize("value", ["1", "1.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0 ", "../1.0.0", "1.0.0/x", "9" * 70 + ".0.0"])
def test_invalid_versions(value):
    assert not semver.is_valid(value)


def test_precedence_follows_the_specification():
    # semver.org §11 example, shuffled
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
               "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0", "2.0.0"]
    shuffled = sorted(ordered, key=lambda v: hash(v) % 7)
    assert sorted(shuffled, key=semver.sort_key) == ordered

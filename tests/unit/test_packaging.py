"""The package metadata in pyproject.toml follows the current packaging rules.

setuptools deprecates `project.license` as a TOML table: the license is an SPDX
expression (PEP 639), which needs setuptools 77 or later to build, and the files it
names must exist.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

# An SPDX expression made of license identifiers joined by AND/OR (enough for ours).
SPDX_EXPRESSION = re.compile(r"^[A-Za-z0-9.\-+]+( (AND|OR) [A-Za-z0-9.\-+]+)*$")


def test_license_is_an_spdx_expression() -> None:
    license_ = PYPROJECT["project"]["license"]
    assert isinstance(license_, str), "project.license must be an SPDX string, not a table"
    assert SPDX_EXPRESSION.match(license_), license_


def test_license_files_exist() -> None:
    patterns = PYPROJECT["project"]["license-files"]
    for pattern in patterns:
        assert list(ROOT.glob(pattern)), f"license-files names {pattern!r}, which matches nothing"


def test_no_license_classifier_beside_the_expression() -> None:
    # setuptools refuses "License ::" classifiers next to an SPDX expression.
    classifiers = PYPROJECT["project"].get("classifiers", [])
    assert not [c for c in classifiers if c.startswith("License ::")]


def test_build_backend_understands_spdx_licenses() -> None:
    requires = PYPROJECT["build-system"]["requires"]
    setuptools = next(r for r in requires if r.startswith("setuptools"))
    minimum = re.search(r">=\s*(\d+)", setuptools)
    assert minimum is not None and int(minimum.group(1)) >= 77, setuptools

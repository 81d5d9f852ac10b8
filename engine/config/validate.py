"""Which file is which: the basket files of a folder (:func:`discover_baskets`) and one basket
or study file validated as whichever it is (:func:`validate_file`; ``basket validate`` also
reads claims files, through :func:`engine.config.claims.validate_any`).

May use ``config.baskets``, ``config.studies``, ``config.yamlfile`` and the ground floor.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.config.baskets import Basket, basket_from_mapping, is_study_file
from engine.config.studies import Study, study_from_mapping
from engine.config.yamlfile import load_yaml
from engine.errors import ConfigError


def discover_baskets(folder: str | Path) -> list[Path]:
    """Every basket file (``*.yaml``/``*.yml``) directly in ``folder``, sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(
            folder,
            "basket folder not found",
            hint="run from the project folder or pass basket files",
        )
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    if not files:
        raise ConfigError(folder, "no basket files (*.yaml) in this folder")
    return files


def validate_file(path: str | Path) -> tuple[str, Basket | Study]:
    """Load a basket or study file, whichever it is: ``("basket", Basket)`` or
    ``("study", Study)``."""
    return validate_mapping(load_yaml(path), path)


def validate_mapping(data: Any, path: str | Path) -> tuple[str, Basket | Study]:
    """The YAML ``data`` of the file at ``path`` as the basket or study it is (a study has a
    study's keys: :func:`engine.config.baskets.is_study_file`)."""
    if is_study_file(data):
        return "study", study_from_mapping(data, str(path))
    return "basket", basket_from_mapping(data, str(path))

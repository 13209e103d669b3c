"""Operating a model's versions by hand (``models --drop`` / ``--set-default``): the repair for a version that
cannot be used, e.g. a default whose model file is damaged. The default version stays protected unless asked."""

from __future__ import annotations

from domain.errors import Conflict
from domain.ports import ModelRegistry


def set_default(registry: ModelRegistry, model_name: str, version: str) -> str:
    """Make ``version`` the default (and CHAMPION, the former default PREVIOUS_CHAMPION); says what was done."""
    registry.promote(model_name, version)
    info = registry.get_version(model_name, version)
    return f"{info.model_name} version {info.version} is now the default version."


def drop_version(registry: ModelRegistry, model_name: str, version: str, *, force: bool = False) -> str:
    """Drop one version; says what the default version is afterwards.

    The default version and an aliased one are refused unless ``force``: then the version's aliases go with it,
    and a default is first replaced by the newest other version — or, being the only version, its model is
    dropped, so no model is left without a default.
    """
    info = registry.get_version(model_name, version)
    model, name = info.model_name, info.version
    if not force and (info.is_default or info.aliases):
        held = "the default version" if info.is_default else f"aliased {', '.join(sorted(info.aliases))}"
        raise Conflict(
            f"{model} version {name} is {held}: set another default first (models --set-default VERSION), "
            f"or drop it anyway with models --drop {name} --force"
        )
    if info.is_default:
        others = [v for v in registry.list_versions(model) if v.version != name]
        if not others:
            registry.delete_model(model)
            return f"Dropped {model} version {name}, its only version, and with it the model."
        registry.promote(model, max(others, key=lambda v: (v.created_on, v.version)).version)
    registry.delete_version(model, name, drop_aliases=force)
    default = registry.default_version(model)
    return f"Dropped {model} version {name}; the default version is {default.version if default else 'none'}."

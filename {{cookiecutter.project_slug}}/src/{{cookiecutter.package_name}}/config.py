"""The one boundary between YAML and code: compose `conf/` with Hydra, validate it.

Library code only ever sees a `Settings` object, never a `DictConfig`.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .settings import Settings

DEFAULT_CONFIG_DIR = Path("conf")


class ConfigError(ValueError):
    """The configuration cannot be composed or does not match the settings schema."""


def compose(
    overrides: Sequence[str] = (),
    config_dir: Path = DEFAULT_CONFIG_DIR,
    config_name: str = "config",
) -> dict[str, Any]:
    """Compose `conf/` with Hydra overrides into a plain, resolved dictionary."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    config_dir = Path(config_dir).resolve()
    if not (config_dir / f"{config_name}.yaml").is_file():
        raise ConfigError(
            f"No {config_name}.yaml in {config_dir}: run from the project root."
        )
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            cfg = hydra_compose(config_name=config_name, overrides=list(overrides))
        return OmegaConf.to_container(cfg, resolve=True)
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(f"Invalid configuration: {exc}") from exc


def validate(raw: Mapping[str, Any]) -> Settings:
    """Validate a composed configuration, naming every offending key."""
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            f" (got {error['input']!r})"
            for error in exc.errors()
        ]
        raise ConfigError("Invalid configuration:\n" + "\n".join(lines)) from exc


def load_settings(
    overrides: Sequence[str] = (),
    config_dir: Path = DEFAULT_CONFIG_DIR,
    config_name: str = "config",
) -> Settings:
    """Compose and validate: what every pipeline stage starts from."""
    return validate(compose(overrides, config_dir, config_name))

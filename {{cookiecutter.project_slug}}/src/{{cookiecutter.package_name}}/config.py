"""The one boundary between YAML and code: compose `conf/` with Hydra, validate it.

Library code only ever sees a `Settings` object, never a `DictConfig`.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import ConfigError
from .settings import Settings

__all__ = ["ConfigError", "compose", "load_settings", "validate"]
DEFAULT_CONFIG_DIR = Path("conf")


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
    from .task import for_contract

    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(part) for part in error['loc']) or '(config)'}: "
            f"{error['msg']}" + _shown(error["input"])
            for error in exc.errors()
        ]
        raise ConfigError("Invalid configuration:\n" + "\n".join(lines)) from exc
    task = for_contract(settings.data)
    metric = settings.train.primary_metric
    if metric is not None and metric not in task.metrics:
        raise ConfigError(
            f"Invalid configuration:\n  train.primary_metric: {metric!r} is not a "
            f"{task.name} metric; choose one of {', '.join(task.metrics)} (or null)."
        )
    return settings


def _shown(value: Any) -> str:
    """The offending value, unless it is a whole (large) section of the config."""
    if isinstance(value, (dict, list)) and len(repr(value)) > 200:
        return ""
    return f" (got {value!r})"


def load_settings(
    overrides: Sequence[str] = (),
    config_dir: Path = DEFAULT_CONFIG_DIR,
    config_name: str = "config",
) -> Settings:
    """Compose and validate: what every pipeline stage starts from."""
    return validate(compose(overrides, config_dir, config_name))
{%- if cookiecutter.use_dvc == 'yes' %}


# The composed config DVC tracks. `python -m <package> params` writes it from conf/,
# `dvc exp run -S ...` rewrites it with DVC's own Hydra composition (same format), and
# every stage in dvc.yaml runs on it (`--params params.yaml`).
PARAMS_FILE = Path("params.yaml")
PARAMS_HEADER = (
    "# conf/ composed by Hydra: what DVC tracks and the dvc.yaml stages run on.\n"
    "# Generated: edit conf/, then `make pipeline` or `dvc exp run -S key=value`.\n"
)


def render_params(
    overrides: Sequence[str] = (), config_dir: Path = DEFAULT_CONFIG_DIR
) -> str:
    """Compose and validate conf/ with overrides; return it as params.yaml text."""
    from omegaconf import OmegaConf

    raw = compose(overrides, config_dir)
    validate(raw)
    return PARAMS_HEADER + OmegaConf.to_yaml(OmegaConf.create(raw))


def write_params(
    overrides: Sequence[str] = (),
    config_dir: Path = DEFAULT_CONFIG_DIR,
    path: Path = PARAMS_FILE,
) -> Path:
    """Write the composed, validated config to params.yaml (what DVC tracks)."""
    path.write_text(render_params(overrides, config_dir), encoding="utf-8")
    return path


def load_params(path: Path = PARAMS_FILE) -> Settings:
    """Validate a composed config file, as DVC stages run it."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException
    from yaml import YAMLError

    if not path.is_file():
        raise ConfigError(f"{path} not found: run `python -m {__package__} params`.")
    try:
        raw = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    except (OmegaConfBaseException, YAMLError) as exc:
        raise ConfigError(f"Invalid {path}: {exc}") from exc
    return validate(raw)
{%- endif %}

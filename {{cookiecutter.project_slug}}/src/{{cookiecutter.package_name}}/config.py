"""The one boundary between YAML and code: compose `conf/` with Hydra, validate it.

Library code only ever sees a `Settings` object, never a `DictConfig`.

Composing costs about half a second (importing Hydra, then composing), which every
command would pay at start-up: a composed configuration is kept in a cache, keyed by
everything the composition reads - the bytes of every file under the config
directory, the overrides and the installed Hydra and OmegaConf - so that an edit to
`conf/` or another override is a new key, never a stale answer. Configurations whose
values can depend on something else are never cached: an interpolation with a
resolver (`${oc.env:HOME}`) or a search path to other config sources, in a file or
an override. The cache is `$XDG_CACHE_HOME/<package>/config` (default
`~/.cache/...`), its newest `CACHE_ENTRIES` compositions; delete it at will, set
`<PACKAGE>_CONFIG_CACHE=0` to compose every time. It is never required: an
unreadable or unwritable cache only means composing again.
"""

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import ConfigError
from .settings import Settings

__all__ = ["ConfigError", "compose", "load_settings", "validate"]
DEFAULT_CONFIG_DIR = Path("conf")
# Compositions kept in the cache (the oldest go first).
CACHE_ENTRIES = 64
CACHE_SWITCH = f"{__package__.upper()}_CONFIG_CACHE"
# What makes a composition depend on more than its files and overrides: a resolver
# (`${name:...}`, the environment, the time...), Hydra's search path (configs from
# elsewhere), in a config file or an override.
_UNCACHEABLE = re.compile(rb"\$\{[^}:]*:|searchpath")


def compose(
    overrides: Sequence[str] = (),
    config_dir: Path = DEFAULT_CONFIG_DIR,
    config_name: str = "config",
) -> dict[str, Any]:
    """Compose `conf/` with Hydra overrides into a plain, resolved dictionary."""
    config_dir = Path(config_dir).resolve()
    if not (config_dir / f"{config_name}.yaml").is_file():
        raise ConfigError(
            f"No {config_name}.yaml in {config_dir}: run from the project root."
        )
    entry = _cache_entry(overrides, config_dir, config_name)
    if entry is not None:
        try:
            return json.loads(entry.read_bytes())
        except (OSError, ValueError):
            pass  # not cached yet (or unreadable): compose
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException
    from yaml import YAMLError

    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            cfg = hydra_compose(config_name=config_name, overrides=list(overrides))
        raw = OmegaConf.to_container(cfg, resolve=True)
    except (HydraException, OmegaConfBaseException, YAMLError) as exc:
        raise ConfigError(f"Invalid configuration: {exc}") from exc
    if entry is not None:
        _remember(entry, raw)
    return raw


def _cache_entry(
    overrides: Sequence[str], config_dir: Path, config_name: str
) -> Path | None:
    """The cache file of this composition, or None when it must not be cached."""
    if os.environ.get(CACHE_SWITCH, "1") == "0":
        return None
    if _UNCACHEABLE.search("\0".join(overrides).encode()):
        return None
    key = hashlib.sha256()
    key.update(json.dumps([_installed(), config_name, list(overrides)]).encode())
    for path in sorted(config_dir.rglob("*")):
        if not path.is_file():
            continue
        content = path.read_bytes()
        if path.suffix in (".yaml", ".yml") and _UNCACHEABLE.search(content):
            return None
        key.update(str(path.relative_to(config_dir)).encode() + b"\0")
        key.update(hashlib.sha256(content).digest())
    try:
        home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    except RuntimeError:  # no home directory: nowhere to keep it
        return None
    return Path(home) / __package__ / "config" / f"{key.hexdigest()}.json"


def _installed() -> list[str]:
    """Which Hydra and OmegaConf compose: their files' paths, sizes and times (an
    upgrade changes them), found without importing them (importing is the cost)."""
    found = []
    for name in ("hydra", "omegaconf"):
        spec = find_spec(name)
        origin = Path(spec.origin) if spec and spec.origin else None
        stat = origin.stat() if origin else None
        found.append(f"{origin}:{stat.st_size}:{stat.st_mtime_ns}" if stat else name)
    return found


def _remember(entry: Path, raw: dict[str, Any]) -> None:
    """Keep a composition (if JSON gives it back as it is); keep the newest only."""
    text = json.dumps(raw)
    if json.loads(text) != raw:  # integer keys, NaN...: not cached
        return
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        partial = entry.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(entry)  # atomic: a reader sees all of it or nothing
        kept = sorted(entry.parent.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for old in kept[:-CACHE_ENTRIES]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only home, a race with another process: compose next time


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
        if any(
            isinstance(error["input"], bool)
            and error["type"] in ("string_type", "int_type")
            for error in exc.errors()
        ):
            lines.append(
                "  (YAML reads unquoted yes, no, true, false, on and off as booleans: "
                "quote a class or category spelled so, e.g. ['no', 'yes'].)"
            )
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

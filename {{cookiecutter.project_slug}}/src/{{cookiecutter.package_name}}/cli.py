"""Command line: `python -m <package> <stage> [hydra overrides...]`."""

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path

# Stage name -> module with a `run(settings)` function, in pipeline order.
STAGES = {
    "data": "data",
    "features": "features",
    "train": "train",
    "evaluate": "evaluate",
{%- if cookiecutter.use_onnx == 'yes' %}
    "export": "export",
{%- endif %}
}


class StageError(Exception):
    """A stage cannot finish; the message says why (the CLI exits with 1)."""


def _stage(name: str) -> Callable:
    """Import a stage lazily, so a stage only pays for the libraries it uses."""
    return import_module(f".{STAGES[name]}", __package__).run


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}",
        description="Run a pipeline stage on the configuration composed from conf/.",
    )
    parser.add_argument(
        "stage",
        choices=[*STAGES, "all"],
        help=f"stage to run ('all' runs {', '.join(STAGES)} in order)",
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        help="Hydra overrides, e.g. model=random_forest model.n_estimators=50",
    )
    parser.add_argument(
        "--config-dir",
        type=Path,
        default=Path("conf"),
        help="directory holding config.yaml (default: ./conf)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the requested stage(s); return the process exit code."""
    from .config import ConfigError, load_settings
    from .data import DataValidationError

    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings(args.overrides, config_dir=args.config_dir)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stages = list(STAGES) if args.stage == "all" else [args.stage]
    try:
        for name in stages:
            _stage(name)(settings)
    except (DataValidationError, FileNotFoundError, StageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def run() -> None:
    """Console-script entry point: exit with the code `main` returns."""
    sys.exit(main())

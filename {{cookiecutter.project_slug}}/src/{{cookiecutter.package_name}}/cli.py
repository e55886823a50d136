"""Command line: `python -m <package> <stage> [hydra overrides...]`."""

import argparse
import gc
import logging
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path

# Pipeline stage name -> module with a `run(settings)` function, in pipeline order.
STAGES = {
    "data": "data",
    "features": "features",
    "train": "train",
    "evaluate": "evaluate",
{%- if cookiecutter.use_onnx == 'yes' %}
    "export": "export",
{%- endif %}
}
# Commands that are not pipeline stages -> what they do.
COMMANDS = {
    "predict": "score a CSV or Parquet file in chunks (--input, --output)",
    "contract": "contract infer FILE --target COLUMN: write conf/data/<name>.yaml",
    "tune": "Optuna study of the model's search space (conf/tune/<model>.yaml, "
    "tune.<key>=... overrides); writes conf/model/<model>_tuned.yaml",
{%- if cookiecutter.use_mlflow == 'yes' %}
    "promote": "re-run the champion/challenger decision for the trained model",
{%- endif %}
{%- if cookiecutter.use_dvc == 'yes' %}
    "params": "compose conf/ with the overrides into params.yaml (what DVC tracks)",
{%- endif %}
{%- if cookiecutter.use_fastapi == 'yes' %}
    "monitor": "drift and data quality of the prediction log (--log, --labels, "
    "--out; monitor.<key>=... thresholds); exit 1 when over them",
{%- endif %}
{%- if cookiecutter.use_fastapi == 'yes' %}
    "canary": "canary --stable URL --canary URL: compare their /metrics; exit 0 "
    "promote, 1 roll back, 2 no verdict",
{%- endif %}
{%- if cookiecutter.use_mlflow == 'yes' %}
    "champion": "champion fetch: the registry's champion into models/",
{%- endif %}
}


def _stage(name: str) -> Callable:
    """Import a stage lazily, so a stage only pays for the libraries it uses."""
    return import_module(f".{STAGES[name]}", __package__).run


def build_parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}",
        description="Run a pipeline stage on the configuration composed from conf/.",
        epilog="commands: "
        + "; ".join(f"{name}: {what}" for name, what in COMMANDS.items()),
    )
    parser.add_argument(
        "stage",
        choices=[*STAGES, "all", *COMMANDS],
        help=f"stage to run ('all' runs {', '.join(STAGES)} in order) or command",
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
{%- if cookiecutter.use_dvc == 'yes' %}
    parser.add_argument(
        "--params",
        type=Path,
        help="read the composed config from this file instead of conf/ "
        "(DVC stages use params.yaml)",
    )
{%- endif %}
{%- if cookiecutter.use_onnx == 'yes' %}
    parser.add_argument(
        "--if-stale",
        action="store_true",
        help="export: only when the ONNX file was not exported from the current model",
    )
{%- endif %}
    # Text, not Path: the Spark engine also takes URIs (s3a://bucket/key).
    batch = parser.add_argument_group("predict")
    batch.add_argument("--input", help="rows to score (.csv or .parquet)")
    batch.add_argument("--output", help="scored rows (.csv or .parquet)")
    batch.add_argument(
        "--rejects",
        help="rows that fail validation (default: <output stem>.rejects.csv)",
    )
    batch.add_argument(
        "--chunk-size", type=int, default=10_000, help="rows per chunk (10000)"
    )
{%- if cookiecutter.use_fastapi == 'yes' %}
    watch = parser.add_argument_group("monitor")
    watch.add_argument(
        "--log",
        type=Path,
        help="prediction log: a file or a directory (default: logs/predictions)",
    )
    watch.add_argument(
        "--labels",
        type=Path,
        help="true values: CSV of request_id, row (optional) and the target column",
    )
    watch.add_argument(
        "--out", type=Path, help="report directory (default: reports/monitor)"
    )
{%- endif %}
{%- if cookiecutter.use_spark == 'yes' %}
    batch.add_argument(
        "--engine",
        choices=["local", "spark"],
        default="local",
        help="local: chunks in this process; spark: Apache Spark (SPARK_MASTER, "
        "default local[*]), Parquet directories out",
    )
{%- endif %}
    return parser


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse option combinations that make no sense."""
    if args.stage == "predict":
        if args.input is None or args.output is None:
            parser.error("predict needs --input and --output")
        if args.chunk_size < 1:
            parser.error("--chunk-size must be at least 1")
    elif args.input is not None or args.output is not None:
        parser.error("--input and --output only apply to predict")
{%- if cookiecutter.use_fastapi == 'yes' %}
    if args.stage != "monitor" and (args.log or args.labels or args.out):
        parser.error("--log, --labels and --out only apply to monitor")
{%- endif %}
{%- if cookiecutter.use_dvc == 'yes' %}
    if args.params is not None and args.overrides:
        parser.error("--params takes no overrides: give them to the params command")
    if args.params is not None and args.stage == "tune":
        parser.error("tune composes conf/ itself: it takes overrides, not --params")
{%- endif %}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the requested stage(s); return the process exit code."""
{%- if cookiecutter.use_dvc == 'yes' %}
    from .config import ConfigError, load_params, load_settings, write_params
{%- else %}
    from .config import ConfigError, load_settings
{%- endif %}
    from .errors import StageError

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["contract"]:
        return contract_main(argv[1:])
{%- if cookiecutter.use_fastapi == 'yes' %}
    if argv[:1] == ["canary"]:
        from .canary import main as canary_main

        return canary_main(argv[1:])
{%- endif %}
{%- if cookiecutter.use_mlflow == 'yes' %}
    if argv[:1] == ["champion"]:
        return champion_main(argv[1:])
{%- endif %}
    parser = build_parser()
    # Intermixed: options may come after the overrides (`export data=x --if-stale`).
    args = parser.parse_intermixed_args(argv)
    _check(parser, args)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.stage == "tune":
        return tune_main(args)
    try:
{%- if cookiecutter.use_dvc == 'yes' %}
        if args.stage == "params":
            path = write_params(args.overrides, config_dir=args.config_dir)
            print(f"Wrote {path}: conf/ + {' '.join(args.overrides) or 'no overrides'}")
            return 0
        if args.params is not None:
            settings = load_params(args.params)
        else:
            settings = load_settings(args.overrides, config_dir=args.config_dir)
{%- else %}
        settings = load_settings(args.overrides, config_dir=args.config_dir)
{%- endif %}
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if args.stage == "predict":
{%- if cookiecutter.use_spark == 'yes' %}
            if args.engine == "spark":
                from .spark import run as predict
            else:
                from .predict import run as predict
{%- else %}
            from .predict import run as predict
{%- endif %}

            # A one-shot process: what start-up built (modules, config) lives until
            # exit. Frozen, the collector skips it during the run and at exit (0.3 s).
            gc.freeze()
            predict(settings, args.input, args.output, args.rejects, args.chunk_size)
{%- if cookiecutter.use_fastapi == 'yes' %}
        elif args.stage == "monitor":
            from .monitor import run as monitor

            if not monitor(settings, args.log, args.labels, args.out).ok:
                return 1
{%- endif %}
{%- if cookiecutter.use_mlflow == 'yes' %}
        elif args.stage == "promote":
            from .tracking import promote

            promote(settings)
{%- endif %}
{%- if cookiecutter.use_onnx == 'yes' %}
        elif args.stage == "export" and args.if_stale:
            from .export import run as export

            export(settings, if_stale=True)
{%- endif %}
        else:
            for name in list(STAGES) if args.stage == "all" else [args.stage]:
                _stage(name)(settings)
    except (FileNotFoundError, StageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def tune_main(args: argparse.Namespace) -> int:
    """`tune`: run the model's Optuna study; return the exit code."""
    from .errors import ConfigError, StageError
    from .tune import load, run

    try:
        settings, search = load(args.overrides, config_dir=args.config_dir)
        run(settings, search, config_dir=args.config_dir)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, StageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def build_contract_parser() -> argparse.ArgumentParser:
    """Describe `contract infer`."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__} contract",
        description="Infer a data contract (conf/data/<name>.yaml) from a file.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    infer = commands.add_parser("infer", help="write conf/data/<name>.yaml from a file")
    infer.add_argument("file", type=Path, help="a .csv or .parquet file in the project")
    infer.add_argument("--target", required=True, help="the column to predict")
    infer.add_argument("--name", help="contract name (default: the file's stem)")
    infer.add_argument(
        "--task",
        choices=["classification", "regression"],
        help="default: classification for text labels or few whole-number values",
    )
    infer.add_argument(
        "--ignore", nargs="*", default=[], help="columns to leave out (ids, free text)"
    )
    infer.add_argument(
        "--max-categories",
        type=int,
        default=50,
        help="most distinct values of a categorical column (50)",
    )
    infer.add_argument(
        "--na-values",
        type=_spellings,
        help="text read as missing besides the empty cell, separated by commas "
        "('': only empty cells; default: pandas' NA, N/A, NULL, None, nan...)",
    )
    infer.add_argument(
        "--config-dir", type=Path, default=Path("conf"), help="default: ./conf"
    )
    infer.add_argument(
        "--force", action="store_true", help="overwrite an existing contract"
    )
    return parser


def _spellings(text: str) -> list[str]:
    """`--na-values`: "NULL, n/a" -> ["NULL", "n/a"]; "" -> [] (only empty cells).
    Text only, as the contract takes it (`Contract.na_values`)."""
    from .settings import text_spellings

    spellings = [part.strip() for part in text.split(",") if part.strip()]
    try:
        text_spellings(spellings)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return spellings


def contract_main(argv: Sequence[str]) -> int:
    """`contract infer`: write a contract to review; return the exit code."""
    import re

    from .contract import contract_yaml, infer, missing_spellings, read_table
    from .errors import StageError
    from .settings import DATA_SUFFIXES

    args = build_contract_parser().parse_args(argv)
    # What inference warns of (a constant column, an id, a rare class...), spelled as
    # this command's own warnings are.
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s")
    # A Hydra option name (ARGS="data=<name>" carries no spaces): the file's stem,
    # lower case, or --name; other characters become "_".
    name = re.sub(r"\W+", "_", args.name or args.file.stem.lower()).strip("_")
    destination = args.config_dir / "data" / f"{name}.yaml"
    try:
        if args.file.suffix.lower() not in DATA_SUFFIXES:
            raise StageError(f"{args.file}: expected a .csv or .parquet file.")
        if destination.exists() and not args.force:
            raise StageError(
                f"{destination} exists: pick another --name (make contract: NAME=), "
                "or --force (FORCE=1)."
            )
        frame = read_table(args.file, na_values=args.na_values)
        terms = infer(
            frame,
            args.target,
            task=args.task,
            ignore=args.ignore,
            max_categories=args.max_categories,
        )
        if args.ignore:
            terms["ignore"] = list(args.ignore)
        if args.na_values is not None:
            terms["na_values"] = args.na_values
        text = [n for n, f in terms["features"].items() if f["kind"] == "categorical"]
        # pandas' spellings, unless --na-values says which are missing.
        spelled = missing_spellings(args.file, text) if args.na_values is None else {}
        for column, counts in spelled.items():
            cells = ", ".join(f"{count} {value!r}" for value, count in counts.items())
            print(
                f"warning: column {column!r}: {cells} read as missing, in training "
                "and scoring alike. If one is a value (NA: Namibia), list only the "
                'spellings that mean missing: NA_VALUES="NULL,n/a" (--na-values; '
                "NA_VALUES= : only empty cells), kept as the contract's na_values.",
                file=sys.stderr,
            )
    except (FileNotFoundError, StageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_text(
        contract_yaml(terms, name, args.file, len(frame)), encoding="utf-8"
    )
    kinds = {}
    for feature in terms["features"].values():
        kinds[feature["kind"]] = kinds.get(feature["kind"], 0) + 1
    print(
        f"Wrote {destination}: {terms['task']}, target {args.target!r}, "
        + ", ".join(f"{count} {kind}" for kind, count in kinds.items())
        + f" feature(s). Review it, then: {next_step(terms['task'], name, args)}"
    )
    return 0


def next_step(task: str, name: str, args: argparse.Namespace) -> str:
    """The `make train` line for a new contract: with a model that does its task
    when the configured default does not."""
    from .config import ConfigError, compose
    from .settings import models_for

    overrides = f"data={name}"
    try:  # the default model, with the contract just written as the data
        default = compose([overrides], args.config_dir)["model"]["name"]
    except (ConfigError, KeyError, TypeError):
        default = None
    fitting = [
        model
        for model in models_for(task)
        if (args.config_dir / "model" / f"{model}.yaml").is_file()
    ]
    if default is None or default in fitting or not fitting:
        return f'make train ARGS="{overrides}"'
    return (
        f'make train ARGS="{overrides} model={fitting[0]}" ({default}, the default '
        f"model, does not do {task}; use the same ARGS for make evaluate)"
    )


{%- if cookiecutter.use_mlflow == 'yes' %}


def champion_main(argv: Sequence[str]) -> int:
    """`champion fetch`: the registry's champion into models/; return the exit code."""
    from .config import load_settings
    from .errors import ConfigError, StageError

    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__} champion",
        description="Fetch the registry's champion (MLFLOW_TRACKING_URI) into models/: "
        "the files serving and the ONNX export read, and models/champion.json.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="download models:/<name>@champion")
    fetch.add_argument("overrides", nargs="*", help="Hydra overrides (paths, tracking)")
    fetch.add_argument("--alias", default="champion", help="default: champion")
    fetch.add_argument(
        "--config-dir", type=Path, default=Path("conf"), help="default: ./conf"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings(args.overrides, config_dir=args.config_dir)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from .tracking import fetch_champion

    try:
        record = fetch_champion(settings, alias=args.alias)
    except (FileNotFoundError, StageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"Fetched {record['model_uri']} = version {record['version']} (run "
        f"{record['run_id']}) into {settings.paths.model_dir}/"
    )
    return 0
{%- endif %}


def run() -> None:
    """Console-script entry point: exit with the code `main` returns."""
    sys.exit(main())

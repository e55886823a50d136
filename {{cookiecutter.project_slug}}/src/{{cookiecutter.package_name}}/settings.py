"""Typed schema of `conf/`: the composed Hydra config is validated into these models.

Every model is frozen and forbids unknown keys, so a typo in a YAML file or an override
is an error that names the key instead of a silently ignored setting. The data contract
(`Contract`) is part of it: `conf/data/<name>.yaml` declares the source file, the task,
the target and every feature, and the trained model carries the same contract.
"""

from pathlib import Path
from typing import Annotated, ClassVar, Literal, Union, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)

Task = Literal["classification", "regression"]
FeatureKind = Literal["numeric", "integer", "boolean", "categorical"]
# Data files the pipeline reads and writes.
DATA_SUFFIXES = (".csv", ".parquet")
# What pandas reads as missing in a CSV by default (its `na_values`): a contract's
# `na_values` when it declares none. Training, batch scoring and Spark read with it.
NA_VALUES = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)


def text_spellings(spellings: list[str] | None) -> list[str] | None:
    """`na_values` as given; ValueError for a number among them: pandas matches those
    by value (-1 and -1.0), batch scoring by text, so a file would read two ways."""
    numbers = []
    for text in spellings or ():
        try:
            float(text)
        except ValueError:
            continue
        if text.strip().lower().lstrip("+-") not in ("nan", "inf", "infinity"):
            numbers.append(text)
    if numbers:
        raise ValueError(
            f"{numbers} read as numbers: pandas would match them by value (-1 and "
            "-1.0), batch scoring by text; recode such a sentinel to an empty cell "
            "in the file instead"
        )
    return spellings


def missing_text(na_values: list[str] | None) -> tuple[str, ...]:
    """The CSV cells read as missing: the empty one and `na_values` (None: pandas')."""
    return NA_VALUES if na_values is None else ("", *na_values)


class StrictModel(BaseModel):
    """Base for all settings: immutable, no unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Feature(StrictModel):
    """One input column: its kind, whether it may be missing, its allowed values."""

    kind: FeatureKind = "numeric"
    # May the value be missing (empty cell, NaN, null)? The model imputes it.
    nullable: bool = False
    # Inclusive bounds of numeric and integer features (None: unbounded).
    min: float | None = None
    max: float | None = None
    # The known values of a categorical feature; an unknown one is refused by the API.
    categories: list[StrictStr] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "Feature":
        if self.kind == "categorical":
            if not self.categories:
                raise ValueError("a categorical feature needs its `categories` listed")
            if len(set(self.categories)) != len(self.categories):
                raise ValueError("`categories` has duplicates")
            if "" in self.categories:
                raise ValueError("`categories` may not hold the empty string")
        elif self.categories is not None:
            raise ValueError(
                f"`categories` only applies to categoricals, not {self.kind}"
            )
        if self.kind not in ("numeric", "integer") and (
            self.min is not None or self.max is not None
        ):
            raise ValueError(
                f"`min`/`max` only apply to numeric features, not {self.kind}"
            )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


Label = StrictStr | StrictInt


class Contract(StrictModel):
    """What a model is trained on and served with: task, target, classes, features."""

    task: Task
    target: str
    # Classification: every label of the target, two or more (strings or integers).
    classes: list[StrictStr] | list[StrictInt] | None = None
    # Binary classification: the class whose probability scores ROC AUC, F1, ...
    # (default: the last of `classes`).
    positive_class: Label | None = None
    features: dict[str, Feature] = Field(min_length=1)
    # Text a CSV cell holds for a missing value, besides the empty cell (always
    # missing). None: pandas' spellings (NA, N/A, NULL, None, nan...: NA_VALUES);
    # []: only empty cells, so that a category spelled NA (Namibia) stays one.
    na_values: list[StrictStr] | None = None

    @field_validator("na_values")
    @classmethod
    def _text_only(cls, value: list[str] | None) -> list[str] | None:
        return text_spellings(value)

    @model_validator(mode="after")
    def _task_fits(self) -> "Contract":
        if self.target in self.features:
            raise ValueError(f"the target {self.target!r} is also listed as a feature")
        if self.task == "regression":
            if self.classes is not None or self.positive_class is not None:
                raise ValueError("regression takes no `classes` or `positive_class`")
            return self
        if not self.classes or len(self.classes) < 2:
            raise ValueError("classification needs `classes`: two labels or more")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError("`classes` has duplicates")
        if self.positive_class is not None and self.positive_class not in self.classes:
            raise ValueError(
                f"positive_class {self.positive_class!r} is not one of `classes`"
            )
        return self

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Feature columns in contract order (the model's input order)."""
        return tuple(self.features)

    @property
    def missing_text(self) -> tuple[str, ...]:
        """The CSV cells read as missing (`na_values`, the empty cell)."""
        return missing_text(self.na_values)

    @property
    def positive(self) -> Label | None:
        """The positive class of a binary task, else None."""
        if self.task != "classification" or len(self.classes or ()) != 2:
            return None
        return self.classes[-1] if self.positive_class is None else self.positive_class


class DataSettings(Contract):
    """The dataset: where it is, which columns to ignore, how to split it."""

    name: str
    # A CSV or Parquet file, relative to the project root. The data stage reads it and
    # never overwrites it.
    source: Path
    # Write this bundled sample to `source` when the file does not exist yet (null for
    # your own data).
    sample: Literal["breast_cancer", "diabetes"] | None = None
    # Columns of the file that are neither features nor target (ids, free text).
    ignore: list[str] = []
    test_size: float = Field(0.2, gt=0.0, lt=1.0)
    split_seed: int = 42

    @field_validator("source")
    @classmethod
    def _data_file(cls, value: Path) -> Path:
        if value.suffix.lower() not in DATA_SUFFIXES:
            kind = value.suffix or "a name without a suffix"
            raise ValueError(f"expected a .csv or .parquet file, not {kind}")
        return value

    @model_validator(mode="after")
    def _ignored_are_not_used(self) -> "DataSettings":
        used = set(self.ignore) & {self.target, *self.features}
        if used:
            raise ValueError(f"ignored column(s) {sorted(used)} are also used")
        return self

    def contract(self) -> Contract:
        """The part of the data settings that travels with the model."""
        return Contract.model_validate(
            self.model_dump(include=set(Contract.model_fields))
        )


class PathsSettings(StrictModel):
    """Where each stage reads and writes, relative to the project root."""

    processed_dir: Path = Path("data/processed")
    model_dir: Path = Path("models")
    reports_dir: Path = Path("reports")

    @property
    def train_data(self) -> Path:
        """Training split written by the features stage."""
        return self.processed_dir / "train.csv"

    @property
    def test_data(self) -> Path:
        """Held-out split written by the features stage."""
        return self.processed_dir / "test.csv"

    @property
    def model_file(self) -> Path:
        """The fitted pipeline (preprocessing and estimator)."""
        return self.model_dir / "model.joblib"

    @property
    def metadata_file(self) -> Path:
        """What was trained, on which features, with which settings."""
        return self.model_dir / "metadata.json"

    @property
    def reference_file(self) -> Path:
        """How the training rows and the model's outputs were distributed (drift)."""
        return self.model_dir / "reference.json"

    @property
    def metrics_file(self) -> Path:
        """Evaluation metrics on the held-out split."""
        return self.reports_dir / "metrics.json"
{%- if cookiecutter.use_onnx == 'yes' %}

    @property
    def onnx_file(self) -> Path:
        """The fitted pipeline in ONNX format (export stage)."""
        return self.model_dir / "model.onnx"

    @property
    def quantized_onnx_file(self) -> Path:
        """The ONNX model with int8 dynamically quantized weights (export stage)."""
        return self.model_dir / "model.quant.onnx"

    @property
    def ort_file(self) -> Path:
        """The ONNX model in ORT format, for minimal onnxruntime builds."""
        return self.model_dir / "model.ort"

    @property
    def export_report_file(self) -> Path:
        """Parity, quantization and size figures of the export stage."""
        return self.reports_dir / "export.json"
{%- endif %}


class LogisticRegressionSettings(StrictModel):
    """scikit-learn LogisticRegression hyper-parameters."""

    tasks: ClassVar[tuple[str, ...]] = ("classification",)
    # Linear models depend on the scale of their inputs.
    scaled: ClassVar[bool] = True
    name: Literal["logistic_regression"]
    C: PositiveFloat = 1.0
    max_iter: PositiveInt = 1000
    # "balanced": classes weighted inversely to their share of the rows, for a rare
    # class whose recall matters more than accuracy; null: every row alike.
    class_weight: Literal["balanced"] | None = None


class RidgeSettings(StrictModel):
    """scikit-learn Ridge hyper-parameters."""

    tasks: ClassVar[tuple[str, ...]] = ("regression",)
    scaled: ClassVar[bool] = True
    name: Literal["ridge"]
    alpha: NonNegativeFloat = 1.0


class RandomForestSettings(StrictModel):
    """scikit-learn random forest hyper-parameters (classifier or regressor by task)."""

    tasks: ClassVar[tuple[str, ...]] = ("classification", "regression")
    # Trees split on raw values: scaling changes nothing they learn, and scaling in
    # float32 (as ONNX does) could move a tied value across a split threshold.
    scaled: ClassVar[bool] = False
    name: Literal["random_forest"]
    n_estimators: PositiveInt = 200
    max_depth: PositiveInt | None = None
    min_samples_leaf: PositiveInt = 1
    n_jobs: int = -1
    # Classification only: "balanced" weighs classes inversely to their share of the
    # rows (null: every row alike).
    class_weight: Literal["balanced"] | None = None


# The `name` key of conf/model/*.yaml selects the schema. Add a model: a YAML file, a
# settings class here, and an entry in `train.ESTIMATORS`. Name the file after `name`
# (conf/model/<name>.yaml): messages suggest `model=<name>`.
ModelSettings = Annotated[
    Union[LogisticRegressionSettings, RidgeSettings, RandomForestSettings],
    Field(discriminator="name"),
]


class TrainSettings(StrictModel):
    """How a training run is carried out and judged."""

    seed: int = 42
    cv_folds: int = Field(5, ge=0)
    # The metric that ranks models (evaluation, and promotion when tracked); null: the
    # task's default (`task.py`: roc_auc for classification, rmse for regression).
    primary_metric: str | None = None

    @field_validator("cv_folds")
    @classmethod
    def _at_least_two_folds(cls, value: int) -> int:
        if value == 1:
            raise ValueError("use 0 to turn cross-validation off, or 2 folds or more")
        return value
{%- if cookiecutter.use_mlflow == 'yes' %}


class TrackingSettings(StrictModel):
    """MLflow tracking and model registry."""

    tracking_uri: str = "sqlite:///mlflow.db"
    experiment_name: str
    registered_model_name: str
{%- endif %}
{%- if cookiecutter.use_fastapi == 'yes' %}


class MonitorSettings(StrictModel):
    """Thresholds of `make monitor` (conf/monitor/): over one, the command exits 1."""

    # PSI of a feature's logged values against the reference profile (0.1: a shift to
    # look at, 0.25: an alert); `feature_psi_max` overrides it for named features.
    psi_max: PositiveFloat = 0.25
    feature_psi_max: dict[str, PositiveFloat] = {}
    # PSI of the predictions against the model's predictions on its training rows.
    prediction_psi_max: PositiveFloat = 0.25
    # Share of missing values of a feature allowed above its share in training.
    missing_ratio_max: float = Field(0.05, ge=0.0, le=1.0)
    # Share of values of a categorical feature outside the contract's categories.
    unknown_ratio_max: float = Field(0.01, ge=0.0, le=1.0)
    # A model version with fewer logged rows is reported, not judged.
    min_rows: PositiveInt = 100
    # Share of rows where the shadow model agrees with the served one (same class;
    # regression: within shadow_tolerance, 0: the served model's cross-validated RMSE).
    shadow_agreement_min: float = Field(0.9, ge=0.0, le=1.0)
    shadow_tolerance: NonNegativeFloat = 0.0
    # Evidently's HTML and JSON report per version (false: summary.json only, faster).
    report: bool = True
{%- endif %}


class Settings(StrictModel):
    """The whole validated configuration of one pipeline run."""

    data: DataSettings
    model: ModelSettings
    train: TrainSettings
    paths: PathsSettings
{%- if cookiecutter.use_mlflow == 'yes' %}
    tracking: TrackingSettings
{%- endif %}
{%- if cookiecutter.use_fastapi == 'yes' %}
    # `make monitor` only; the default when a composed config has no monitor group.
    monitor: MonitorSettings = MonitorSettings()
{%- endif %}

    @model_validator(mode="after")
    def _model_fits_the_task(self) -> "Settings":
        if self.data.task not in self.model.tasks:
            fitting = " or ".join(f"model={n}" for n in models_for(self.data.task))
            advice = (
                f"pick one that does: {fitting}"
                if fitting
                else "no model does: add one (README, Adding a model)"
            )
            raise ValueError(
                f"model.name: {self.model.name} does not do {self.data.task}; {advice}"
            )
        if self.data.task != "classification" and getattr(
            self.model, "class_weight", None
        ):
            raise ValueError(
                "model.class_weight weighs classes: classification only; set it to "
                f"null for {self.data.task}."
            )
        return self


def models_for(task: str) -> list[str]:
    """The names of the models (`ModelSettings`) that do `task`."""
    classes = get_args(get_args(ModelSettings)[0])
    return [
        get_args(cls.model_fields["name"].annotation)[0]
        for cls in classes
        if task in cls.tasks
    ]


# Hyper-parameter search (`make tune`): conf/tune/<model>.yaml, validated on its own,
# since only the tune command composes it (`tune.load`). Each parameter is a range or a
# list of choices; tune.py checks that it is a field of the model's settings class.


class _Range(StrictModel):
    """A range from low to high, both included; `log`: sampled on a log scale."""

    log: bool = False

    @model_validator(mode="after")
    def _not_empty(self) -> "_Range":
        """Refuse an empty range, and a log scale that reaches zero or below."""
        if not self.low < self.high:
            raise ValueError(
                f"empty range: low ({self.low}) must be below high ({self.high})"
            )
        if self.log and self.low <= 0:
            raise ValueError(f"a log range needs low above 0, got {self.low}")
        return self


class IntRange(_Range):
    """Whole numbers from low to high, both included (`log`: on a log scale)."""

    type: Literal["int"]
    low: StrictInt
    high: StrictInt


class FloatRange(_Range):
    """Real numbers from low to high (`log`: on a log scale, for C or alpha)."""

    type: Literal["float"]
    low: float
    high: float


class Categorical(StrictModel):
    """One of a list of values (null included: `max_depth: [null, 8, 16]`)."""

    type: Literal["categorical"]
    choices: list[bool | StrictInt | float | StrictStr | None]

    @field_validator("choices")
    @classmethod
    def _some_distinct(cls, value: list) -> list:
        if not value:
            raise ValueError("empty list of choices: list one value or more")
        if len({repr(item) for item in value}) != len(value):
            raise ValueError(f"duplicate choices in {value}")
        return value


SearchParameter = Annotated[
    Union[IntRange, FloatRange, Categorical], Field(discriminator="type")
]


class TuneSettings(StrictModel):
    """An Optuna study: its search space, budget, seed and storage."""

    # Trials per `make tune` (a second run adds as many to the same study); null: until
    # the timeout.
    n_trials: PositiveInt | None = 20
    # Seconds after which no new trial starts (null: no limit).
    timeout: PositiveFloat | None = None
    # Seed of the sampler (the folds are the training run's: train.seed).
    seed: int = 42
    # Stop a trial whose running mean over the folds is worse than the median trial's.
    pruning: bool = True
    # Where the study lives, so that it resumes (relative to the project root).
    storage: str = "sqlite:///optuna.db"
    # null: <dataset>-<model>-<metric>, the same for every run on the same data.
    study_name: str | None = None
    # Model hyper-parameter -> its range or choices.
    params: dict[str, SearchParameter] = Field(min_length=1)

    @model_validator(mode="after")
    def _bounded(self) -> "TuneSettings":
        if self.n_trials is None and self.timeout is None:
            raise ValueError("set n_trials or timeout (or both): the study must end")
        return self

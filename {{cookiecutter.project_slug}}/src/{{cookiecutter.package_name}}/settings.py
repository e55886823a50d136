"""Typed schema of `conf/`: the composed Hydra config is validated into these models.

Every model is frozen and forbids unknown keys, so a typo in a YAML file or an override
is an error that names the key instead of a silently ignored setting.
"""

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
{%- if cookiecutter.task == 'regression' %}
    NonNegativeFloat,
{%- else %}
    PositiveFloat,
{%- endif %}
    PositiveInt,
    field_validator,
)


class StrictModel(BaseModel):
    """Base for all settings: immutable, no unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DataSettings(StrictModel):
    """Which dataset to prepare and how to split it."""

    name: str
    test_size: float = Field(0.2, gt=0.0, lt=1.0)
    split_seed: int = 42


class PathsSettings(StrictModel):
    """Where each stage reads and writes, relative to the project root."""

    raw_data: Path
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
{% if cookiecutter.task == 'classification' %}

class LogisticRegressionSettings(StrictModel):
    """scikit-learn LogisticRegression hyper-parameters."""

    name: Literal["logistic_regression"]
    C: PositiveFloat = 1.0
    max_iter: PositiveInt = 1000
{%- else %}

class RidgeSettings(StrictModel):
    """scikit-learn Ridge hyper-parameters."""

    name: Literal["ridge"]
    alpha: NonNegativeFloat = 1.0
{%- endif %}


class RandomForestSettings(StrictModel):
    """scikit-learn random forest hyper-parameters."""

    name: Literal["random_forest"]
    n_estimators: PositiveInt = 200
    max_depth: PositiveInt | None = None
    min_samples_leaf: PositiveInt = 1
    n_jobs: int = -1


# The `name` key of conf/model/*.yaml selects the schema. Add a model: a YAML file, a
# settings class here, and an entry in `train.ESTIMATORS`.
ModelSettings = Annotated[
{%- if cookiecutter.task == 'classification' %}
    Union[LogisticRegressionSettings, RandomForestSettings],
{%- else %}
    Union[RidgeSettings, RandomForestSettings],
{%- endif %}
    Field(discriminator="name"),
]


class TrainSettings(StrictModel):
    """How a training run is carried out and judged."""

    seed: int = 42
    cv_folds: int = Field(5, ge=0)
{%- if cookiecutter.task == 'classification' %}
    primary_metric: Literal["roc_auc", "accuracy", "f1", "precision", "recall"] = (
        "roc_auc"
    )
{%- else %}
    primary_metric: Literal["rmse", "mae", "r2"] = "rmse"
{%- endif %}

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


class Settings(StrictModel):
    """The whole validated configuration of one pipeline run."""

    data: DataSettings
    model: ModelSettings
    train: TrainSettings
    paths: PathsSettings
{%- if cookiecutter.use_mlflow == 'yes' %}
    tracking: TrackingSettings
{%- endif %}

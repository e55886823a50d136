"""The trained bundle: save and load the model, its metadata and contract; staleness.

One home for model artifacts. Training saves the fitted pipeline with a metadata file
that carries the data contract it was trained on and the model's fingerprint (sha256
of its bytes).
{%- if cookiecutter.use_onnx == 'yes' %} The ONNX export records the fingerprint of the model it came from, so
an ONNX file that was not exported from the current model is never taken for it.
{%- endif %}
Evaluation, export, batch scoring and serving all load through here. Light imports
only: serving uses this module without the training stack.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ContractError, StageError
from .settings import Contract


class ArtifactError(StageError):
    """A model artifact is missing or unreadable; the message says what to run."""


def fingerprint(path: Path) -> str:
    """`sha256:<hex>` of a file's bytes: the identity of a saved model."""
    with Path(path).open("rb") as handle:
        return "sha256:" + hashlib.file_digest(handle, "sha256").hexdigest()


def save(pipeline: Any, metadata: dict, model_file: Path, metadata_file: Path) -> dict:
    """Write the pipeline and its metadata (with the model's fingerprint)."""
    import joblib

    model_file.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, model_file)
    metadata = {**metadata, "model_sha256": fingerprint(model_file)}
    write_metadata(metadata, metadata_file)
    return metadata


def write_metadata(metadata: dict, metadata_file: Path) -> None:
    """Write the metadata of the model beside it (its file unchanged)."""
    metadata_file.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")


def load_pipeline(model_file: Path) -> Any:
    """The fitted scikit-learn pipeline saved by `make train`."""
    import joblib

    if not Path(model_file).is_file():
        raise ArtifactError(f"{model_file} not found: run `make train` first.")
    try:
        return joblib.load(model_file)
    except Exception as exc:  # any unpickling failure: say which file
        raise ArtifactError(f"{model_file}: cannot load the model: {exc}") from exc


def read_metadata(metadata_file: Path) -> dict:
    """The metadata written with the model."""
    path = Path(metadata_file)
    if not path.is_file():
        raise ArtifactError(f"{path} not found: run `make train` first.")
    return json.loads(path.read_text(encoding="utf-8"))


def contract_of(metadata: dict, source: str = "the model's metadata") -> Contract:
    """The contract a model was trained on, from its metadata."""
    if "contract" not in metadata:
        raise ContractError(
            f"{source} holds no data contract: the model predates it, retrain it "
            "(`make train`)."
        )
    return Contract.model_validate(metadata["contract"])


@dataclass(frozen=True)
class Bundle:
    """A trained model as saved by `make train`: pipeline, metadata, contract."""

    pipeline: Any
    metadata: dict
    contract: Contract

    @classmethod
    def load(cls, model_file: Path, metadata_file: Path) -> "Bundle":
        """Load the pipeline and its metadata; refuse a mismatched pair."""
        metadata = read_metadata(metadata_file)
        recorded = metadata.get("model_sha256")
        if recorded is not None and Path(model_file).is_file():
            if fingerprint(model_file) != recorded:
                raise ArtifactError(
                    f"{model_file} is not the model {metadata_file} describes: "
                    "retrain (`make train`)."
                )
        return cls(
            pipeline=load_pipeline(model_file),
            metadata=metadata,
            contract=contract_of(metadata, str(metadata_file)),
        )
{%- if cookiecutter.use_onnx == 'yes' %}


# ONNX metadata keys: the contract (JSON), the map of column -> ONNX input name, and
# the fingerprint of the model the file was exported from.
CONTRACT_KEY = "contract"
INPUTS_KEY = "inputs"
SOURCE_MODEL_KEY = "source_model"


def session(path: Path, threads: int = 1):
    """An onnxruntime session on the CPU with a fixed number of threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(
        str(path), sess_options=options, providers=["CPUExecutionProvider"]
    )


def onnx_metadata(onnx_session: Any) -> dict[str, str]:
    """The custom metadata an ONNX model carries (contract, source model, ...)."""
    return dict(onnx_session.get_modelmeta().custom_metadata_map)


def onnx_source(onnx_file: Path) -> str | None:
    """Fingerprint of the model an ONNX file was exported from (None: unknown)."""
    return onnx_metadata(session(onnx_file)).get(SOURCE_MODEL_KEY)


def onnx_is_current(onnx_file: Path, model_file: Path) -> bool:
    """Was this ONNX file exported from the model file as it is now?"""
    if not Path(onnx_file).is_file() or not Path(model_file).is_file():
        return False
    try:
        source = onnx_source(onnx_file)
    except Exception:  # an unreadable ONNX file is not current
        return False
    return source == fingerprint(model_file)


class OnnxModel:
    """An exported model run by onnxruntime, fed with a model frame.

    The file carries its contract and the ONNX input name of each column (the
    converter renames columns whose names hold characters outside [A-Za-z0-9_]):
    numeric, integer and boolean columns are float32 inputs, categoricals strings,
    each of shape [rows, 1]. Outputs: `label` and `probabilities` (classification,
    columns in the task's sorted label order) or `variable` (regression).
    """

    def __init__(self, path: Path, threads: int = 1):
        self.path = Path(path)
        if not self.path.is_file():
            raise ArtifactError(f"{path} not found: run `make export-onnx` first.")
        self.session = session(self.path, threads)
        meta = onnx_metadata(self.session)
        if CONTRACT_KEY not in meta or INPUTS_KEY not in meta:
            raise ArtifactError(
                f"{path} carries no data contract: export it again "
                "(`make export-onnx`)."
            )
        self.contract = Contract.model_validate_json(meta[CONTRACT_KEY])
        self.inputs: dict[str, str] = json.loads(meta[INPUTS_KEY])
        self.source_model = meta.get(SOURCE_MODEL_KEY)
        self.output_names = [output.name for output in self.session.get_outputs()]
        self.classification = self.contract.task == "classification"

    def feeds(self, frame: Any) -> dict[str, Any]:
        """ONNX inputs of a model frame (`contract.model_frame`), one per column."""
        import numpy as np

        feeds = {}
        for column, name in self.inputs.items():
            values = frame[column].to_numpy()
            if self.contract.features[column].kind == "categorical":
                feeds[name] = values.astype(object).reshape(-1, 1)
            else:
                feeds[name] = values.astype(np.float32).reshape(-1, 1)
        return feeds

    def run(self, frame: Any) -> dict[str, Any]:
        """Outputs as the task names them: `prediction` (and `probabilities`)."""
        return self.run_feeds(self.feeds(frame))

    def run_feeds(self, feeds: dict[str, Any]) -> dict[str, Any]:
        """Outputs of ready-made ONNX inputs (the fast path for callers with them)."""
        if self.classification:
            labels, probabilities = self.session.run(["label", "probabilities"], feeds)
            return {"prediction": labels, "probabilities": probabilities}
        (values,) = self.session.run(["variable"], feeds)
        return {"prediction": values[:, 0]}
{%- endif %}

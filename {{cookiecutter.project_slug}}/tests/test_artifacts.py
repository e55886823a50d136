"""The trained bundle: a model, its metadata and contract, and nothing mismatched."""

import json
import shutil

import pytest

from {{ cookiecutter.package_name }} import artifacts, train
from {{ cookiecutter.package_name }}.artifacts import ArtifactError, Bundle
from {{ cookiecutter.package_name }}.errors import ContractError

from .conftest import split


@pytest.fixture
def bundle(trained, tmp_path):
    """A copy of a trained model and its metadata, free to tamper with."""
    paths = trained("default").settings.paths
    model = shutil.copy(paths.model_file, tmp_path / "model.joblib")
    metadata = shutil.copy(paths.metadata_file, tmp_path / "metadata.json")
    return trained("default"), model, metadata


def retrained(run, model_file):
    """Save a different model (fitted on a few rows) over model_file."""
    rows, target = split(run.settings, "train")
    keep = target.index[:: max(1, len(target) // 60)]
    other = train.build_pipeline(run.settings).fit(rows.loc[keep], target.loc[keep])
    artifacts.save(other, {}, model_file, model_file.with_suffix(".json"))
    return other


def test_fingerprint_identifies_the_model_bytes(bundle):
    run, model, _ = bundle
    first = artifacts.fingerprint(model)
    assert first.startswith("sha256:") and len(first) == len("sha256:") + 64
    assert first == artifacts.fingerprint(run.settings.paths.model_file)
    retrained(run, model)
    assert artifacts.fingerprint(model) != first


def test_save_records_the_fingerprint(bundle, tmp_path):
    run, _, _ = bundle
    model, metadata = tmp_path / "m" / "model.joblib", tmp_path / "m" / "meta.json"
    saved = artifacts.save(run.result.pipeline, {"dataset": "x"}, model, metadata)
    assert saved == json.loads(metadata.read_text(encoding="utf-8"))
    assert saved == {"dataset": "x", "model_sha256": artifacts.fingerprint(model)}


def test_bundle_loads_the_pipeline_with_its_contract(bundle):
    run, model, metadata = bundle
    loaded = Bundle.load(model, metadata)
    assert loaded.contract == run.settings.data.contract()
    assert loaded.metadata == run.result.metadata
    rows, _ = split(run.settings, "test")
    assert (loaded.pipeline.predict(rows) == run.result.pipeline.predict(rows)).all()


def test_bundle_refuses_a_model_its_metadata_does_not_describe(bundle):
    run, model, metadata = bundle
    retrained(run, model)
    with pytest.raises(ArtifactError, match="is not the model"):
        Bundle.load(model, metadata)


def test_contract_of_refuses_metadata_without_a_contract(bundle):
    run, model, metadata = bundle
    old = {k: v for k, v in run.result.metadata.items() if k != "contract"}
    with pytest.raises(ContractError, match="retrain"):
        artifacts.contract_of(old)
    metadata.write_text(json.dumps(old), encoding="utf-8")
    with pytest.raises(ContractError, match="no data contract"):
        Bundle.load(model, metadata)


def test_missing_or_unreadable_artifacts_say_what_to_run(tmp_path):
    with pytest.raises(ArtifactError, match="make train"):
        artifacts.load_pipeline(tmp_path / "model.joblib")
    with pytest.raises(ArtifactError, match="make train"):
        artifacts.read_metadata(tmp_path / "metadata.json")
    broken = tmp_path / "broken.joblib"
    broken.write_bytes(b"not a pickle")
    with pytest.raises(ArtifactError, match="cannot load"):
        artifacts.load_pipeline(broken)

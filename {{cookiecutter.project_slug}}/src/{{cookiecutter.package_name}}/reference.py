"""Reference profile: how the training rows and the model's outputs were distributed.

`train` writes it for every model: models/reference.json.
{%- if cookiecutter.use_mlflow == 'yes' %} The MLflow run and the logged
model hold it too.{% endif %}
{%- if cookiecutter.use_onnx == 'yes' %}
The ONNX export carries it in its metadata.{% endif %}
The service's drift gauges and `make monitor` compare live rows with it by the
population stability index (PSI) of each feature's bins: quantile bins of the training
values for numbers, the contract's categories (the ten most frequent in training when
there are more; plus one bin for any other) for categoricals and booleans, the class
labels or the value bins of the predictions.
Pure numpy and pandas: serving and monitoring import it alike.
"""

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

VERSION = 1
# The usual PSI bands: below 0.1 stable, 0.1 to 0.25 a shift to look at, above an alert.
PSI_WARN = 0.1
PSI_ALERT = 0.25
# Bin index of a missing value (`Reference.bins`).
MISSING = -1
# Bins of a categorical: its most frequent categories in training, one each, and one
# for the others. A bin per category of a column of hundreds leaves most of them
# empty in a window of a few hundred rows, and PSI would read the window's size as
# drift (300 cities, 400 rows drawn like the training rows: PSI 1.5).
CATEGORY_BINS = 10


def psi(expected: np.ndarray, actual: np.ndarray, floor: float = 1e-4) -> float:
    """Population stability index of two share vectors: sum((a - e) * ln(a / e)),
    both clipped to `floor` so that an empty bin counts, finitely."""
    e = np.clip(np.asarray(expected, dtype=np.float64), floor, None)
    a = np.clip(np.asarray(actual, dtype=np.float64), floor, None)
    return float(np.sum((a - e) * np.log(a / e)))


def _is_missing(value: Any) -> bool:
    """None, NaN or the empty string (a missing category as the model reads it)."""
    if value is None or (isinstance(value, str) and value == ""):
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return type(value).__name__ == "NAType"  # pandas' NA, without importing pandas


def _numbers(values: Any) -> np.ndarray:
    """Values as float64, NaN where missing (None, NaN, "")."""
    array = np.asarray(values)
    if array.dtype.kind in "fiub":
        return array.astype(np.float64, copy=False)
    return np.array(
        [np.nan if _is_missing(v) else float(v) for v in array], dtype=np.float64
    )


def _shares(counts: np.ndarray) -> list[float]:
    """Counts as shares summing to 1 (uniform when there is nothing to count)."""
    total = counts.sum()
    if total == 0:
        return [1.0 / len(counts)] * len(counts)
    return (counts / total).tolist()


def numeric_profile(values: Any, bins: int = 10) -> dict[str, Any]:
    """FEATURE of numbers: inner quantile edges, shares per bin, missing share."""
    array = _numbers(values)
    missing = np.isnan(array)
    present = array[~missing]
    if len(present):
        quantiles = np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1])
        edges = np.unique(quantiles)
        counts = np.bincount(
            np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1
        )
        mean, std = float(present.mean()), float(present.std())
    else:
        edges, counts, mean, std = np.array([]), np.zeros(1), 0.0, 0.0
    return {
        "kind": "numeric",
        "edges": edges.tolist(),
        "shares": _shares(counts),
        "missing": float(missing.mean()) if len(array) else 0.0,
        "mean": mean,
        "std": std,
    }


def categorical_profile(
    values: Any, categories: list, bins: int = CATEGORY_BINS
) -> dict[str, Any]:
    """FEATURE of categories: every category, a share per category (per binned one:
    the `bins` most frequent in `values` when there are more), one for any other,
    missing."""
    profile = {"kind": "categorical", "categories": list(categories)}
    index = _category_bins(profile, values)
    present = index[index != MISSING]
    counts = np.bincount(present, minlength=len(categories) + 1)
    if len(categories) > bins:
        # Stable: of equally frequent categories, the contract's order decides.
        kept = np.sort(np.argsort(-counts[:-1], kind="stable")[:bins])
        profile["binned"] = [categories[i] for i in kept]
        counts = np.append(counts[kept], counts.sum() - counts[kept].sum())
    profile["shares"] = _shares(counts)
    profile["missing"] = float((index == MISSING).mean()) if len(index) else 0.0
    return profile


def binned(item: dict) -> list:
    """The categories of a categorical FEATURE that have a bin of their own, in the
    order of its shares (the last share is every other value's)."""
    return item.get("binned", item["categories"])


def _category_bins(profile: dict, values: Any) -> np.ndarray:
    """Bin of each value: its binned category's index, the last bin for any other."""
    lookup = {category: i for i, category in enumerate(binned(profile))}
    other = len(lookup)
    seen: dict[Any, int] = {}  # a window repeats few values: decide each once

    def bin_of(value: Any) -> int:
        try:
            return seen[value]
        except KeyError:
            found = seen[value] = (
                MISSING if _is_missing(value) else lookup.get(value, other)
            )
            return found
        except TypeError:  # unhashable
            return other

    return np.fromiter(map(bin_of, values), dtype=np.int64, count=len(values))


def build(
    contract: Any,
    frame: Any,
    predictions: Any,
    dataset: str,
    model_sha256: str,
    bins: int = 10,
    error: float | None = None,
) -> dict[str, Any]:
    """The profile of the training rows (`contract.validate`'s typed frame) and of the
    model's predictions on them, as models/reference.json holds it. `error`: the
    model's cross-validated RMSE (regression), the scale of a difference that is noise
    (`Reference.agreement_tolerance`)."""
    features = {}
    for name, feature in contract.features.items():
        column = frame[name].to_numpy(dtype=object)
        if feature.kind == "categorical":
            features[name] = categorical_profile(column, feature.categories)
        elif feature.kind == "boolean":
            features[name] = categorical_profile(column, [False, True])
        else:
            features[name] = numeric_profile(frame[name].to_numpy(), bins)
    predicted = np.asarray(predictions)
    if contract.task == "classification":
        labels = sorted(contract.classes)
        prediction = categorical_profile(predicted.tolist(), labels)
    else:
        prediction = numeric_profile(predicted.astype(np.float64), bins)
        if error is not None and math.isfinite(error):
            prediction["error"] = float(error)
    return {
        "version": VERSION,
        "model_sha256": model_sha256,
        "dataset": dataset,
        "rows": int(len(frame)),
        "task": contract.task,
        "features": features,
        "prediction": prediction,
    }


def save(profile: dict, path: Path) -> None:
    """Write a profile as JSON."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(profile, indent=1) + "\n", encoding="utf-8")


def load(path: Path) -> "Reference":
    """Read a profile written by `save`."""
    return Reference.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


class Reference:
    """A loaded profile: shares of live values in its bins, and PSI against it."""

    def __init__(self, profile: dict):
        if profile.get("version") != VERSION:
            raise ValueError(
                f"reference profile version {profile.get('version')!r}, expected "
                f"{VERSION}: retrain the model (`make train`)."
            )
        self.profile = profile
        self.features: dict[str, dict] = profile["features"]
        self.prediction: dict = profile["prediction"]
        self.model_sha256: str | None = profile.get("model_sha256")
        self.task: str = profile.get("task", "")
        self._edges = {
            name: np.asarray(item["edges"], dtype=np.float64)
            for name, item in self._items()
            if item["kind"] == "numeric"
        }

    @classmethod
    def from_dict(cls, profile: dict) -> "Reference":
        """A Reference of a profile as `build` returns it (or its JSON)."""
        return cls(profile)

    def _items(self):
        """(name, FEATURE) of every feature, then ("prediction", FEATURE)."""
        return [*self.features.items(), ("prediction", self.prediction)]

    def agreement_tolerance(self, configured: float = 0.0) -> float:
        """How far a shadow's prediction may be from the served one's and agree
        (regression): `configured` when set, else the served model's cross-validated
        RMSE (two models closer than their own error agree within noise), else, for
        a profile without it, 1 % of the std of its training predictions."""
        if configured:
            return configured
        error = self.prediction.get("error")
        if error:
            return float(error)
        return 0.01 * float(self.prediction.get("std", 0.0) or 0.0)

    def feature(self, name: str) -> dict:
        """FEATURE of a feature name or "prediction"."""
        return self.prediction if name == "prediction" else self.features[name]

    def size(self, name: str) -> int:
        """Number of bins of a feature (shares' length)."""
        return len(self.feature(name)["shares"])

    def bins(self, name: str, values: Any) -> np.ndarray:
        """Bin index of each value (MISSING for a missing one)."""
        item = self.feature(name)
        if item["kind"] == "categorical":
            return _category_bins(item, values)
        array = _numbers(values)
        index = np.searchsorted(self._edges[name], array, side="left")
        index[np.isnan(array)] = MISSING
        return index

    def shares(self, name: str, values: Any) -> tuple[np.ndarray, float]:
        """(shares of the non-missing values per bin, share of missing values)."""
        return self.shares_of(name, self.bins(name, values))

    def shares_of(self, name: str, index: np.ndarray) -> tuple[np.ndarray, float]:
        """`shares` from bin indices already computed (`bins`)."""
        size = self.size(name)
        present = index[index != MISSING]
        counts = np.bincount(present, minlength=size).astype(np.float64)
        total = counts.sum()
        shares = counts / total if total else np.zeros(size)
        missing = float(len(index) - len(present)) / len(index) if len(index) else 0.0
        return shares, missing

    def psi(self, name: str, shares: np.ndarray) -> float:
        """PSI of live shares against the reference's for one feature."""
        return psi(np.asarray(self.feature(name)["shares"]), shares)

    def drift(self, frame: Any, predictions: Any = None) -> dict[str, float]:
        """PSI per feature column present in `frame`, and of the predictions (key
        "prediction") when given; NaN for a column with no value present."""
        result = {}
        for name in self.features:
            if name in frame:
                result[name] = self._psi_of(name, frame[name])
        if predictions is not None:
            result["prediction"] = self._psi_of("prediction", predictions)
        return result

    def _psi_of(self, name: str, values: Any) -> float:
        """PSI of one column's values (NaN when all are missing)."""
        values = values.to_numpy() if hasattr(values, "to_numpy") else values
        shares, _ = self.shares(name, values)
        if not shares.sum():
            return float("nan")
        return self.psi(name, shares)

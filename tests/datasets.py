"""Datasets a user might bring, built from data that ships inside scikit-learn.

Run inside a baked project's environment (`python tests/datasets.py KIND PATH`), so that
the template's own test environment needs neither scikit-learn nor pandas:
- `wine`: three classes with string labels, column names with spaces, capitals and
  punctuation, a categorical column with missing values, a numeric column with
  missing values, a boolean column and an id column to ignore (CSV);
- `diabetes`: regression with a categorical feature and an integer feature (Parquet).
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes, load_wine

WINE_TARGET = "Cultivar"
DIABETES_TARGET = "Disease Progression"


def wine(path: Path) -> Path:
    """Multiclass, string labels, odd column names, missing categoricals (CSV)."""
    bunch = load_wine(as_frame=True)
    frame = bunch.frame.rename(
        columns={
            "alcohol": "Alcohol %",
            "malic_acid": "Malic Acid",
            "color_intensity": "Color Intensity",
            "od280/od315_of_diluted_wines": "OD280/OD315",
        }
    )
    rng = np.random.default_rng(7)
    frame.insert(0, "Sample ID", [f"W{index:04d}" for index in range(len(frame))])
    frame[WINE_TARGET] = np.array(["Barolo", "Grignolino", "Barbera"])[frame["target"]]
    frame = frame.drop(columns="target")
    levels = pd.cut(frame["Color Intensity"], [0, 3.5, 7, 100], labels=False)
    frame["Color Band"] = np.array(["pale", "medium", "deep"])[levels]
    frame.loc[rng.random(len(frame)) < 0.1, "Color Band"] = None
    frame["Oak Aged"] = rng.random(len(frame)) < 0.5
    frame.loc[rng.random(len(frame)) < 0.08, "Malic Acid"] = np.nan
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def diabetes(path: Path) -> Path:
    """Regression with a categorical feature (Parquet)."""
    frame = load_diabetes(as_frame=True, scaled=False).frame
    frame["Sex"] = np.where(frame.pop("sex") == 1, "F", "M")
    frame["age"] = frame["age"].astype("int64")
    frame = frame.rename(columns={"target": DIABETES_TARGET, "bmi": "BMI"})
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


BUILDERS = {"wine": wine, "diabetes": diabetes}

if __name__ == "__main__":
    kind, destination = sys.argv[1], Path(sys.argv[2])
    print(BUILDERS[kind](destination))

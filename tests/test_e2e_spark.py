"""End-to-end tier: Spark batch scoring (`use_spark`) gives the local engine's results.

The smallest bake that shows it: Spark and ONNX on; MLflow, DVC, FastAPI, Docker,
Locust and Actions off. `make install`, `make train export-onnx`, then `make
batch-predict` with ENGINE=local and ENGINE=spark on one CSV file with bad rows: the
same scored rows in the same order (predictions to float tolerance) and the same
rejects, with their line numbers and reasons. Training prints no PySpark
warning. Needs Java 17+ (`.ci/run` installs it).
"""

import json
import os
import shutil
import time

import pytest
from test_e2e import figure, make, tool

from bakery import COMPONENTS, answers_for, bake

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("make") is None, reason="needs make"),
    pytest.mark.skipif(
        shutil.which("java") is None and not os.environ.get("JAVA_HOME"),
        reason="Spark needs Java 17+ (.ci/run installs openjdk-17-jre-headless)",
    ),
]

# Spark and ONNX (the model Spark runs best) on, every other component off.
SMALLEST = answers_for(
    **{**{c: "no" for c in COMPONENTS}, "use_onnx": "yes", "use_spark": "yes"}
)
# The test split with a bad row of each kind and a blank line; prints the line count.
BAD_ROWS = """
import sys
lines = open("data/processed/test.csv", encoding="utf-8").read().splitlines()
header = lines[0].split(",")

def spoil(line, value, column=0):
    cells = lines[line - 1].split(",")
    cells[column] = value
    lines[line - 1] = ",".join(cells)

spoil(3, "abc")     # not a number
spoil(6, "-1")      # below the contract's min
spoil(9, "NA")      # a missing value (pandas' NA spelling), not nullable
spoil(12, "")       # missing
spoil(15, "1e40")   # beyond float32
lines.insert(20, "")  # a blank line: an empty row at line 21
open(sys.argv[1], "w", encoding="utf-8").write("\\n".join(lines) + "\\n")
print(len(lines))
"""

# Both engines' outputs compared with the project's pandas; prints the figures as JSON.
COMPARE = """
import json
import numpy as np
import pandas as pd

local = pd.read_parquet("data/scored/local.parquet")
spark = pd.read_parquet("data/scored/spark.parquet")
assert list(spark.columns) == list(local.columns), (spark.columns, local.columns)
assert len(spark) == len(local), (len(spark), len(local))
for name in local.columns:
    if name.startswith("probability_"):
        np.testing.assert_allclose(spark[name], local[name].astype(float), rtol=1e-6)
    else:
        assert spark[name].tolist() == local[name].tolist(), name
expected = pd.read_csv("data/scored/local.rejects.csv", dtype=str)
rejects = pd.read_parquet("data/scored/spark.rejects.parquet").sort_values("line")
assert rejects["line"].tolist() == expected["line"].astype(int).tolist()
assert rejects["error"].tolist() == expected["error"].tolist()
reasons = dict(zip(rejects["line"].astype(int), rejects["error"]))
print(json.dumps({"scored": len(spark), "rejected": reasons}))
"""


def test_spark_engine_scores_like_the_local_engine(tmp_path):
    """`make batch-predict ENGINE=spark` = ENGINE=local: rows, predictions, rejects."""
    project = bake(tmp_path, SMALLEST)
    assert (project / "src" / "my_mlops_project" / "spark.py").is_file()
    start = time.monotonic()
    make(project, "install", "INSTALLER=uv")
    output = make(project, "train", "export-onnx")
    # pandera imports pandas-on-Spark, whose pandas-3 FutureWarning the project
    # silences (contract.py): nothing of it at every command.
    assert "PySpark does not yet fully support" not in output, output[-3000:]
    figure(f"spark bake: install, train, export in {time.monotonic() - start:.0f} s")
    lines = int(tool(project, "python", "-c", BAD_ROWS, "data/bad.csv"))
    seconds = {}
    for engine in ("local", "spark"):
        start = time.monotonic()
        output = make(
            project,
            "batch-predict",
            f"ENGINE={engine}",
            "BATCH_INPUT=data/bad.csv",
            (
                f"BATCH_OUTPUT=data/scored/{engine}.csv"
                if engine == "spark"  # the Makefile turns .csv into a Parquet directory
                else f"BATCH_OUTPUT=data/scored/{engine}.parquet"
            ),
        )
        seconds[engine] = time.monotonic() - start
        assert f"Scored {lines - 1 - 6} of {lines - 1} rows" in output, output[-3000:]
    assert (project / "data" / "scored" / "spark.parquet" / "_SUCCESS").is_file()
    assert not (project / "data" / "scored" / "spark.csv").exists()
    output = tool(project, "python", "-W", "ignore", "-c", COMPARE)
    result = json.loads(next(x for x in output.splitlines() if x.startswith("{")))
    assert sorted(map(int, result["rejected"])) == [3, 6, 9, 12, 15, 21]
    assert result["rejected"]["21"] == "empty row: no feature values"
    figure(
        f"make batch-predict on {lines - 1} rows: local {seconds['local']:.1f} s, "
        f"spark {seconds['spark']:.1f} s (JVM start included); same {result['scored']} "
        f"scored rows and 6 rejects"
    )

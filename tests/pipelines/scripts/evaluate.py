"""Mean squared error of the trained model on the test split, written as evaluation.json."""

import json
import tarfile
from pathlib import Path

import joblib
import numpy as np

with tarfile.open("/opt/ml/processing/model/model.tar.gz") as archive:
    archive.extractall("/tmp/model")
model = joblib.load("/tmp/model/model.joblib")
data = np.loadtxt("/opt/ml/processing/test/test.csv", delimiter=",", ndmin=2)
predictions = model["slope"] * data[:, 0] + model["intercept"]
mse = float(np.mean((predictions - data[:, 1]) ** 2))
Path("/opt/ml/processing/evaluation").mkdir(parents=True, exist_ok=True)
Path("/opt/ml/processing/evaluation/evaluation.json").write_text(
    json.dumps({"regression_metrics": {"mse": {"value": mse}}})
)
print(f"mse={mse:.6f}")

"""Script-mode training for transform tests: a linear regression of the first CSV column on the others."""

import argparse
import glob
import os

import joblib
import numpy as np
from sklearn.linear_model import LinearRegression

parser = argparse.ArgumentParser()
parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
args, _ = parser.parse_known_args()

rows = np.vstack([np.loadtxt(path, delimiter=",", ndmin=2) for path in sorted(glob.glob(f"{args.train}/*.csv"))])
model = LinearRegression().fit(rows[:, 1:], rows[:, 0])
print(f"trained on {len(rows)} rows: coef={model.coef_.tolist()} intercept={model.intercept_}", flush=True)
joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))

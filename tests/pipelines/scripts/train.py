"""Fit y = a*x + b on the train channel by least squares; save the coefficients with joblib."""

import argparse
import os
from pathlib import Path

import joblib
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--scale", type=float, default=1.0)
args, _ = parser.parse_known_args()
data = np.loadtxt(Path(os.environ["SM_CHANNEL_TRAIN"]) / "train.csv", delimiter=",", ndmin=2)
slope, intercept = np.polyfit(data[:, 0], data[:, 1], 1)
joblib.dump({"slope": slope * args.scale, "intercept": intercept}, Path(os.environ["SM_MODEL_DIR"]) / "model.joblib")
print(f"slope={slope * args.scale:.4f} intercept={intercept:.4f}")

"""Script-mode XGBoost training for transform tests: regression of the first CSV column on the others."""

import argparse
import glob
import os

import numpy as np
import xgboost as xgb

parser = argparse.ArgumentParser()
parser.add_argument("--num_round", type=int, default=5)
parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
args, _ = parser.parse_known_args()

rows = np.vstack([np.loadtxt(path, delimiter=",", ndmin=2) for path in sorted(glob.glob(f"{args.train}/*.csv"))])
booster = xgb.train(
    {"objective": "reg:squarederror", "max_depth": 2}, xgb.DMatrix(rows[:, 1:], label=rows[:, 0]), args.num_round
)
booster.save_model(os.path.join(args.model_dir, "xgboost-model"))
print(f"trained {args.num_round} rounds on {len(rows)} rows", flush=True)

"""A tiny script-mode training script: its model is a known function of its data and hyperparameters."""

import argparse
import json
import os
import sys
import time

parser = argparse.ArgumentParser()
parser.add_argument("--max_leaf_nodes", type=int, default=1)
parser.add_argument("--fail", default="")
parser.add_argument("--sleep", type=float, default=0)
parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR"))
parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
args, _ = parser.parse_known_args()

files = sorted(
    os.path.relpath(os.path.join(folder, name), args.train)
    for folder, _, names in os.walk(args.train)
    for name in names
)
rows = 0
for name in files:
    with open(os.path.join(args.train, name)) as stream:
        rows += len(stream.read().splitlines())
print(f"training on {rows} rows from {files} with max_leaf_nodes={args.max_leaf_nodes}", flush=True)
if args.fail:
    raise ValueError(args.fail)
deadline = time.time() + args.sleep
while time.time() < deadline:
    print("still training", flush=True)
    time.sleep(0.5)
print(f"validation:rmse={args.max_leaf_nodes / 100};", flush=True)
with open(os.path.join(args.model_dir, "model.json"), "w") as model:
    json.dump({"rows": rows, "files": files, "max_leaf_nodes": args.max_leaf_nodes}, model, sort_keys=True)
sys.exit(0)

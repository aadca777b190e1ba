"""A tiny training script whose metric is a known function of its hyperparameters.

loss = (x - 3)^2 + (y + 1)^2 + penalty[kind], printed once per epoch as `epoch=<e> loss=<value>;` (with an
extra `decay / (e + 1)` that fades over the epochs), then `final loss=<value>;`.
"""

import argparse
import json
import os
import time

PENALTY = {"good": 0.0, "fair": 1.0, "bad": 5.0}

parser = argparse.ArgumentParser()
parser.add_argument("-x", "--x", type=float, default=0.0)  # the toolkit passes one-letter names as -x
parser.add_argument("-y", "--y", type=float, default=-1.0)
parser.add_argument("--kind", default="good")
parser.add_argument("--epochs", type=int, default=1)
parser.add_argument("--epoch_seconds", type=float, default=0.0)
parser.add_argument("--decay", type=float, default=0.0)
parser.add_argument("--silent", default="")
parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
args, _ = parser.parse_known_args()

loss = (args.x - 3) ** 2 + (args.y + 1) ** 2 + PENALTY[args.kind.strip('"')]
for epoch in range(args.epochs):
    if args.epoch_seconds:
        time.sleep(args.epoch_seconds)
    if not args.silent:
        print(f"epoch={epoch} loss={loss + args.decay / (epoch + 1)};", flush=True)
with open(os.path.join(args.model_dir, "model.json"), "w") as model:
    json.dump({"x": args.x, "y": args.y, "kind": args.kind, "loss": loss}, model)

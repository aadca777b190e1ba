"""A script-mode entry point that records what the container contract gave it: each channel's input
mode (inputdataconfig.json) and files, and what /opt/ml/checkpoints held at start. It then writes a new
checkpoint, a line of output data (channels.txt) and saves the record as the model (contract.json)."""

import json
import os

ML = "/opt/ml"
CHECKPOINTS = os.environ.get("CHECKPOINT_DIR", f"{ML}/checkpoints")


def files_under(root: str) -> dict[str, str]:
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as stream:
                found[os.path.relpath(path, root)] = stream.read().decode()
    return dict(sorted(found.items()))


with open(f"{ML}/input/config/inputdataconfig.json") as stream:
    channels = json.load(stream)
record = {
    "input_modes": {name: config["TrainingInputMode"] for name, config in sorted(channels.items())},
    "channel_files": {name: files_under(f"{ML}/input/data/{name}") for name in sorted(channels)},
    "checkpoints_at_start": files_under(CHECKPOINTS),
}
os.makedirs(os.path.join(CHECKPOINTS, "nested"), exist_ok=True)
with open(os.path.join(CHECKPOINTS, "epoch-2.txt"), "w") as stream:
    stream.write("epoch 2 done\n")
with open(os.path.join(CHECKPOINTS, "nested", "state.json"), "w") as stream:
    stream.write('{"epoch": 2}')
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "channels.txt"), "w") as stream:
    stream.write(" ".join(f"{name}={len(files)}" for name, files in record["channel_files"].items()) + "\n")
with open(os.path.join(os.environ["SM_MODEL_DIR"], "contract.json"), "w") as stream:
    json.dump(record, stream, sort_keys=True)
print(f"contract: {json.dumps(record, sort_keys=True)}", flush=True)

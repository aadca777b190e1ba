"""A FrameworkProcessor entry point: imports a module from its own source bundle (so the bundle was
unpacked), reads every input file, and writes a report whose bytes the test knows."""

import argparse
import os

import numpy
from helper import describe  # a sibling module in the bundle

parser = argparse.ArgumentParser()
parser.add_argument("--label", required=True)
args = parser.parse_args()

source, target = "/opt/ml/processing/data", "/opt/ml/processing/report"
names = sorted(os.listdir(source))
sizes = [os.path.getsize(os.path.join(source, name)) for name in names]
with open(os.path.join(target, "report.txt"), "w") as out:
    out.write(describe(args.label, names, int(numpy.sum(sizes))))
print(f"framework processor wrote a report on {len(names)} files", flush=True)

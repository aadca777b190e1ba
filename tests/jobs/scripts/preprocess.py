"""A processing script: reads every input CSV, writes a row count and an upper-cased copy, and leaves an
exit message."""

import os

source, target = "/opt/ml/processing/data", "/opt/ml/processing/output"
total = 0
for name in sorted(os.listdir(source)):
    with open(os.path.join(source, name)) as stream:
        lines = stream.read().splitlines()
    total += len(lines)
    with open(os.path.join(target, f"upper-{name}"), "w") as out:
        out.write("\n".join(line.upper() for line in lines) + "\n")
with open(os.path.join(target, "count.txt"), "w") as out:
    out.write(f"{total}\n")
print(f"processed {total} rows", flush=True)
with open("/opt/ml/output/message", "w") as out:  # becomes the job's ExitMessage
    out.write(f"{total} rows")

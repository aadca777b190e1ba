"""Split /opt/ml/processing/input/data.csv (x,y rows) into train and test CSVs."""

from pathlib import Path

rows = Path("/opt/ml/processing/input/data.csv").read_text().splitlines()
train, test = rows[: len(rows) * 3 // 4], rows[len(rows) * 3 // 4 :]
for name, part in (("train", train), ("test", test)):
    folder = Path(f"/opt/ml/processing/{name}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.csv").write_text("\n".join(part) + "\n")
print(f"split {len(rows)} rows into {len(train)} train and {len(test)} test")

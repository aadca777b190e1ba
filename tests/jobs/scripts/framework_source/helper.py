"""Lives next to process.py in sourcedir.tar.gz; importing it proves the bundle was unpacked."""


def describe(label: str, names: list[str], total_bytes: int) -> str:
    return f"{label}: {','.join(names)} ({total_bytes} bytes)\n"

"""`python -m emulator` is the same as the `sagemaker-emulator` command."""

from emulator.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

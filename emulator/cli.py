"""The `sagemaker-emulator` command: serve | env | coverage.

Flags override `SAGEMAKER_EMULATOR_*` environment variables, which override defaults (see config.py).
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

from emulator import sdk_config
from emulator.config import Settings


def _settings_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to bind (default 4599)")
    parser.add_argument("--data-dir", help="where state, S3 objects and logs live")
    parser.add_argument("--database-url", help="SQLAlchemy URL overriding the SQLite file in the data dir")
    parser.add_argument("--account-id", help="the AWS account the emulator reports (default 123456789012)")
    parser.add_argument("--region", help="the AWS region the emulator reports (default us-east-1)")


def _job_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runner", choices=["auto", "docker", "process"], help="how jobs run (default auto)")
    parser.add_argument("--max-concurrent-jobs", type=int, help="jobs run at once (default: CPU count)")


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        database_url=args.database_url,
        account_id=args.account_id,
        region=args.region,
        runner=getattr(args, "runner", None),
        max_concurrent_jobs=getattr(args, "max_concurrent_jobs", None),
        run_worker=False if getattr(args, "no_worker", False) else None,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sagemaker-emulator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="start the emulator (and a worker, unless --no-worker)")
    _settings_flags(serve)
    _job_flags(serve)
    serve.add_argument("--no-worker", action="store_true", help="serve the API only; run workers separately")
    worker = commands.add_parser("worker", help="run jobs queued in the emulator's store")
    _settings_flags(worker)
    _job_flags(worker)
    worker.add_argument("--exit-with-parent", action="store_true", help=argparse.SUPPRESS)
    env = commands.add_parser("env", help="print shell exports that point AWS clients at the emulator")
    _settings_flags(env)
    coverage = commands.add_parser("coverage", help="write api_specs/COVERAGE.md")
    coverage.add_argument("--output", default=None, help="file to write (default api_specs/COVERAGE.md)")
    coverage.add_argument("--check", action="store_true", help="exit 1 if the file is not up to date")
    return parser


def _env_exports(settings: Settings) -> str:
    exports = sdk_config.client_environment(settings)
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in exports.items())


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if args.command == "serve":
        from emulator.server import serve

        serve(_settings(args))
        return 0
    if args.command == "worker":
        from emulator.jobs.worker import run_worker

        settings = _settings(args)
        run_worker(settings, settings.runner, settings.max_concurrent_jobs, exit_with_parent=args.exit_with_parent)
        return 0
    if args.command == "env":
        sys.stdout.write(_env_exports(_settings(args)))
        return 0
    from emulator.coverage import write_coverage

    return write_coverage(Path(args.output) if args.output else None, check=args.check)

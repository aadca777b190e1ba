"""The peer figures for pipeline_overhead.py: the same shapes with KFP's local runner (`kfp.local`,
SubprocessRunner, no virtualenv per task). Runs in its own virtualenv (kfp and the sagemaker SDK do
not share one); prints one JSON object. (No `from __future__ import annotations`: KFP reads the
components' annotations as types.)

    .venv-kfp/bin/python benchmarks/kfp_local_peer.py --chain 20 --fan-out 8 --sleep 2
"""

import argparse
import json
import tempfile
import time

from kfp import dsl, local


@dsl.component
def trivial(value: int) -> int:
    return value + 1


@dsl.component
def nap(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


def chain_pipeline(length: int) -> object:
    @dsl.pipeline(name="chain")
    def chain() -> None:
        task = trivial(value=0)
        for _ in range(length - 1):
            task = trivial(value=task.output)

    return chain


def fan_out_pipeline(width: int, seconds: float) -> object:
    @dsl.pipeline(name="fan-out")
    def fan_out() -> None:
        for _ in range(width):
            nap(seconds=seconds)

    return fan_out


def timed(pipeline: object) -> float:
    started = time.perf_counter()
    pipeline()  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chain", type=int, default=20)
    parser.add_argument("--fan-out", type=int, default=8)
    parser.add_argument("--sleep", type=float, default=2.0)
    args = parser.parse_args()
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=tempfile.mkdtemp())
    single = timed(chain_pipeline(1))
    chain = timed(chain_pipeline(args.chain))
    fan_out = timed(fan_out_pipeline(args.fan_out, args.sleep))
    print(json.dumps({"single_step": single, "chain": chain, "fan_out": fan_out}))


if __name__ == "__main__":
    main()

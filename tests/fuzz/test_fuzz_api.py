"""Fuzz the awsJson edge with random and malformed requests across every implemented operation.

Whatever arrives — bad JSON, wrong types, huge or odd unicode strings, missing or unknown targets,
wrong content types — the answer is never a 5xx and every error body is JSON with `__type` and
`message`; afterwards the emulator is still healthy. The seed is printed so a failure can be replayed
with `FUZZ_SEED=<seed>`.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from typing import Any

import httpx
from botocore.model import Shape

from emulator.api import registry
from emulator.api.spec import service_model
from emulator.testing import RunningEmulator

REQUESTS_PER_RUN = int(os.environ.get("FUZZ_REQUESTS", "1500"))
MODEL = service_model("sagemaker")
ODD_STRINGS = [
    "",
    " ",
    "a",
    "ünïcödé-✓-🚀",
    "\u0000\u0001\u001f",
    "\ud7ff\ue000",
    "../../etc/passwd",
    "arn:aws:sagemaker:us-east-1:123456789012:pipeline/x",
    "x" * 300,
    "-",
    '{"Version": "2020-12-01", "Steps": []}',
    "%s%n",
]


class Fuzzer:
    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)

    def value(self, shape: Shape, depth: int = 0) -> Any:
        if self.random.random() < 0.08:
            return self.wrong_value()
        kind = shape.type_name
        if kind == "structure":
            members = shape.members  # type: ignore[attr-defined]
            required = set(shape.required_members)  # type: ignore[attr-defined]
            chosen = [name for name in members if name in required and self.random.random() < 0.9]
            chosen += [name for name in members if name not in required and self.random.random() < 0.3]
            return {name: self.value(members[name], depth + 1) for name in chosen} if depth < 6 else {}
        if kind == "list":
            size = self.random.choice([0, 1, 2, 3, 60])
            return [self.value(shape.member, depth + 1) for _ in range(size)] if depth < 6 else []  # type: ignore[attr-defined]
        if kind == "map":
            return {self.string(): self.value(shape.value, depth + 1) for _ in range(self.random.randint(0, 3))}  # type: ignore[attr-defined]
        if kind == "string":
            return self.random.choice(shape.enum) if shape.enum and self.random.random() < 0.7 else self.string()
        if kind in ("integer", "long"):
            return self.random.choice([-1, 0, 1, 7, 100, 101, 2**31, 2**63, -(2**70)])
        if kind in ("float", "double"):
            return self.random.choice([0.0, -1.5, 1e308, 3.14])
        if kind == "boolean":
            return self.random.choice([True, False])
        if kind == "timestamp":
            return self.random.choice([0, 1.7e9, -1, 1e12])
        return self.string()

    def string(self) -> str:
        roll = self.random.random()
        if roll < 0.02:
            return "y" * self.random.choice([4096, 70_000, 1_100_000])
        if roll < 0.5:
            return self.random.choice(ODD_STRINGS)
        alphabet = "abcXYZ019-_./:{}[]\"'\\ é漢"
        return "".join(self.random.choice(alphabet) for _ in range(self.random.randint(1, 40)))

    def wrong_value(self) -> Any:
        return self.random.choice([None, 1, -3.5, True, "text", [], {}, [1, "a"], {"k": {"k": []}}])

    def body(self, operation: str) -> bytes:
        roll = self.random.random()
        if roll < 0.7:
            known = operation in MODEL.operation_names
            shape = MODEL.operation_model(operation).input_shape if known else None
            document = self.value(shape) if shape is not None else {}
            return json.dumps(document).encode()
        malformed: list[Callable[[], bytes]] = [
            lambda: b"{",
            lambda: b'{"PipelineName": ',
            lambda: b"[" * 100_000,
            lambda: b"NaN",
            lambda: b'{"MaxResults": NaN}',
            lambda: b'{"MaxResults": 1e999}',
            lambda: bytes(self.random.getrandbits(8) for _ in range(64)),
            lambda: b'"just a string"',
            lambda: b"null",
            lambda: b'{"a": 1, "a": 2}',
            lambda: '{"PipelineName": "\udcff"}'.encode("utf-8", "surrogatepass"),
        ]
        return self.random.choice(malformed)()

    def headers(self, operation: str) -> dict[str, str]:
        target = f"SageMaker.{operation}"
        roll = self.random.random()
        if roll < 0.05:
            target = ""
        elif roll < 0.1:
            target = "SageMaker."
        elif roll < 0.15:
            target = f"SageMaker.{operation}Nope"
        if not target:  # still recognisably a JSON-protocol request, so it is ours to answer
            return {"Content-Type": self.random.choice(["application/x-amz-json-1.1", "application/x-amz-json-1.0"])}
        content_types = ["application/x-amz-json-1.1"] * 8 + ["application/json", "text/plain", "", "a/b;;"]
        return {"X-Amz-Target": target, "Content-Type": self.random.choice(content_types)}


def operations() -> list[str]:
    import emulator.sagemaker  # noqa: F401

    implemented = registry.implemented("SageMaker")
    assert implemented, "no SageMaker operation is registered"
    return [*implemented, "DescribeDomain", "CreateEndpoint", "NoSuchThing"]


def test_random_and_malformed_requests_never_break_the_edge(sagemaker_emulator: RunningEmulator) -> None:
    seed = int(os.environ.get("FUZZ_SEED", time.time_ns() % 2**32))
    print(f"fuzz seed {seed}")
    fuzzer = Fuzzer(seed)
    names = operations()
    failures: list[str] = []
    with httpx.Client(base_url=sagemaker_emulator.url, timeout=30) as client:
        for number in range(REQUESTS_PER_RUN):
            operation = fuzzer.random.choice(names)
            body, headers = fuzzer.body(operation), fuzzer.headers(operation)
            response = client.post("/", content=body, headers=headers)
            problem = _problem(response)
            if problem:
                failures.append(f"#{number} {headers} {body[:120]!r}: {problem}")
        health = client.get("/_emulator/health")
    assert not failures, f"seed {seed}: {len(failures)} bad answers, first ones:\n" + "\n".join(failures[:5])
    assert health.status_code == 200 and health.json()["status"] == "ok"


def _problem(response: httpx.Response) -> str | None:
    if response.status_code >= 500:
        return f"status {response.status_code}: {response.text[:300]}"
    try:
        document = response.json()
    except ValueError:
        return f"non-JSON body {response.text[:120]!r}"
    if response.status_code >= 400 and not (isinstance(document, dict) and {"__type", "message"} <= set(document)):
        return f"error without __type/message: {document}"
    return None

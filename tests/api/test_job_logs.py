"""Job logs through the CloudWatch Logs API, as boto3 and the SageMaker SDK's own log reader see them.

Events are written straight into the live emulator's database with `LogStore` (what the worker does), then
read back over HTTP with unmodified clients. Every successful Logs response passes the shared shape check.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sagemaker.logs import Position, multi_stream_iter

from emulator.logs.patterns import PatternError, compile_pattern
from emulator.logs.store import LogStore, StreamSelection
from emulator.store.repository import Store
from emulator.testing import RunningEmulator
from tests import shape_check

TRAINING = "/aws/sagemaker/TrainingJobs"
PROCESSING = "/aws/sagemaker/ProcessingJobs"
T0 = 1_700_000_000_000  # epoch ms


@pytest.fixture(scope="module")
def logs(sagemaker_emulator: RunningEmulator) -> Any:
    return shape_check.install(sagemaker_emulator.client("logs"))


@pytest.fixture(scope="module")
def log_store(sagemaker_emulator: RunningEmulator) -> Iterator[LogStore]:
    store = Store.open(sagemaker_emulator.resolved_database_url)
    yield LogStore(store.engine)
    store.close()


def stream_of(job: str, instance: int = 1) -> str:
    return f"{job}/algo-{instance}-{int(time.time())}"


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def messages(response: dict[str, Any]) -> list[str]:
    return [event["message"] for event in response["events"]]


# -- DescribeLogStreams / DescribeLogGroups -----------------------------------------------------------


def test_describe_log_streams_the_way_the_sdk_calls_it(logs: Any, log_store: LogStore, unique: str) -> None:
    job = f"train-{unique}"
    first, second = stream_of(job, 1), stream_of(job, 2)
    log_store.append(TRAINING, second, [(T0 + 5, "two"), (T0 + 9, "two again")])
    log_store.append(TRAINING, first, [(T0 + 1, "one")])
    log_store.append(TRAINING, stream_of(f"{job}-other"), [(T0, "not this job")])

    response = logs.describe_log_streams(
        logGroupName=TRAINING, logStreamNamePrefix=f"{job}/", orderBy="LogStreamName", limit=2
    )
    assert "nextToken" not in response
    assert [stream["logStreamName"] for stream in response["logStreams"]] == [first, second]
    described = response["logStreams"][1]
    assert (described["firstEventTimestamp"], described["lastEventTimestamp"]) == (T0 + 5, T0 + 9)
    assert described["arn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{TRAINING}:log-stream:{second}"
    assert described["creationTime"] <= described["lastIngestionTime"]


def test_describe_log_streams_pages_only_while_more_exist(logs: Any, log_store: LogStore, unique: str) -> None:
    job = f"paged-{unique}"
    names = [stream_of(job, instance) for instance in (1, 2, 3)]
    for name in names:
        log_store.append(TRAINING, name, [(T0, name)])
    request = {"logGroupName": TRAINING, "logStreamNamePrefix": f"{job}/", "limit": 2}
    page = logs.describe_log_streams(**request)
    assert [stream["logStreamName"] for stream in page["logStreams"]] == names[:2]
    rest = logs.describe_log_streams(**request, nextToken=page["nextToken"])
    assert [stream["logStreamName"] for stream in rest["logStreams"]] == names[2:]
    assert "nextToken" not in rest
    everything = logs.describe_log_streams(logGroupName=TRAINING, logStreamNamePrefix=f"{job}/", descending=True)
    assert [stream["logStreamName"] for stream in everything["logStreams"]] == names[::-1]


def test_describe_log_streams_by_last_event_time(logs: Any, log_store: LogStore, unique: str) -> None:
    group = f"/aws/sagemaker/Endpoints/ep-{unique}"
    log_store.append(group, "AllTraffic/i-early", [(T0 + 50, "late")])
    log_store.append(group, "AllTraffic/i-late", [(T0 + 90, "later")])
    log_store.append(group, "AllTraffic/i-mid", [(T0 + 70, "middle")])
    response = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True)
    names = [stream["logStreamName"] for stream in response["logStreams"]]
    assert names == ["AllTraffic/i-late", "AllTraffic/i-mid", "AllTraffic/i-early"]
    with pytest.raises(ClientError) as excinfo:
        logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", logStreamNamePrefix="AllTraffic/")
    assert error_of(excinfo)[0] == "InvalidParameterException"


def test_describe_log_groups_lists_sagemaker_groups(logs: Any, log_store: LogStore, unique: str) -> None:
    log_store.append(PROCESSING, stream_of(f"proc-{unique}"), [(T0, "x" * 10)])
    groups = logs.describe_log_groups(logGroupNamePrefix="/aws/sagemaker/")["logGroups"]
    by_name = {group["logGroupName"]: group for group in groups}
    assert {TRAINING, PROCESSING} <= set(by_name)
    assert by_name[PROCESSING]["storedBytes"] >= 36
    assert by_name[PROCESSING]["arn"] == f"arn:aws:logs:us-east-1:123456789012:log-group:{PROCESSING}:*"
    only = logs.describe_log_groups(logGroupNamePrefix="/aws/sagemaker/Processing")["logGroups"]
    assert [group["logGroupName"] for group in only] == [PROCESSING]


# -- GetLogEvents -------------------------------------------------------------------------------------


def test_get_log_events_pages_forward_to_an_empty_page(logs: Any, log_store: LogStore, unique: str) -> None:
    stream = stream_of(f"pages-{unique}")
    log_store.append(TRAINING, stream, [(T0 + i, f"line {i}") for i in range(25)])
    seen: list[str] = []
    request = {"logGroupName": TRAINING, "logStreamName": stream, "startFromHead": True, "limit": 10}
    page = logs.get_log_events(**request)
    sizes = []
    while page["events"]:
        sizes.append(len(page["events"]))
        seen += messages(page)
        token = page["nextForwardToken"]
        assert token.startswith("f/") and token.endswith("/s")
        page = logs.get_log_events(**request, nextToken=token)
    assert sizes == [10, 10, 5]
    assert seen == [f"line {i}" for i in range(25)]
    assert page["nextForwardToken"] == token
    assert logs.get_log_events(**request, nextToken=token)["nextForwardToken"] == token

    log_store.append(TRAINING, stream, [(T0 + 30, "written later")])
    assert messages(logs.get_log_events(**request, nextToken=token)) == ["written later"]


def test_start_time_is_inclusive_and_end_time_exclusive(logs: Any, log_store: LogStore, unique: str) -> None:
    stream = stream_of(f"window-{unique}")
    log_store.append(TRAINING, stream, [(T0 + 1000, "a"), (T0 + 2000, "b"), (T0 + 3000, "c")])
    common = {"logGroupName": TRAINING, "logStreamName": stream, "startFromHead": True}
    assert messages(logs.get_log_events(**common, startTime=T0 + 2000)) == ["b", "c"]
    assert messages(logs.get_log_events(**common, startTime=T0 + 1000, endTime=T0 + 3000)) == ["a", "b"]
    assert messages(logs.get_log_events(**common, startTime=T0 + 3001)) == []


def test_equal_timestamps_keep_their_order(logs: Any, log_store: LogStore, unique: str) -> None:
    stream = stream_of(f"same-ms-{unique}")
    log_store.append(TRAINING, stream, [(T0, "first"), (T0, "second")])
    log_store.append(TRAINING, stream, [(T0, "third"), (T0 - 5, "earlier")])
    common = {"logGroupName": TRAINING, "logStreamName": stream, "startFromHead": True}
    assert messages(logs.get_log_events(**common)) == ["earlier", "first", "second", "third"]
    page = logs.get_log_events(**common, startTime=T0, limit=2)
    assert messages(page) == ["first", "second"]
    assert messages(logs.get_log_events(**common, startTime=T0, nextToken=page["nextForwardToken"])) == ["third"]


def test_without_start_from_head_the_tail_comes_first(logs: Any, log_store: LogStore, unique: str) -> None:
    stream = stream_of(f"tail-{unique}")
    log_store.append(TRAINING, stream, [(T0 + i, str(i)) for i in range(7)])
    common = {"logGroupName": TRAINING, "logStreamName": stream, "limit": 3}
    tail = logs.get_log_events(**common)
    assert messages(tail) == ["4", "5", "6"]
    assert tail["nextBackwardToken"].startswith("b/")
    before = logs.get_log_events(**common, nextToken=tail["nextBackwardToken"])
    assert messages(before) == ["1", "2", "3"]
    oldest = logs.get_log_events(**common, nextToken=before["nextBackwardToken"])
    assert messages(oldest) == ["0"]
    empty = logs.get_log_events(**common, nextToken=oldest["nextBackwardToken"])
    assert messages(empty) == [] and empty["nextBackwardToken"] == oldest["nextBackwardToken"]


def test_a_page_holds_at_most_one_megabyte(logs: Any, log_store: LogStore, unique: str) -> None:
    stream = stream_of(f"big-{unique}")
    log_store.append(TRAINING, stream, [(T0 + i, f"{i:06d}" + "x" * 294) for i in range(6000)])
    request = {"logGroupName": TRAINING, "logStreamName": stream, "startFromHead": True}
    page = logs.get_log_events(**request)
    assert len(page["events"]) == 1_048_576 // (300 + 26)
    total = len(page["events"])
    while page["events"]:
        page = logs.get_log_events(**request, nextToken=page["nextForwardToken"])
        total += len(page["events"])
    assert total == 6000


def test_the_sdk_log_reader_interleaves_streams_by_time(logs: Any, log_store: LogStore, unique: str) -> None:
    job = f"sdk-{unique}"
    first, second = stream_of(job, 1), stream_of(job, 2)
    log_store.append(TRAINING, first, [(T0 + 1, "1a"), (T0 + 3, "1b"), (T0 + 5, "1c")])
    log_store.append(TRAINING, second, [(T0 + 2, "2a"), (T0 + 4, "2b"), (T0 + 4, "2c")])
    read = list(multi_stream_iter(logs, TRAINING, [first, second]))
    assert [(index, event["message"]) for index, event in read] == [
        (0, "1a"),
        (1, "2a"),
        (0, "1b"),
        (1, "2b"),
        (1, "2c"),
        (0, "1c"),
    ]
    positions = {first: Position(timestamp=T0 + 3, skip=1), second: Position(timestamp=T0 + 4, skip=1)}
    resumed = list(multi_stream_iter(logs, TRAINING, [first, second], positions))
    assert [event["message"] for _, event in resumed] == ["2c", "1c"]


# -- errors -------------------------------------------------------------------------------------------


def test_unknown_group_and_stream_are_resource_not_found(logs: Any, log_store: LogStore, unique: str) -> None:
    missing_group = f"/aws/sagemaker/Nothing-{unique}"
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as excinfo:
        logs.describe_log_streams(logGroupName=missing_group, logStreamNamePrefix="x/")
    assert error_of(excinfo) == ("ResourceNotFoundException", "The specified log group does not exist.")
    with pytest.raises(ClientError) as excinfo:
        logs.get_log_events(logGroupName=missing_group, logStreamName="x/algo-1-1")
    assert error_of(excinfo)[0] == "ResourceNotFoundException"

    log_store.append(TRAINING, stream_of(f"exists-{unique}"), [(T0, "here")])
    with pytest.raises(ClientError) as excinfo:
        logs.get_log_events(logGroupName=TRAINING, logStreamName=f"missing-{unique}/algo-1-1")
    assert error_of(excinfo) == ("ResourceNotFoundException", "The specified log stream does not exist.")


def test_bad_tokens_are_invalid_parameters(logs: Any, log_store: LogStore, unique: str) -> None:
    stream = stream_of(f"token-{unique}")
    log_store.append(TRAINING, stream, [(T0, "x")])
    with pytest.raises(ClientError) as excinfo:
        logs.get_log_events(logGroupName=TRAINING, logStreamName=stream, nextToken="f/123/s")
    assert error_of(excinfo)[0] == "InvalidParameterException"


def test_log_group_identifier_may_be_an_arn(logs: Any, log_store: LogStore, unique: str) -> None:
    stream = stream_of(f"arn-{unique}")
    log_store.append(TRAINING, stream, [(T0, "by arn")])
    arn = f"arn:aws:logs:us-east-1:123456789012:log-group:{TRAINING}"
    response = logs.get_log_events(logGroupIdentifier=arn, logStreamName=stream, startFromHead=True)
    assert messages(response) == ["by arn"]


# -- FilterLogEvents ----------------------------------------------------------------------------------


@pytest.fixture
def filter_job(log_store: LogStore, unique: str) -> str:
    job = f"filter-{unique}"
    log_store.append(
        TRAINING,
        f"{job}/algo-1-1",
        [(T0 + 1, "INFO starting"), (T0 + 3, "ERROR disk full"), (T0 + 5, "WARN retry later")],
    )
    log_store.append(
        TRAINING,
        f"{job}/algo-2-1",
        [(T0 + 2, "ERROR retry 1"), (T0 + 4, "INFO loss=0.25"), (T0 + 6, "error lowercase")],
    )
    return job


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("", ["INFO starting", "ERROR retry 1", "ERROR disk full", "INFO loss=0.25", "WARN retry later"]),
        ("ERROR", ["ERROR retry 1", "ERROR disk full"]),
        ('"disk full"', ["ERROR disk full"]),
        ("?WARN ?ERROR", ["ERROR retry 1", "ERROR disk full", "WARN retry later"]),
        ("ERROR -retry", ["ERROR disk full"]),
        ("retry ERROR", ["ERROR retry 1"]),
        (r"%loss=0\.[0-9]+%", ["INFO loss=0.25"]),
    ],
)
def test_filter_patterns(logs: Any, filter_job: str, pattern: str, expected: list[str]) -> None:
    response = logs.filter_log_events(
        logGroupName=TRAINING, logStreamNamePrefix=f"{filter_job}/", filterPattern=pattern, endTime=T0 + 5
    )
    assert messages(response) == expected
    assert "nextToken" not in response


def test_filter_by_stream_names_time_and_pages(logs: Any, filter_job: str) -> None:
    response = logs.filter_log_events(
        logGroupName=TRAINING, logStreamNames=[f"{filter_job}/algo-2-1"], startTime=T0 + 4
    )
    assert [(event["logStreamName"], event["message"]) for event in response["events"]] == [
        (f"{filter_job}/algo-2-1", "INFO loss=0.25"),
        (f"{filter_job}/algo-2-1", "error lowercase"),
    ]
    paginator = logs.get_paginator("filter_log_events")
    pages = list(paginator.paginate(logGroupName=TRAINING, logStreamNamePrefix=f"{filter_job}/", limit=2))
    assert [len(page["events"]) for page in pages][:3] == [2, 2, 2]
    found = [event["message"] for page in pages for event in page["events"]]
    assert found[0] == "INFO starting" and found[-1] == "error lowercase" and len(found) == 6
    assert len({event["eventId"] for page in pages for event in page["events"]}) == 6


def test_a_search_stops_at_its_scan_budget_and_resumes(log_store: LogStore, filter_job: str) -> None:
    found: list[str] = []
    after = None
    while True:
        result = log_store.filter_events(
            TRAINING,
            streams=StreamSelection(prefix=f"{filter_job}/"),
            start=None,
            end=None,
            after=after,
            matches=compile_pattern("INFO"),
            limit=100,
            max_bytes=1 << 20,
            scan_budget=2,
        )
        found += [event.message for event in result.events]
        if result.resume_after is None:
            break
        after = result.resume_after
    assert found == ["INFO starting", "INFO loss=0.25"]


def test_unsupported_filter_patterns_are_rejected(logs: Any, filter_job: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        logs.filter_log_events(logGroupName=TRAINING, filterPattern="{ $.level = 1 }")
    assert error_of(excinfo)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as excinfo:
        logs.filter_log_events(logGroupName=TRAINING, logStreamNames=["a"], logStreamNamePrefix="a")
    assert error_of(excinfo)[0] == "InvalidParameterException"


def test_pattern_parser_rejects_unbalanced_quotes() -> None:
    with pytest.raises(PatternError):
        compile_pattern('"unterminated')
    assert compile_pattern(' "a \\" b" ')('x a " b y')


# -- routing ------------------------------------------------------------------------------------------


def test_other_log_groups_still_reach_moto(logs: Any, unique: str) -> None:
    group = f"/my/app-{unique}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="main")
    logs.put_log_events(
        logGroupName=group, logStreamName="main", logEvents=[{"timestamp": int(time.time() * 1000), "message": "hi"}]
    )
    response = logs.get_log_events(logGroupName=group, logStreamName="main", startFromHead=True)
    assert messages(response) == ["hi"]
    assert group in [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/my/")["logGroups"]]


def test_other_operations_on_sagemaker_groups_are_unknown(logs: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        logs.put_retention_policy(logGroupName=TRAINING, retentionInDays=1)
    assert error_of(excinfo)[0] == "UnknownOperationException"

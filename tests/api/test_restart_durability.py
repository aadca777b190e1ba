"""Control-plane state survives a crash: pipelines, versions and tags are all there after `kill -9`
and a restart on the same data dir (S3 objects are covered in test_s3_durability.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

from emulator.testing import RunningEmulator, free_port
from tests.api.test_pipelines import DEFINITION
from tests.conftest import ROLE_ARN, make_client


def test_pipelines_and_tags_survive_kill_9(tmp_path: Path) -> None:
    emulator = RunningEmulator(tmp_path / "data", free_port()).start()
    try:
        sm = make_client(emulator, "sagemaker")
        arns = []
        for index in range(5):
            arn = sm.create_pipeline(
                PipelineName=f"durable-{index}",
                PipelineDefinition=DEFINITION,
                RoleArn=ROLE_ARN,
                ClientRequestToken=str(uuid.uuid4()),
                Tags=[{"Key": "index", "Value": str(index)}],
            )["PipelineArn"]
            arns.append(arn)
        sm.update_pipeline(PipelineName="durable-0", PipelineDescription="changed")
        sm.add_tags(ResourceArn=arns[1], Tags=[{"Key": "late", "Value": "yes"}])
        sm.delete_pipeline(PipelineName="durable-4", ClientRequestToken=str(uuid.uuid4()))
        before = {name: sm.describe_pipeline(PipelineName=name) for name in ("durable-0", "durable-1")}

        emulator.restart(hard=True)
        sm = make_client(emulator, "sagemaker")

        names = [
            summary["PipelineName"]
            for summary in sm.list_pipelines(SortBy="Name", SortOrder="Ascending")["PipelineSummaries"]
        ]
        assert names == ["durable-0", "durable-1", "durable-2", "durable-3"]
        for name, described in before.items():
            after = sm.describe_pipeline(PipelineName=name)
            assert {k: v for k, v in after.items() if k != "ResponseMetadata"} == {
                k: v for k, v in described.items() if k != "ResponseMetadata"
            }
        versions = sm.list_pipeline_versions(PipelineName="durable-0")["PipelineVersionSummaries"]
        assert [version["PipelineVersionId"] for version in versions] == [2, 1]
        assert sm.list_tags(ResourceArn=arns[1])["Tags"] == [
            {"Key": "index", "Value": "1"},
            {"Key": "late", "Value": "yes"},
        ]
    finally:
        emulator.stop()

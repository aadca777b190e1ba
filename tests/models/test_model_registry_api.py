"""The model registry through boto3: groups, versioned and unversioned packages, approval, listing, and
models created from packages."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE_ARN

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ACCOUNT = "arn:aws:sagemaker:us-east-1:123456789012"


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


def inference(model_data: str, **environment: str) -> dict[str, Any]:
    container: dict[str, Any] = {"Image": IMAGE, "ModelDataUrl": model_data}
    if environment:
        container["Environment"] = environment
    return {
        "Containers": [container],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
        "SupportedRealtimeInferenceInstanceTypes": ["ml.m5.large"],
        "SupportedTransformInstanceTypes": ["ml.m5.large"],
    }


def test_group_lifecycle(sm: Any, unique: str) -> None:
    group = f"Group-{unique}"
    arn = sm.create_model_package_group(
        ModelPackageGroupName=group, ModelPackageGroupDescription="churn models", Tags=[{"Key": "t", "Value": "1"}]
    )["ModelPackageGroupArn"]
    assert arn == f"{ACCOUNT}:model-package-group/group-{unique}"
    described = sm.describe_model_package_group(ModelPackageGroupName=group)
    assert described["ModelPackageGroupStatus"] == "Completed"
    assert described["ModelPackageGroupDescription"] == "churn models"
    assert sm.describe_model_package_group(ModelPackageGroupName=arn)["ModelPackageGroupName"] == group

    with pytest.raises(ClientError) as excinfo:
        sm.create_model_package_group(ModelPackageGroupName=group)
    assert error_of(excinfo)[0] == "ValidationException"
    assert "Model Package Group already exists" in error_of(excinfo)[1]

    listed = sm.list_model_package_groups(NameContains=unique)["ModelPackageGroupSummaryList"]
    assert [item["ModelPackageGroupArn"] for item in listed] == [arn]

    sm.delete_model_package_group(ModelPackageGroupName=group)
    with pytest.raises(ClientError) as excinfo:
        sm.describe_model_package_group(ModelPackageGroupName=group)
    assert error_of(excinfo) == ("ValidationException", f"ModelPackageGroup {arn} does not exist.")


def test_versions_approval_and_listing(sm: Any, unique: str) -> None:
    group = f"versions-{unique}"
    sm.create_model_package_group(ModelPackageGroupName=group)
    metrics = {"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": "s3://b/stats.json"}}}
    baselines = {"ModelQuality": {"Constraints": {"ContentType": "application/json", "S3Uri": "s3://b/c.json"}}}
    first = sm.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification=inference("s3://b/1/model.tar.gz", MODE="one"),
        ModelMetrics=metrics,
        DriftCheckBaselines=baselines,
        CustomerMetadataProperties={"owner": "alice"},
        ModelPackageDescription="first",
    )["ModelPackageArn"]
    second = sm.create_model_package(
        ModelPackageGroupName=group, InferenceSpecification=inference("s3://b/2/model.tar.gz")
    )["ModelPackageArn"]
    assert (first, second) == (f"{ACCOUNT}:model-package/{group}/1", f"{ACCOUNT}:model-package/{group}/2")

    described = sm.describe_model_package(ModelPackageName=first)
    assert described["ModelPackageName"] == group
    assert described["ModelPackageGroupName"] == group
    assert described["ModelPackageVersion"] == 1
    assert described["ModelPackageStatus"] == "Completed"
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["ModelMetrics"] == metrics
    assert described["DriftCheckBaselines"] == baselines
    assert described["CustomerMetadataProperties"] == {"owner": "alice"}
    assert sm.describe_model_package(ModelPackageName=f"{group}/2")["ModelPackageArn"] == second

    sm.update_model_package(
        ModelPackageArn=second,
        ModelApprovalStatus="Approved",
        ApprovalDescription="beats v1",
        CustomerMetadataProperties={"stage": "prod"},
    )
    approved = sm.describe_model_package(ModelPackageName=second)
    assert (approved["ModelApprovalStatus"], approved["ApprovalDescription"]) == ("Approved", "beats v1")
    assert approved["CustomerMetadataProperties"] == {"stage": "prod"}
    assert "LastModifiedTime" in approved

    def listed(**filters: Any) -> list[str]:
        return [
            item["ModelPackageArn"]
            for item in sm.list_model_packages(ModelPackageGroupName=group, **filters)["ModelPackageSummaryList"]
        ]

    assert listed() == [first, second]
    assert listed(SortOrder="Descending") == [second, first]
    assert listed(ModelApprovalStatus="Approved") == [second]
    assert listed(ModelApprovalStatus="PendingManualApproval") == [first]
    page = sm.list_model_packages(ModelPackageGroupName=group, MaxResults=1)
    assert [item["ModelPackageArn"] for item in page["ModelPackageSummaryList"]] == [first]
    rest = sm.list_model_packages(ModelPackageGroupName=group, MaxResults=1, NextToken=page["NextToken"])
    assert [item["ModelPackageArn"] for item in rest["ModelPackageSummaryList"]] == [second]

    with pytest.raises(ClientError) as excinfo:
        sm.delete_model_package_group(ModelPackageGroupName=group)
    assert error_of(excinfo)[0] == "ValidationException"
    sm.delete_model_package(ModelPackageName=first)
    third = sm.create_model_package(ModelPackageGroupName=group, InferenceSpecification=inference("s3://b/3.tar.gz"))
    assert third["ModelPackageArn"].endswith(f"/{group}/3")  # versions are never reused


def test_unversioned_packages_and_errors(sm: Any, unique: str) -> None:
    name = f"plain-{unique}"
    arn = sm.create_model_package(
        ModelPackageName=name, InferenceSpecification=inference("s3://b/m.tar.gz"), CertifyForMarketplace=False
    )["ModelPackageArn"]
    assert arn == f"{ACCOUNT}:model-package/{name}"
    assert sm.describe_model_package(ModelPackageName=name)["ModelPackageName"] == name
    with pytest.raises(ClientError) as excinfo:
        sm.create_model_package(ModelPackageName=name, InferenceSpecification=inference("s3://b/m.tar.gz"))
    assert error_of(excinfo)[0] == "ValidationException"
    assert "ModelPackage already exists" in error_of(excinfo)[1]

    unversioned = sm.list_model_packages(NameContains=unique)["ModelPackageSummaryList"]
    assert [item["ModelPackageArn"] for item in unversioned] == [arn]
    assert sm.list_model_packages(NameContains=unique, ModelPackageType="Versioned")["ModelPackageSummaryList"] == []

    with pytest.raises(ClientError) as excinfo:
        sm.create_model_package(ModelPackageName=f"env-{unique}", InferenceSpecification=inference("s3://b/m", A="1"))
    assert "Environment variable map cannot be specified" in error_of(excinfo)[1]
    with pytest.raises(ClientError) as excinfo:
        sm.create_model_package(ModelPackageName=f"a-{unique}", ModelPackageGroupName=f"b-{unique}")
    assert "Both ModelPackageName and ModelPackageGroupName" in error_of(excinfo)[1]
    with pytest.raises(ClientError) as excinfo:
        sm.describe_model_package(ModelPackageName=f"nope-{unique}")
    assert error_of(excinfo) == (
        "ValidationException",
        f"ModelPackage {ACCOUNT}:model-package/nope-{unique} does not exist.",
    )
    sm.delete_model_package(ModelPackageName=arn)
    assert sm.list_model_packages(NameContains=unique)["ModelPackageSummaryList"] == []


def test_model_from_an_approved_package(sm: Any, unique: str) -> None:
    group = f"deploy-{unique}"
    sm.create_model_package_group(ModelPackageGroupName=group)
    package = sm.create_model_package(
        ModelPackageGroupName=group, InferenceSpecification=inference("s3://b/model.tar.gz", KEY="package")
    )["ModelPackageArn"]
    with pytest.raises(ClientError) as excinfo:
        sm.create_model(
            ModelName=f"m-{unique}", PrimaryContainer={"ModelPackageName": package}, ExecutionRoleArn=ROLE_ARN
        )
    assert "must be Approved" in error_of(excinfo)[1]

    sm.update_model_package(ModelPackageArn=package, ModelApprovalStatus="Approved")
    sm.create_model(
        ModelName=f"m-{unique}",
        PrimaryContainer={"ModelPackageName": package, "Environment": {"EXTRA": "1"}},
        ExecutionRoleArn=ROLE_ARN,
    )
    described = sm.describe_model(ModelName=f"m-{unique}")
    assert described["PrimaryContainer"] == {"ModelPackageName": package, "Environment": {"EXTRA": "1"}}

    with pytest.raises(ClientError) as excinfo:
        sm.create_model(
            ModelName=f"x-{unique}", PrimaryContainer={"ModelPackageName": f"{group}/9"}, ExecutionRoleArn=ROLE_ARN
        )
    assert error_of(excinfo) == (
        "ValidationException",
        f"ModelPackage {ACCOUNT}:model-package/{group}/9 does not exist.",
    )

"""The endpoint configuration and endpoint APIs as the service answers them: ARNs, echoed members, list filters,
tags, and the errors the SDK matches ("Could not find …", "Cannot create already existing …")."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulator.testing import RunningEmulator
from tests.endpoints.conftest import SKLEARN_IMAGE, Serving

ACCOUNT = "123456789012"


@pytest.fixture
def api(process_emulator: RunningEmulator) -> Serving:
    return Serving("process", process_emulator, SKLEARN_IMAGE)


def variant(model: str, **extra: Any) -> dict[str, Any]:
    return {
        "VariantName": "AllTraffic",
        "ModelName": model,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
        **extra,
    }


def test_endpoint_config_lifecycle_and_errors(api: Serving, unique: str) -> None:
    sm = api.sm
    model = api.create_model(f"m-{unique}", {"name": "m"})
    with pytest.raises(ClientError, match=f'Could not find model "arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/nope'):
        sm.create_endpoint_config(EndpointConfigName=f"c-{unique}", ProductionVariants=[variant("nope")])
    arn = sm.create_endpoint_config(
        EndpointConfigName=f"c-{unique}",
        ProductionVariants=[variant(model)],
        Tags=[{"Key": "team", "Value": "ml"}],
    )["EndpointConfigArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint-config/c-{unique}"
    with pytest.raises(ClientError, match="Cannot create already existing endpoint configuration"):
        sm.create_endpoint_config(EndpointConfigName=f"c-{unique}", ProductionVariants=[variant(model)])
    with pytest.raises(ClientError, match="Variant names must be unique"):
        sm.create_endpoint_config(EndpointConfigName=f"d-{unique}", ProductionVariants=[variant(model)] * 2)

    described = sm.describe_endpoint_config(EndpointConfigName=f"c-{unique}")
    assert described["EndpointConfigArn"] == arn
    assert described["ProductionVariants"] == [{**variant(model), "InitialVariantWeight": 1.0}]
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    listed = sm.list_endpoint_configs(NameContains=unique)["EndpointConfigs"]
    assert [item["EndpointConfigName"] for item in listed] == [f"c-{unique}"]

    sm.delete_endpoint_config(EndpointConfigName=f"c-{unique}")
    for call in (sm.describe_endpoint_config, sm.delete_endpoint_config):
        with pytest.raises(ClientError) as missing:
            call(EndpointConfigName=f"c-{unique}")
        assert missing.value.response["Error"]["Code"] == "ValidationException"
        assert f'Could not find endpoint configuration "{arn}"' in missing.value.response["Error"]["Message"]


def test_endpoint_errors_and_listing(api: Serving, unique: str) -> None:
    sm = api.sm
    model = api.create_model(f"m-{unique}", {"name": "m"})
    api.create_config(f"c-{unique}", model)
    with pytest.raises(ClientError, match="Could not find endpoint configuration"):
        sm.create_endpoint(EndpointName=f"e-{unique}", EndpointConfigName=f"missing-{unique}")
    arn = sm.create_endpoint(
        EndpointName=f"e-{unique}", EndpointConfigName=f"c-{unique}", Tags=[{"Key": "k", "Value": "v"}]
    )["EndpointArn"]
    try:
        with pytest.raises(ClientError, match=f'Cannot create already existing endpoint "{arn}"'):
            sm.create_endpoint(EndpointName=f"e-{unique}", EndpointConfigName=f"c-{unique}")
        assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
        api.wait_for(f"e-{unique}", "InService", "Failed")
        # The configuration and the model can go: the endpoint serves its snapshot.
        sm.delete_endpoint_config(EndpointConfigName=f"c-{unique}")
        sm.delete_model(ModelName=model)
        assert api.invoke(f"e-{unique}", "still")[0]["model"] == {"name": "m"}

        listed = sm.list_endpoints(NameContains=unique, StatusEquals="InService")["Endpoints"]
        assert [(item["EndpointName"], item["EndpointArn"]) for item in listed] == [(f"e-{unique}", arn)]
        assert sm.list_endpoints(NameContains=unique, StatusEquals="Failed")["Endpoints"] == []
        with pytest.raises(ClientError, match="Could not find endpoint configuration"):
            sm.update_endpoint(EndpointName=f"e-{unique}", EndpointConfigName=f"c-{unique}")
    finally:
        sm.delete_endpoint(EndpointName=f"e-{unique}")
    assert sm.describe_endpoint(EndpointName=f"e-{unique}")["EndpointStatus"] in ("Deleting",)
    api.wait_gone(f"e-{unique}")
    for call in (sm.describe_endpoint, sm.delete_endpoint):
        with pytest.raises(ClientError) as missing:
            call(EndpointName=f"e-{unique}")
        assert missing.value.response["Error"]["Code"] == "ValidationException"
        assert f'Could not find endpoint "{arn}"' in missing.value.response["Error"]["Message"]


def test_deleting_an_endpoint_while_it_is_created(api: Serving, unique: str) -> None:
    api.create_config(f"slow-{unique}", api.create_model(f"slow-{unique}", {"name": "m"}, {"SERVE_LOAD_SECONDS": "30"}))
    api.sm.create_endpoint(EndpointName=f"e-{unique}", EndpointConfigName=f"slow-{unique}")
    assert api.log_streams(f"/aws/sagemaker/Endpoints/e-{unique}", count=1, timeout=30)  # the host is loading
    assert api.sm.describe_endpoint(EndpointName=f"e-{unique}")["EndpointStatus"] == "Creating"
    api.sm.delete_endpoint(EndpointName=f"e-{unique}")
    api.wait_gone(f"e-{unique}", timeout=15)
    api.create_config(f"c-{unique}", api.create_model(f"m-{unique}", {"name": "m"}))
    api.sm.create_endpoint(EndpointName=f"e-{unique}", EndpointConfigName=f"c-{unique}")
    try:
        assert api.wait_for(f"e-{unique}", "InService", "Failed")["EndpointStatus"] == "InService"
    finally:
        api.sm.delete_endpoint(EndpointName=f"e-{unique}")

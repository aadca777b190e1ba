"""The SageMaker SDK (v2) deploys, predicts, updates and deletes against the emulator, unmodified:
`SKLearnModel(...).deploy()` in the process runner (script mode: the SDK uploads the source and sets
SAGEMAKER_PROGRAM / SAGEMAKER_SUBMIT_DIRECTORY), `Model(image_uri=<custom image>).deploy()` in the docker
runner, then `Predictor.predict` through sagemaker-runtime. (The SDK polls DescribeEndpoint every 30 s, so
each deploy takes that long.)"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import ROLE_ARN
from tests.endpoints.conftest import PROGRAM, SCRIPTS, Serving, tarball
from tests.jobs.conftest import point_sdk_at


def sdk_model(serving: Serving, unique: str, name: str) -> Any:
    from sagemaker.model import Model
    from sagemaker.predictor import Predictor
    from sagemaker.session import Session
    from sagemaker.sklearn import SKLearnModel

    bucket = serving.bucket(unique)
    serving.s3.put_object(Bucket=bucket, Key="m/model.tar.gz", Body=tarball({"model.json": json.dumps({"name": name})}))
    model_data = f"s3://{bucket}/m/model.tar.gz"
    if serving.runner == "process":
        return SKLearnModel(
            model_data=model_data,
            role=ROLE_ARN,
            entry_point=PROGRAM,
            source_dir=str(SCRIPTS),
            framework_version="1.2-1",
            name=f"sdk-{name}-{unique}",
            sagemaker_session=Session(),
        )
    return Model(
        image_uri=serving.image,
        model_data=model_data,
        role=ROLE_ARN,
        predictor_cls=Predictor,
        name=f"sdk-{name}-{unique}",
    )


def test_sdk_deploy_predict_update_delete(serving: Serving, unique: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.serializers import CSVSerializer

    point_sdk_at(serving.emulator, monkeypatch)
    endpoint = f"sdk-{unique}"
    predictor = sdk_model(serving, unique, "first").deploy(
        initial_instance_count=1,
        instance_type="ml.m5.large",
        endpoint_name=endpoint,
        serializer=CSVSerializer(),
        deserializer=JSONDeserializer(),
    )
    try:
        answer = predictor.predict([[1, 2], [3, 4]])
        assert answer["model"] == {"name": "first"}
        assert (answer["body"], answer["content_type"], answer["accept"]) == (
            "1,2\n3,4",
            "text/csv",
            "application/json",
        )

        second = sdk_model(serving, f"{unique}-2", "second")
        second.create(instance_type="ml.m5.large")
        predictor.update_endpoint(model_name=second.name, initial_instance_count=2, instance_type="ml.m5.large")
        assert predictor.predict([[5, 6]])["model"] == {"name": "second"}
        (variant,) = serving.sm.describe_endpoint(EndpointName=endpoint)["ProductionVariants"]
        assert variant["CurrentInstanceCount"] == 2
    finally:
        predictor.delete_endpoint(delete_endpoint_config=True)
    serving.wait_gone(endpoint)

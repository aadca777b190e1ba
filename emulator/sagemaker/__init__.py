"""The SageMaker API: one module per resource family, each operation one `@operation` function.

Importing this package registers every implemented operation with `emulator.api.registry`.
"""

from emulator.sagemaker import (  # noqa: F401
    endpoint_configs,
    endpoints,
    model_packages,
    models,
    pipeline_executions,
    pipelines,
    processing_jobs,
    tags,
    training_jobs,
    transform_jobs,
    tuning_jobs,
)

"""The SageMaker API: one module per resource family, each operation one `@operation` function.

Importing this package registers every implemented operation with `emulator.api.registry`.
"""

from emulator.sagemaker import (  # noqa: F401
    pipeline_executions,
    pipelines,
    processing_jobs,
    tags,
    training_jobs,
)

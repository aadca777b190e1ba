"""Service-agnostic AWS plumbing: botocore models, awsJson1.1 parsing, validation and serialization,
errors, request context and the `@operation` registry.

Nothing here knows about SageMaker resources; resource families live in `emulator.sagemaker`.
"""

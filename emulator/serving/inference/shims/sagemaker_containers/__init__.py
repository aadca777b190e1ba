"""Stand-in for `sagemaker_containers` (the legacy serving helpers of the scikit-learn and XGBoost images):
only `sagemaker_containers.beta.framework` with `content_types`, `encoders`, `errors` and `worker.Response`."""

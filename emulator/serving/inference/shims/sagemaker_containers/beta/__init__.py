"""See `sagemaker_containers.beta.framework`."""

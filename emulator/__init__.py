"""A local Amazon SageMaker emulator that speaks the real API and really runs the work."""

__version__ = "0.1.0"

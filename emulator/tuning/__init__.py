"""Hyperparameter tuning, the pure part: search spaces (`space`), strategies (`strategies`), early stopping and
Hyperband (`early_stopping`), the training job definitions of a tuning job (`definitions`) and how its trials
are reported (`progress`).

The API lives in `emulator.sagemaker.tuning_jobs`; the coordinator that launches and watches the training jobs
in `emulator.jobs.tuning`. Nothing here touches the store, the network or the clock.
"""

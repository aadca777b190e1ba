"""Stand-in for the XGBoost framework image's `sagemaker_xgboost_container` package (helpers only).

Provided by the emulator's process runner so inference scripts written for that image import unchanged;
an installed real package takes precedence (this directory is last on sys.path).
"""

"""Running jobs for real: the worker loop, staging of /opt/ml, and the runners that start hosts.

A job (training, processing, transform) is a `resources` row holding its Describe document plus a
`work_items` row the worker claims. The worker stages inputs into a per-job directory laid out like
`/opt/ml`, asks a runner (`runners/`) to start one host per instance, streams their output into the
log store, honours Stop and MaxRuntime, uploads outputs and moves the status on with compare-and-set.
"""

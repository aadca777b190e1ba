"""Job logs: the lines SageMaker jobs print, stored in the database and read back through the CloudWatch
Logs API, exactly where the SageMaker SDK looks for them.

Modules:
- `store`: `LogStore`, the only SQL over the `log_events` table — `append` (the worker's write path) and
  the queries the API needs. Log groups and streams have no table: a stream exists once it has an event.
- `api`: DescribeLogGroups, DescribeLogStreams, GetLogEvents and FilterLogEvents, registered under the
  `Logs_20140328` target and served by the awsJson machinery in `emulator.api`.
- `patterns`: CloudWatch filter patterns for unstructured text (terms, quoted phrases, `?` and `-`).
- `routing`: the ASGI router that sends requests for `/aws/sagemaker/...` groups to `api` and every
  other CloudWatch Logs request (a user's own groups, writes) to moto.

Not here: writing logs through the API (PutLogEvents on our groups is not implemented), metric filters,
Logs Insights queries, retention. Pitfalls: `startTime` is inclusive and `endTime` exclusive in
GetLogEvents; events that share a timestamp keep their insertion order (the row id), which the SDK's
`(timestamp, skip)` positions rely on.
"""

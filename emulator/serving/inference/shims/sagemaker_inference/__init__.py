"""Stand-in for the `sagemaker-inference` toolkit's helper modules: `content_types`, `decoder`, `encoder`,
`errors` (installed real package takes precedence)."""

"""Operating the service: structured logs, request ids, the access log, /readyz, /metrics."""

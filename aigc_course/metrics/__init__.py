"""Metrics computed on held-out data: one module per domain."""

"""Runners: execute a run directory (request.json + models) on a device and return its result."""

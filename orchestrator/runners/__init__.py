"""Runners: execute exported models on a device and time them."""

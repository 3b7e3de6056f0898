"""Exporters from static modules to on-device formats."""

"""The `bench` command line: `app` assembles the Typer app from one module per command (and one per
command group: `space`, `lut`, `data`), each named for it; its rich views live beside it in
`<name>_view.py`."""

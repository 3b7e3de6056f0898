"""The `bench` command line: `app` assembles the Typer app from one module per command group;
each group's rich views live beside it in `<group>_view.py`."""

"""The report floor: a LUT, its validation runs and its comparison with another LUT as one
self-contained HTML page (`bench report`), and the LUT tables and figures that the terminal views
of `bench lut` share with it. `build.report_path` and `build.write_report` are its entry points."""

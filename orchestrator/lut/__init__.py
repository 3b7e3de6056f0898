"""Steps 4-5: from measurements to a LUT and back. The LUT-building runs (`runs`: one entry function
per kind, profile and transfer) and their parts (run directory, sessions, reference scaling,
provenance, settings), attribution by removal, the LUT store with its validation sidecars, and
validation of a LUT against subnets measured end to end."""

"""Steps 4-5: from measurements to a LUT and back. The profile run (plan -> export -> measure ->
attribute -> LUT), attribution by removal, the LUT store with its validation sidecars, and
validation of a LUT against subnets measured end to end."""

"""`bench search` as a job: a trained supernet, a device's LUT and budgets in (`job`), the winner
out: delivered as checkpoint, `.pte` and `.mlpackage` (`delivery`), measured on the LUT's device
and reported (`finish`)."""

MEASURE_TOP = 5  # candidates the measured finish times on the device (`bench search --measure-top`)

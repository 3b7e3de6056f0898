"""`bench search` as a job: a trained supernet, a device's LUT and budgets in (`job`), the winner
out: delivered as checkpoint, `.pte` and `.mlpackage` (`delivery`), measured on the LUT's device
and reported (`finish`)."""

MEASURE_TOP = 5  # candidates the measured finish times on the device (`bench search --measure-top`)
INT8_CALIBRATION = 64  # training images a search's int8 model is calibrated on (`bench search --int8-calibration`)

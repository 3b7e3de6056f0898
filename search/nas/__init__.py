"""The hardware-aware search itself: a LUT read and checked (`lut`), latency predicted from it
(`predictor`), budgets kept (`budget`) and the coarse-to-fine, evolution and random strategies
(`strategies`) over subnets scored with inherited weights (`search.training.evaluate`)."""

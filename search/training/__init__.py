"""Training the weight-entangled supernet (the paper's Algorithm 1) and scoring its subnets:
settings, the image data, distillation, checkpoints, held-out evaluation with recalibrated
BatchNorm (`evaluate`, which the search uses too), a trained supernet as the public API gives it
(`trained`), and the torchrun process group that training and search share."""

"""Step 1 of a profile: what to measure. The LUT plan (every entry, the network that holds its
block and the network without it) and the networks themselves, built from their specs."""

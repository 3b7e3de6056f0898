"""The method, in four sub-packages, each using only those before it: `space` (search spaces,
subnet configs, sampling, encodings, parameter counts), `supernet` (the weight-entangled supernet
and the static subnets extracted from it), `training` (supernet training and subnet evaluation)
and `nas` (LUTs, the latency predictor, budgets and the search strategies). It never imports
`orchestrator`. Above the four stands `api`, the public Python surface (docs/api.md): the only
names users are promised stay put; nothing in the toolkit imports it."""

"""The weight-entangled supernet (`model`, with its elastic layers in `ops`), the tensor functions
it shares with static subnets (`functional`), and what turns a subnet into a plain module:
`extract` (weights copied), `static` (the module itself) and `deploy` (the exported form)."""

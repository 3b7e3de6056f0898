"""Step 2: static networks to on-device formats. A `Backend` descriptor per format (`backends`),
the exporters (`executorch`, `coreml`), the content-addressed export cache (`cache`: keys and entries; `probes`: a batch exported into it by the worker `pool`; `trained`: a trained model's export) and how many
export processes work at once (`workers`)."""

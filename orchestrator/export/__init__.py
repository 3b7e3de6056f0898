"""Step 2: static networks to on-device formats. A `Backend` descriptor per format (`backends`),
the exporters (`executorch`, `coreml`) and the content-addressed export cache (`cache`)."""

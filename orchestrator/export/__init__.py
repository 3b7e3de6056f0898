"""Step 2: static networks to on-device formats. A `Backend` descriptor per format (`backends`),
the exporters (`executorch`, `coreml`), the content-addressed export cache (`cache`) and how many
export processes work at once (`workers`)."""

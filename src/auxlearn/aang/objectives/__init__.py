"""AANG's objective space (Dery et al., ICLR 2023): auxiliary objectives generated as (input text, input
transform, attention pattern, output) instead of chosen among labelled tasks. ``space`` enumerates the legal
ones, ``transforms`` corrupts tokens, ``attention`` builds the encoder's attention masks."""

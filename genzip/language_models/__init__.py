"""Language models as predictors: Hugging Face causal LMs, SmolLM2 offline, the byte-level transformer."""

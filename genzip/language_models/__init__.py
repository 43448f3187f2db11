"""Language models as predictors: Hugging Face causal LMs (token and byte views), SmolLM2 offline, the byte transformer."""

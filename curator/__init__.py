"""curator: clean and curate instruction-tuning data by grounding it in source documents."""

__version__ = "0.2.0"

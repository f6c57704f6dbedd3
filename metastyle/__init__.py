"""MetaStyle reproducibility study: meta-learned initialisation for fast-adapting style transfer."""

__version__ = "0.1.0"

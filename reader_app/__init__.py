"""reader-app: a local-first desktop reading assistant for research papers."""

__version__ = "0.1.0"

"""The side panel and its Summary and Notes tabs."""

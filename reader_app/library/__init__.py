"""The paper library: the only package that speaks SQL."""

from .library import Library, default_library_dir

__all__ = ["Library", "default_library_dir"]

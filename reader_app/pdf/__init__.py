"""PDF layer: the only place that imports pymupdf.

Public API: ``extract_paper``, ``extract_paper_isolated``, ``sha256_file``.
"""

from reader_app.pdf.extract import extract_paper
from reader_app.pdf.isolated import extract_paper_isolated
from reader_app.pdf.opening import sha256_file

__all__ = ["extract_paper", "extract_paper_isolated", "sha256_file"]

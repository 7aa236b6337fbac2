"""The library table and what it does to papers: import, export, edit, remove."""

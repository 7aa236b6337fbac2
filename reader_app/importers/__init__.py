"""Importers from other reference managers: Zotero (``zotero``) and BibTeX files (``bib``)."""

"""The PDF view: pages, text selection and find, rendering off the GUI thread, highlights."""

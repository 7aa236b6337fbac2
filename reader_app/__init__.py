"""reader-app: a local-first desktop reading assistant for research papers."""

from pathlib import Path

__version__ = "0.1.0"


def resource_dir() -> Path:
    """Icons and other files from the top-level ``resources/`` folder.

    An installed wheel carries them as the package ``reader_app.resources``; a source
    checkout (editable install) has them beside the package.
    """
    here = Path(__file__).resolve().parent
    installed = here / "resources"
    return installed if installed.is_dir() else here.parent / "resources"


RESOURCES = resource_dir()

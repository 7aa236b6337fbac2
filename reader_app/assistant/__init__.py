
from reader_app.assistant.engines import open_engine  # noqa: F401

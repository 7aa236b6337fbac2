
from reader_app.llm.engines import open_engine  # noqa: F401

"""The model: engines (llama.cpp in this process or its own, an OpenAI-compatible server),
KV states and their caches, model files, the catalog and downloads.  The only package that
imports ``llama_cpp``."""

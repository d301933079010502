"""Model cards: the README.md beside each fine-tuned model says what was trained from what, how, and how well."""

from __future__ import annotations

import yaml

from nertransfer.analysis.card import metrics_table, model_card


def scores(f1: float, support: int = 3, **per_category) -> dict:
    return {"precision": f1, "recall": f1 / 2, "f1": f1, "support": support, "per_category": per_category}


SUMMARY = {"checkpoint": "tiny", "train_language": "hau", "checkpoint_path": "work/checkpoints/tiny",
           "train_file": "data/masakhaner-1.0/hau/train.txt", "hyperparameters": {"learning_rate": 5e-5, "epochs": 2}}
DEV = scores(0.5, 6, LOC=scores(0.25), PER=scores(0.75))
TEST = scores(0.123456, 9, LOC=scores(0.2), PER=scores(0.4, 5))


def test_the_metrics_table_has_a_row_per_category_then_overall_scores_x100_to_two_decimals():
    assert metrics_table(DEV) == (
        "| category | precision | recall | F1 | support |\n"
        "|---|---:|---:|---:|---:|\n"
        "| LOC | 25.00 | 12.50 | 25.00 | 3 |\n"
        "| PER | 75.00 | 37.50 | 75.00 | 3 |\n"
        "| overall | 50.00 | 25.00 | 50.00 | 6 |")


def test_a_card_names_the_start_the_data_the_settings_and_the_dev_scores():
    assert model_card(SUMMARY, DEV, None) == "\n".join([
        "---",
        "library_name: transformers",
        "pipeline_tag: token-classification",
        "tags: [ner, nertransfer]",
        "---",
        "# NER model: tiny fine-tuned on hau",
        "",
        "Fine-tuned with nertransfer from `work/checkpoints/tiny` on `data/masakhaner-1.0/hau/train.txt`. "
        "Load it with `AutoTokenizer` and `AutoModelForTokenClassification`.",
        "",
        "## Training settings",
        "",
        "- epochs: 2",  # sorted by name
        "- learning_rate: 5e-05",
        "",
        "## Dev set (conlleval convention, seqeval default mode)",
        "",
        metrics_table(DEV),
        ""])


def test_its_front_matter_is_the_hub_s_yaml_metadata():
    front = model_card(SUMMARY, DEV, None).split("---\n")[1]
    assert yaml.safe_load(front) == {"library_name": "transformers", "pipeline_tag": "token-classification",
                                     "tags": ["ner", "nertransfer"]}


def test_the_test_scores_follow_the_dev_scores_when_there_are_any():
    card = model_card(SUMMARY, DEV, TEST)
    assert card.endswith("\n".join(["## Dev set (conlleval convention, seqeval default mode)", "", metrics_table(DEV), "",
                                     "## Test set (conlleval convention, seqeval default mode)", "", metrics_table(TEST),
                                     ""]))
    assert "| overall | 12.35 | 6.17 | 12.35 | 9 |" in card


def test_a_downloaded_start_is_named_by_repository_commit_and_the_revision_asked_for():
    source = {"repo": "Davlan/afro-xlmr-mini", "revision": "main", "commit": "0123abc", "endpoint": "https://huggingface.co"}
    card = model_card({**SUMMARY, "checkpoint_source": source}, DEV, None)
    assert ("\n\nStarting checkpoint: `Davlan/afro-xlmr-mini` at commit `0123abc` (revision asked: `main`, from "
            "https://huggingface.co).\n\n## Training settings") in card
    assert "Starting checkpoint" not in model_card({**SUMMARY, "checkpoint_source": None}, DEV, None)


def test_a_cell_that_shares_a_fine_tune_says_whose_it_is():
    card = model_card({**SUMMARY, "checkpoint": "tiny-copy", "fine_tune_of": "tiny/hau/base/seed1"}, DEV, None)
    assert "# NER model: tiny-copy fine-tuned on hau" in card
    assert ("\n\nThe fine-tune of cell `tiny/hau/base/seed1`, which starts from the same files with the same data and "
            "settings.\n\n") in card
    assert "The fine-tune of cell" not in model_card(SUMMARY, DEV, None)


def test_a_summary_without_the_optional_fields_still_gives_a_card():
    card = model_card({"checkpoint_path": "/models/start"}, DEV, None)
    assert card.splitlines()[5] == "# NER model: /models/start fine-tuned on ?"
    assert card.endswith(metrics_table(DEV) + "\n")

"""Model cards: a README.md beside each fine-tuned model, with its settings and metrics tables."""

from __future__ import annotations

from typing import Any, Mapping


def metrics_table(scores: Mapping[str, Any]) -> str:
    """A Markdown table of precision, recall, F1 (x 100) and support, overall and per category."""
    rows = ["| category | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for name, values in [*scores["per_category"].items(), ("overall", scores)]:
        rows.append(
            f"| {name} | {100 * values['precision']:.2f} | {100 * values['recall']:.2f} | "
            f"{100 * values['f1']:.2f} | {values['support']} |"
        )
    return "\n".join(rows)


def model_card(summary: Mapping[str, Any], dev: Mapping[str, Any], test: Mapping[str, Any] | None) -> str:
    """The card's text: what was trained from what, how, and how well (conlleval convention)."""
    language = summary.get("train_language", "?")
    hp = summary.get("hyperparameters", {})
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: token-classification",
        "tags: [ner, nertransfer]",
        "---",
        f"# NER model: {summary.get('checkpoint', summary.get('checkpoint_path'))} fine-tuned on {language}",
        "",
        "Fine-tuned with nertransfer from `" + str(summary.get("checkpoint_path")) + "` on `"
        + str(summary.get("train_file")) + "`. Load it with `AutoTokenizer` and `AutoModelForTokenClassification`.",
        "",
        "## Training settings",
        "",
        *[f"- {key}: {value}" for key, value in sorted(hp.items())],
        "",
        "## Dev set (conlleval convention, seqeval default mode)",
        "",
        metrics_table(dev),
    ]
    if test is not None:
        lines += ["", "## Test set (conlleval convention, seqeval default mode)", "", metrics_table(test)]
    return "\n".join(lines) + "\n"

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
        *_source_lines(summary.get("checkpoint_source")),
        *(["", f"The fine-tune of cell `{summary['fine_tune_of']}`, which starts from the same files with the same "
           "data and settings."] if summary.get("fine_tune_of") else []),
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


def _source_lines(source: Mapping[str, Any] | None) -> list[str]:
    """Where a downloaded start came from: the repository, the revision asked for, and the commit it resolved to."""
    if not source:
        return []
    return ["", f"Starting checkpoint: `{source['repo']}` at commit `{source['commit']}` (revision asked: "
                f"`{source['revision']}`, from {source['endpoint']})."]

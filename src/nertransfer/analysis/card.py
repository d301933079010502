"""Model cards: a README.md beside each fine-tuned model, with its settings and metrics tables."""

from __future__ import annotations

from typing import Any, Mapping, Sequence


def metrics_table(scores: Mapping[str, Any]) -> str:
    """A Markdown table of precision, recall, F1 (x 100) and support, overall and per category."""
    rows = ["| category | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for name, values in [*scores["per_category"].items(), ("overall", scores)]:
        rows.append(
            f"| {name} | {100 * values['precision']:.2f} | {100 * values['recall']:.2f} | "
            f"{100 * values['f1']:.2f} | {values['support']} |"
        )
    return "\n".join(rows)


def model_card(summary: Mapping[str, Any], dev: Mapping[str, Any],
               test: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None) -> str:
    """The card's text: what was trained from what, how, and how well (conlleval convention). A training set's card
    shows the mean dev scores and each language's, and the test scores of each of its languages (`test`: a list)."""
    language = summary.get("train_language", "?")
    if summary.get("languages"):
        language += f" ({', '.join(summary['languages'])})"
    hp = summary.get("hyperparameters", {})
    adapter = hp.get("adapter")
    loading = ("Load it with `AutoTokenizer` and `AutoModelForTokenClassification`." if adapter is None else
               f"A {adapter['method']} adapter (peft): the starting checkpoint's weights are not in it and were not "
               "changed. Load it with `PeftModel.from_pretrained(AutoModelForTokenClassification.from_pretrained(base, "
               "num_labels=..., id2label=...), this_folder)`, the labels in order from `labels.json`; "
               "`adapter_config.json` names the base.")
    if adapter is not None and adapter["method"] == "madx":
        loading += (" A MAD-X task adapter: it was trained over the language adapter `language_adapter.json` names; "
                    "put a language's adapter under it with `model.load_adapter(folder, adapter_name=\"language\")` and "
                    "`model.base_model.set_adapter([\"default\", \"language\"])` (nertransfer.model.adapters).")
    lines = [
        "---",
        f"library_name: {'transformers' if adapter is None else 'peft'}",
        "pipeline_tag: token-classification",
        "tags: [ner, nertransfer]",
        "---",
        f"# NER model: {summary.get('checkpoint', summary.get('checkpoint_path'))} fine-tuned on {language}",
        "",
        "Fine-tuned with nertransfer from `" + str(summary.get("checkpoint_path")) + "` on "
        + ", ".join(f"`{path}`" for path in _listed(summary.get("train_file"))) + ". " + loading,
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
        *(["The mean over the training set's languages (each weighs alike), which selects among models; then each "
           "language's.", ""] if "languages" in dev else []),
        metrics_table(dev),
    ]
    for name, scores in dev.get("languages", {}).items():
        lines += ["", f"### Dev set: {name}", "", metrics_table(scores)]
    if isinstance(test, Mapping):
        lines += ["", "## Test set (conlleval convention, seqeval default mode)", "", metrics_table(test)]
    elif test:
        lines += ["", "## Test sets (conlleval convention, seqeval default mode)"]
        for scores in test:
            lines += ["", f"### Test set: {scores.get('eval_language', '?')}", "", metrics_table(scores)]
    return "\n".join(lines) + "\n"


def _listed(files: Any) -> list[str]:
    return [str(path) for path in files] if isinstance(files, list) else [str(files)]


def _source_lines(source: Mapping[str, Any] | None) -> list[str]:
    """Where a downloaded start came from: the repository, the revision asked for, and the commit it resolved to."""
    if not source:
        return []
    return ["", f"Starting checkpoint: `{source['repo']}` at commit `{source['commit']}` (revision asked: "
                f"`{source['revision']}`, from {source['endpoint']})."]

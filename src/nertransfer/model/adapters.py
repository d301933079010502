"""Parameter-efficient fine-tuning: a LoRA adapter (through peft) instead of every weight, and MAD-X.

A cell whose method is `lora` trains low-rank updates of the attention projections and the
classification head; the starting checkpoint's weights are frozen and never written. What is saved
is what peft writes and loads (`adapter_config.json`, `adapter_model.safetensors`: the LoRA matrices
and the head, via `modules_to_save`), with the tokenizer, the model card and the head's labels
(`labels.json`: the base checkpoint has no NER head, so `PeftModel.from_pretrained` needs them for
the base it loads). `adapter_config.json` names the base by the path training started from.

MAD-X (Pfeiffer et al., 2020) is built from the same parts: a language adapter per language (a LoRA
adapter trained with masked LM on the language's text by `nertransfer.model.adapt`), and a task
adapter (LoRA and the head) trained for NER over the training language's adapter, which stays
frozen. At evaluation the target language's adapter is swapped in under the same task adapter.
Both are active at once (peft adds their low-rank updates), where the paper stacks bottleneck
adapters one after the other: the recipe is MAD-X's, the adapter architecture LoRA's.

Why peft and not the `adapters` library (AdapterHub), which has MAD-X's own Pfeiffer adapters and
`Stack`: adapters 1.3.0 requires transformers ~= 4.57.6, and this project pins transformers 5.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from nertransfer.experiment.layout import LABELS

ADAPTER_CONFIG = "adapter_config.json"  # peft's own file name: a folder with it is an adapter, not a whole model
TASK, LANGUAGE = "default", "language"  # the adapters' names in a MAD-X model (peft saves "default" at the top)
TRAINED_OVER = "language_adapter.json"  # in a MAD-X task adapter's folder: the language adapter it was trained over


def is_adapter(path: str | Path) -> bool:
    return (Path(path) / ADAPTER_CONFIG).is_file()


def lora_config(settings: Mapping[str, Any], task: bool = True):
    """peft's LoraConfig of the method's (or a language adapter's) settings. `task`: a token-classification adapter,
    which trains and saves the head too."""
    from peft import LoraConfig, TaskType

    kind = {} if not task else ({"task_type": TaskType.TOKEN_CLS} if settings.get("method") != "madx"
                                else {"modules_to_save": ["classifier"]})  # MAD-X: a plain adapter, so that two load
    return LoraConfig(r=settings.get("rank", 8), lora_alpha=settings.get("alpha", 16),
                      lora_dropout=settings.get("dropout", 0.1), target_modules=settings.get("target_modules"), **kind)


def with_adapter(model, settings: Mapping[str, Any], language_adapter: str | None = None):
    """`model` wrapped by peft: a LoRA adapter (method lora), or a task adapter over the frozen `language_adapter`
    (method madx). Only the task adapter's matrices and the classification head train."""
    from peft import get_peft_model

    model = get_peft_model(model, lora_config(settings))
    if settings["method"] == "madx":
        if language_adapter is None:
            raise ValueError("a MAD-X fine-tune needs its training language's language adapter (--language-adapter)")
        swap_language_adapter(model, language_adapter)
        model.train()
    return model


def swap_language_adapter(model, folder: str | Path) -> None:
    """Put a language adapter under a MAD-X model's task adapter (replacing the one it has), frozen."""
    if LANGUAGE in model.peft_config:
        model.delete_adapter(LANGUAGE)
    model.load_adapter(str(folder), adapter_name=LANGUAGE, is_trainable=False)
    model.base_model.set_adapter([TASK, LANGUAGE])  # both active: the task adapter over the language adapter
    for name, parameter in model.named_parameters():  # set_adapter makes every active adapter trainable
        if f".{LANGUAGE}." in name:
            parameter.requires_grad_(False)


def save_adapter(model, folder: Path, language_adapter: str | None = None) -> None:
    """peft's files (the task adapter only) and the head's labels, so that the adapter loads on its base with nothing
    else; a MAD-X task adapter also names the language adapter it was trained over."""
    model.save_pretrained(folder, selected_adapters=[TASK])
    labels = [model.config.id2label[i] for i in range(model.config.num_labels)]
    (folder / LABELS).write_text(json.dumps(labels) + "\n", encoding="utf-8")
    if language_adapter is not None:
        (folder / TRAINED_OVER).write_text(json.dumps({"language_adapter": str(language_adapter)}) + "\n", encoding="utf-8")


def base_of(folder: str | Path) -> str:
    """The checkpoint an adapter was trained on, as its adapter_config.json names it."""
    return json.loads((Path(folder) / ADAPTER_CONFIG).read_text(encoding="utf-8"))["base_model_name_or_path"]


def load_adapter_model(folder: str | Path, load_base, dtype, language_adapter: str | None = None) -> Any:
    """The base (`load_base(path, labels, dtype)` -> a token-classification model) with the adapter on it, as
    `PeftModel.from_pretrained` loads it; a MAD-X task adapter over `language_adapter` (default: the one it was
    trained over)."""
    from peft import PeftModel

    folder = Path(folder)
    labels: Sequence[str] = json.loads((folder / LABELS).read_text(encoding="utf-8"))
    model = PeftModel.from_pretrained(load_base(base_of(folder), labels, dtype), str(folder))
    if (folder / TRAINED_OVER).exists():
        trained_over = json.loads((folder / TRAINED_OVER).read_text(encoding="utf-8"))["language_adapter"]
        swap_language_adapter(model, language_adapter or trained_over)
    elif language_adapter is not None:
        raise ValueError(f"{folder} is not a MAD-X task adapter: it takes no language adapter")
    return model


def trainable_state(model) -> dict:
    """What a resumable state keeps of a model: all its weights, or an adapter's own (a few MB, not the base's GBs)."""
    from peft import PeftModel, get_peft_model_state_dict

    return get_peft_model_state_dict(model) if isinstance(model, PeftModel) else model.state_dict()


def load_trainable_state(model, state: Mapping[str, Any]) -> None:
    from peft import PeftModel, set_peft_model_state_dict

    if isinstance(model, PeftModel):
        set_peft_model_state_dict(model, state)
    else:
        model.load_state_dict(state)

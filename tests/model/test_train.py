"""Fine-tuning a cell: its outputs, reproducibility, and resuming after a kill."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections import Counter

import pytest

from conftest import TINY_TRAINING, TYPES, fine_tune, stopped_after_first_epoch, train_command

TIMING = ("seconds", "train_tokens_per_second")


def without_timing(epochs_file):
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in epochs_file.read_text().splitlines()]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_checkpoint, mini_corpus):
    output = tmp_path_factory.mktemp("run") / "train"
    fine_tune(tiny_checkpoint, mini_corpus, TINY_TRAINING, output,
              cell={"checkpoint": "tiny", "train_language": "hau", "seed": 1})
    return output


def test_a_cell_writes_model_epochs_metrics_config_and_card(trained):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    model = AutoModelForTokenClassification.from_pretrained(trained / "model")
    AutoTokenizer.from_pretrained(trained / "model")
    assert (trained / "model" / "model.safetensors").exists()
    assert model.config.id2label[0] == "O" and len(model.config.id2label) == 9
    epochs = [json.loads(line) for line in (trained / "epochs.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert {"train_loss", "train_tokens_per_second", "dev_precision", "dev_recall", "dev_f1", "seconds"} <= set(epochs[0])
    dev = json.loads((trained / "dev_metrics.json").read_text())
    assert dev["f1"] == epochs[-1]["dev_f1"] and set(dev["per_category"]) == set(TYPES)
    config = json.loads((trained / "train_config.json").read_text())
    assert config["hyperparameters"].items() >= TINY_TRAINING.items() and config["train_language"] == "hau"
    assert config["hyperparameters"]["precision"] == "auto"  # the package's defaults fill what a caller leaves out
    card = (trained / "model" / "README.md").read_text()
    assert "| overall |" in card and "learning_rate: 0.005" in card
    assert not (trained.parent / "train.state" / "resume.pt").exists()  # removed once the cell is done


def test_the_same_cell_trained_twice_gives_the_same_metrics(trained, tmp_path, tiny_checkpoint, mini_corpus):
    again = fine_tune(tiny_checkpoint, mini_corpus, TINY_TRAINING, tmp_path / "train")
    assert again == json.loads((trained / "dev_metrics.json").read_text())
    assert (tmp_path / "train" / "epochs.jsonl").read_text() != ""
    assert without_timing(trained / "epochs.jsonl") == without_timing(tmp_path / "train" / "epochs.jsonl")


def test_a_killed_fine_tune_resumes_from_its_last_epoch_with_the_same_result(tmp_path, tiny_checkpoint, mini_corpus):
    hp = {**TINY_TRAINING, "epochs": 4}
    args = [sys.executable, "-m", "nertransfer", "train", "--checkpoint", str(tiny_checkpoint),
            "--train", str(mini_corpus / "hau" / "train.txt"), "--dev", str(mini_corpus / "hau" / "dev.txt"),
            "--hyperparameters", json.dumps(hp), "--threads", "1"]
    subprocess.run([*args, "--output", str(tmp_path / "whole")], check=True, capture_output=True)

    state = tmp_path / "cut.state" / "resume.pt"
    job = subprocess.Popen([*args, "--output", str(tmp_path / "cut")],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    epochs_seen = 0
    for line in job.stdout:  # kill the job as soon as its first epoch is saved
        epochs_seen += line.startswith('{"epoch"')
        if epochs_seen and state.exists():
            job.send_signal(signal.SIGKILL)
            break
    job.wait()
    assert not (tmp_path / "cut").exists()  # a killed job leaves no output that looks complete
    resumed = subprocess.run([*args, "--output", str(tmp_path / "cut")], check=True, capture_output=True, text=True).stdout
    assert "resuming after epoch" in resumed
    redone = [json.loads(line)["epoch"] for line in resumed.splitlines() if line.startswith('{"epoch"')]
    assert redone and redone[0] >= 2  # epoch 1 was not trained again
    assert without_timing(tmp_path / "cut" / "epochs.jsonl") == without_timing(tmp_path / "whole" / "epochs.jsonl")
    assert (tmp_path / "cut" / "dev_metrics.json").read_text() == (tmp_path / "whole" / "dev_metrics.json").read_text()


def test_a_fine_tune_told_to_stop_saves_its_state_and_resumes_from_it(tmp_path, tiny_checkpoint, mini_corpus):
    """SIGTERM / SIGUSR2 (Slurm before preemption): finish the epoch, save the state, exit; also when
    time-based saving would not have saved yet."""
    args = train_command(tiny_checkpoint, mini_corpus, {**TINY_TRAINING, "epochs": 4}, tmp_path / "run")
    err = stopped_after_first_epoch(args)
    assert (tmp_path / "run.state" / "resume.pt").exists() and not (tmp_path / "run").exists()
    resumed = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    stopped_after = int(err.split("after epoch ")[1].split(";")[0])
    assert f"resuming after epoch {stopped_after}" in resumed
    epochs = [json.loads(line)["epoch"] for line in (tmp_path / "run" / "epochs.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3, 4]


def test_time_based_state_saving_skips_the_per_epoch_save(tmp_path, tiny_checkpoint, mini_corpus, monkeypatch):
    import torch

    saved = []
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda obj, path, *a, **k: (saved.append(obj["epoch"]), real_save(obj, path, *a, **k)))
    hp = {**TINY_TRAINING, "epochs": 3}
    fine_tune(tiny_checkpoint, mini_corpus, hp, tmp_path / "every", save_state_every_seconds=0)
    assert saved == [0, 1]  # after every epoch but the last (the finished model is the output)
    saved.clear()
    fine_tune(tiny_checkpoint, mini_corpus, hp, tmp_path / "rarely", save_state_every_seconds=3600)
    assert saved == []


# Recorded before the speed work of issue 5 (CPU, fp32): every speed change must leave these as they are.
PINNED_LOSSES = [1.7494285106658936, 0.6202008128166199, 0.5816192626953125, 0.5818579792976379,
                 0.5707956552505493, 0.5446270108222961, 0.5183793306350708, 0.4496791660785675]


def test_the_tiny_models_results_are_pinned_for_a_fixed_seed_on_cpu(tmp_path, tiny_checkpoint, mini_corpus):
    dev = fine_tune(tiny_checkpoint, mini_corpus, {**TINY_TRAINING, "epochs": 8, "learning_rate": 1e-2}, tmp_path / "run")
    losses = [json.loads(line)["train_loss"] for line in (tmp_path / "run" / "epochs.jsonl").read_text().splitlines()]
    assert losses == pytest.approx(PINNED_LOSSES, rel=1e-5)
    assert (dev["support"], dev["predicted"], dev["correct"]) == (63, 5, 0)


def test_gradient_accumulation_and_eval_every_and_half_precision_storage(tmp_path, tiny_checkpoint, mini_corpus):
    from safetensors import safe_open

    hp = {**TINY_TRAINING, "epochs": 3, "gradient_accumulation_steps": 2, "eval_every": 2, "save_dtype": "bfloat16"}
    fine_tune(tiny_checkpoint, mini_corpus, hp, tmp_path / "records", model_output=tmp_path / "model")
    epochs = [json.loads(line) for line in (tmp_path / "records" / "epochs.jsonl").read_text().splitlines()]
    assert ["dev_f1" in e for e in epochs] == [False, True, True]  # every 2nd epoch, and the last
    with safe_open(tmp_path / "model" / "model.safetensors", "pt") as weights:
        assert {str(weights.get_tensor(k).dtype) for k in weights.keys()} == {"torch.bfloat16"}  # noqa: SIM118 (a safe_open, not a dict)
    assert not (tmp_path / "records" / "model").exists()


def test_a_training_size_is_the_start_of_a_shuffle_fixed_by_the_seed():
    from nertransfer.model.train import training_subset

    sentences = list(range(100))
    small, large = training_subset(sentences, 10, seed=1), training_subset(sentences, 0.5, seed=1)
    assert len(small) == 10 and len(large) == 50 and set(small) <= set(large)  # nested: a learning curve
    assert small == training_subset(sentences, 10, seed=1) != training_subset(sentences, 10, seed=2)
    assert small == sorted(small)  # the file's order is kept
    assert training_subset(sentences, None, seed=1) == sentences and len(training_subset(sentences, 500, seed=1)) == 100


def test_a_label_set_trains_a_model_on_the_kept_types_only(tmp_path, tiny_checkpoint, mini_corpus):
    dev = fine_tune(tiny_checkpoint, mini_corpus, {**TINY_TRAINING, "epochs": 1, "train_size": 20}, tmp_path / "run",
                    keep=["PER"])
    config = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert sorted(config["id2label"].values()) == ["B-PER", "I-PER", "O"]
    assert set(dev["per_category"]) <= {"PER"}
    assert json.loads((tmp_path / "run" / "train_config.json").read_text())["train_sentences"] == 20


def test_a_dropout_is_trained_with_and_recorded_while_the_default_leaves_the_checkpoint_s_own(tmp_path, tiny_checkpoint,
                                                                                           mini_corpus):
    import json

    base = {**TINY_TRAINING, "epochs": 1, "train_size": 20}
    fine_tune(tiny_checkpoint, mini_corpus, {**base, "dropout": 0.3}, tmp_path / "heavy")
    fine_tune(tiny_checkpoint, mini_corpus, base, tmp_path / "own")
    heavy, own = (json.loads((tmp_path / run / "model" / "config.json").read_text()) for run in ("heavy", "own"))
    assert (heavy["hidden_dropout_prob"], heavy["attention_probs_dropout_prob"]) == (0.3, 0.3)
    assert (own["hidden_dropout_prob"], own["attention_probs_dropout_prob"]) == (0.1, 0.1)  # the recipe's, as XLM-R's
    settings = [json.loads((tmp_path / run / "train_config.json").read_text())["hyperparameters"] for run in ("heavy", "own")]
    assert settings[0]["dropout"] == 0.3 and "dropout" not in settings[1]  # a setting at its default is not recorded


def test_frozen_word_embeddings_stay_as_they_start_while_the_rest_learns(tmp_path, tiny_checkpoint, mini_corpus):
    """`freeze_embeddings`: for a 250k-piece vocabulary the embedding's AdamW state is most of the optimizer's memory."""
    from safetensors.torch import load_file

    base = {**TINY_TRAINING, "epochs": 1, "train_size": 20}
    fine_tune(tiny_checkpoint, mini_corpus, {**base, "freeze_embeddings": True}, tmp_path / "frozen")
    fine_tune(tiny_checkpoint, mini_corpus, base, tmp_path / "trained")
    start = load_file(tiny_checkpoint / "model.safetensors")
    frozen, trained = (load_file(tmp_path / run / "model" / "model.safetensors") for run in ("frozen", "trained"))
    words, layer = "roberta.embeddings.word_embeddings.weight", "roberta.encoder.layer.0.output.dense.weight"
    assert frozen[words].equal(start[words]) and not trained[words].equal(start[words])
    assert not frozen[layer].equal(start[layer])
    settings = [json.loads((tmp_path / run / "train_config.json").read_text())["hyperparameters"]
                for run in ("frozen", "trained")]
    assert settings[0]["freeze_embeddings"] is True and "freeze_embeddings" not in settings[1]


def test_a_saved_state_is_not_resumed_for_another_label_set_or_a_rebuilt_start(tmp_path, tiny_checkpoint, mini_corpus):
    """The state of an interrupted run is reused only for the same settings, label set and starting files."""
    hp = {**TINY_TRAINING, "epochs": 3}
    args = [sys.executable, "-m", "nertransfer", "train", "--checkpoint", str(tiny_checkpoint),
            "--train", str(mini_corpus / "hau" / "train.txt"), "--dev", str(mini_corpus / "hau" / "dev.txt"),
            "--hyperparameters", json.dumps(hp), "--threads", "1", "--output", str(tmp_path / "run")]
    job = subprocess.Popen([*args, "--keep-types", "PER"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in job.stdout:
        if line.startswith('{"epoch": 1'):
            job.send_signal(signal.SIGUSR2)
            break
    job.communicate()
    assert (tmp_path / "run.state" / "resume.pt").exists()
    other = subprocess.run([*args, "--keep-types", "LOC", "PER"], check=True, capture_output=True, text=True).stdout
    assert "resuming" not in other  # 5 labels now, not the 3 of the saved head
    labels = json.loads((tmp_path / "run" / "model" / "config.json").read_text())["id2label"].values()
    assert sorted(labels) == ["B-LOC", "B-PER", "I-LOC", "I-PER", "O"]


def test_a_cell_is_trained_by_one_process_at_a_time_and_a_dead_holder_blocks_nothing(tmp_path, tiny_checkpoint, mini_corpus):
    """Two jobs for one cell (an orphan a scheduler lost track of, and its replacement) never write its state at once."""
    args = [sys.executable, "-m", "nertransfer", "train", "--checkpoint", str(tiny_checkpoint),
            "--train", str(mini_corpus / "hau" / "train.txt"), "--dev", str(mini_corpus / "hau" / "dev.txt"),
            "--hyperparameters", json.dumps({**TINY_TRAINING, "epochs": 200}), "--threads", "1",
            "--output", str(tmp_path / "run")]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert first.stdout.readline().startswith('{"epoch": 1')
        second = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert f"the resumable state of {tmp_path / 'run'} is in use by pid {first.pid} on " in second.stderr, second.stderr
        assert first.poll() is None  # the first goes on
    finally:
        first.kill()
        first.wait()
    third = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # kill -9 freed the lock
    try:
        assert "resuming after epoch" in third.stdout.readline()
    finally:
        third.kill()
        third.wait()


# -- what a fine-tune read is what its records say --------------------------------------------------

def test_a_finished_fine_tune_records_the_content_it_read_and_leaves_no_state_folder(trained, tiny_checkpoint, mini_corpus):
    from nertransfer.data.fingerprints import sha256_of

    config = json.loads((trained / "train_config.json").read_text())
    assert config["train_sha256"] == sha256_of(mini_corpus / "hau" / "train.txt")
    assert config["dev_sha256"] == sha256_of(mini_corpus / "hau" / "dev.txt")
    assert config["checkpoint_sha256"] == sha256_of(tiny_checkpoint)
    assert (trained / config["checkpoint_from_records"]).resolve() == tiny_checkpoint.resolve()
    assert not (trained.parent / "train.state").exists()  # its lock file included


def copy_corpus(source, target):
    shutil.copytree(source, target)
    return target


def test_a_training_file_edited_while_its_fine_tune_runs_fails_it_naming_the_file(tmp_path, tiny_checkpoint, mini_corpus):
    """File times cannot show it (the model is newer than the edit): the job compares contents at its end."""
    corpus = copy_corpus(mini_corpus, tmp_path / "corpus")
    args = [sys.executable, "-m", "nertransfer", "train", "--checkpoint", str(tiny_checkpoint),
            "--train", str(corpus / "hau" / "train.txt"), "--dev", str(corpus / "hau" / "dev.txt"),
            "--hyperparameters", json.dumps({**TINY_TRAINING, "epochs": 4}), "--threads", "1", "--output", str(tmp_path / "run")]
    job = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert job.stdout.readline().startswith('{"epoch": 1')
    train = corpus / "hau" / "train.txt"
    train.write_text(train.read_text().replace("B-PER", "O").replace("I-PER", "O"))
    out, err = job.communicate(timeout=120)
    assert job.returncode != 0
    assert f"{train} (train) changed while this fine-tune ran" in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()  # no model of the old text under the new one's name
    again = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    assert "resuming" not in again  # the state saved from the old text is not resumed either


def test_a_data_file_that_is_not_what_the_workflow_planned_fails_the_fine_tune_at_once(tmp_path, tiny_checkpoint, mini_corpus):
    planned = {"train": "0" * 64}
    result = subprocess.run([sys.executable, "-m", "nertransfer", "train", "--checkpoint", str(tiny_checkpoint),
                             "--train", str(mini_corpus / "hau" / "train.txt"), "--dev", str(mini_corpus / "hau" / "dev.txt"),
                             "--hyperparameters", json.dumps(TINY_TRAINING), "--output", str(tmp_path / "run"),
                             "--inputs-sha256", json.dumps(planned)], capture_output=True, text=True)
    assert result.returncode != 0 and "(train) changed after the workflow planned this job" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and '{"epoch"' not in result.stdout


def test_a_stop_in_the_last_epoch_keeps_the_state_and_the_rerun_writes_the_outputs_without_training(
        tmp_path, tiny_checkpoint, mini_corpus, monkeypatch, capsys):
    """A Ctrl-C that reaches a fine-tune in its last epoch: it writes its outputs, but the interrupted run never
    records them as complete, so the next run makes them again; it resumes after the last epoch, not from scratch."""
    import os

    import nertransfer.model.train as training

    real = training._train_epoch

    def stopped_in_the_last_epoch(run, settings, epoch):
        record = real(run, settings, epoch)
        if epoch + 1 == settings.epochs:
            os.kill(os.getpid(), signal.SIGTERM)  # recorded by the fine-tune's handler, as Ctrl-C's SIGTERM is
        return record

    monkeypatch.setattr(training, "_train_epoch", stopped_in_the_last_epoch)
    first = fine_tune(tiny_checkpoint, mini_corpus, TINY_TRAINING, tmp_path / "run")
    state = tmp_path / "run.state"
    summary = json.loads((state / "state.json").read_text())
    assert (state / "resume.pt").exists() and (summary["epoch"], summary["of"]) == (2, 2) and "train_sha256" in summary
    shutil.rmtree(tmp_path / "run")  # what Snakemake does with outputs marked incomplete before making them again
    monkeypatch.undo()
    capsys.readouterr()
    again = fine_tune(tiny_checkpoint, mini_corpus, TINY_TRAINING, tmp_path / "run")
    printed = capsys.readouterr().out
    assert "resuming after epoch 2" in printed and '{"epoch"' not in printed  # no epoch trained again
    assert again == first and [json.loads(line)["epoch"]
                               for line in (tmp_path / "run" / "epochs.jsonl").read_text().splitlines()] == [1, 2]
    assert not state.exists()


def test_a_full_disk_at_a_state_save_is_one_line_and_leaves_no_partial_file(tmp_path, tiny_checkpoint, mini_corpus):
    """The save is written to /dev/full (ENOSPC on every write), as a disk that filled up during the run."""
    state = tmp_path / "run.state"
    state.mkdir()
    (state / "resume.partial").symlink_to("/dev/full")
    result = subprocess.run([sys.executable, "-m", "nertransfer", "train", "--checkpoint", str(tiny_checkpoint),
                             "--train", str(mini_corpus / "hau" / "train.txt"), "--dev", str(mini_corpus / "hau" / "dev.txt"),
                             "--hyperparameters", json.dumps({**TINY_TRAINING, "epochs": 3}), "--output", str(tmp_path / "run")],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert (f"nertransfer train: error: the resumable state after epoch 1 could not be saved in {state / 'resume.pt'}"
            in result.stderr and "free some room and run again" in result.stderr), result.stderr
    assert not (state / "resume.partial").exists() and not (state / "state.json").exists()
    assert not (tmp_path / "run").exists()


def test_a_training_set_trains_on_the_union_of_its_languages_and_selects_on_their_mean_dev_f1(tmp_path, tiny_checkpoint,
                                                                                            mini_corpus):
    from nertransfer.analysis.card import model_card
    from nertransfer.model.train import FineTune, TrainingSettings, train

    files = {split: [str(mini_corpus / language / f"{split}.txt") for language in ("hau", "luo")] for split in ("train", "dev")}
    job = FineTune(str(tiny_checkpoint), files["train"], files["dev"], TYPES, tmp_path / "set", languages=["hau", "luo"],
                   cell={"checkpoint": "tiny", "train_language": "hau+luo", "seed": 1})
    dev = train(job, TrainingSettings.from_mapping({**TINY_TRAINING, "epochs": 1}))
    assert set(dev["languages"]) == {"hau", "luo"}
    assert dev["f1"] == pytest.approx((dev["languages"]["hau"]["f1"] + dev["languages"]["luo"]["f1"]) / 2)  # macro mean
    assert dev["support"] == dev["languages"]["hau"]["support"] + dev["languages"]["luo"]["support"]
    hau_only = fine_tune(tiny_checkpoint, mini_corpus, {**TINY_TRAINING, "epochs": 1}, tmp_path / "hau")
    assert dev["languages"]["hau"]["support"] == hau_only["support"]  # each language scored on its own dev set
    config = json.loads((tmp_path / "set" / "train_config.json").read_text())
    assert config["languages"] == ["hau", "luo"] and config["train_sentences"] == 160  # 80 + 80
    assert {"train.hau_sha256", "train.luo_sha256", "dev.hau_sha256", "dev.luo_sha256"} <= set(config)
    card = (tmp_path / "set" / "model" / "README.md").read_text()
    assert "fine-tuned on hau+luo (hau, luo)" in card and "### Dev set: luo" in card
    tests = [{**dev["languages"][language], "eval_language": language} for language in ("hau", "luo")]
    assert "### Test set: luo" in model_card(config, dev, tests)


def test_the_union_of_a_training_set_is_exactly_its_languages_sentences(tiny_checkpoint, mini_corpus):
    from transformers import AutoTokenizer

    from nertransfer.data.conll import read_conll
    from nertransfer.model.train import labelled_windows

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoint)
    files = [str(mini_corpus / language / "train.txt") for language in ("hau", "luo")]
    sources: list[int] = []
    windows, labels = labelled_windows(tokenizer, files, TYPES, 64, sources=sources)
    expected = [s.tokens for path in files for s in read_conll(path, TYPES)]
    seen = {}
    for window in windows:  # a long sentence is several windows: each word once
        seen.setdefault(window.sentence, []).extend(range(window.first_word, window.first_word + len(window.word_starts)))
    assert sorted(seen) == list(range(len(expected)))
    assert all(words == list(range(len(expected[i]))) for i, words in seen.items())
    assert Counter(sources) == {0: sum(w.sentence < 80 for w in windows), 1: sum(w.sentence >= 80 for w in windows)}
    subset = labelled_windows(tokenizer, files, TYPES, 64, size=50, seed=3, sources=(picked := []))
    assert len({w.sentence for w in subset[0]}) == 50 and set(picked) == {0, 1}  # a training size draws from the union
    assert labelled_windows(tokenizer, files, TYPES, 64, size=50, seed=3)[1] == subset[1]  # fixed by the seed


def test_language_sampling_changes_what_an_epoch_trains_on_and_is_recorded(tmp_path, tiny_checkpoint, mini_corpus):
    from nertransfer.model.train import FineTune, TrainingSettings, train

    big = tmp_path / "corpus"
    shutil.copytree(mini_corpus, big)
    (big / "luo" / "train.txt").write_text("\n\n".join((mini_corpus / "luo" / "train.txt").read_text().split("\n\n")[:10]) + "\n")
    files = {split: [str(big / language / f"{split}.txt") for language in ("hau", "luo")] for split in ("train", "dev")}

    def run(name: str, **settings) -> list:
        job = FineTune(str(tiny_checkpoint), files["train"], files["dev"], TYPES, tmp_path / name, languages=["hau", "luo"])
        train(job, TrainingSettings.from_mapping({**TINY_TRAINING, "epochs": 1, **settings}))
        return [json.loads(line)["train_loss"] for line in (tmp_path / name / "epochs.jsonl").read_text().splitlines()]

    assert run("concatenated") != run("sampled", sampling_alpha=0.2)
    config = json.loads((tmp_path / "sampled" / "train_config.json").read_text())
    assert config["hyperparameters"]["sampling_alpha"] == 0.2
    assert "sampling_alpha" not in json.loads((tmp_path / "concatenated" / "train_config.json").read_text())["hyperparameters"]

"""The real Snakemake workflow on a reduced matrix: it runs, and reruns only invalidated cells.

One real run (2 checkpoints x 2 languages x 1 seed, a tiny recipe, 1 epoch, real MasakhaNER
sentences) is shared by the module; each test copies it (timestamps and Snakemake's metadata
included), changes one thing and reads Snakemake's own dry-run plan.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import CONFIG, REPO, counts, make_mini_corpus, plan, set_config, snakemake, snakemake_command

pytestmark = pytest.mark.slow

@pytest.fixture
def copy(local_run, tmp_path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(local_run, target, symlinks=True)  # copy2 keeps modification times
    return target


def test_the_run_writes_every_table_and_a_model_card_per_cell(local_run):
    finished = local_run
    import pandas as pd

    table = pd.read_csv(finished / "results" / "zero_shot.csv", index_col=[0, 1])
    assert table.shape == (4, 2) and list(table.columns) == ["hau", "luo"]
    assert set(table.index) == {(c, language) for c in ("mini", "mini-b") for language in ("hau", "luo")}
    for name in ("zero_shot.md", "zero_shot.tex", "zero_shot.png", "zero_shot_PER.csv", "in_language.md"):
        assert (finished / "results" / name).stat().st_size > 0
    card = (finished / "work" / "runs" / "mini" / "luo" / "base" / "seed1" / "README.md").read_text()
    assert "## Dev set" in card and "## Test set" in card
    assert (finished / "work" / "runs" / "mini" / "luo" / "base" / "seed1" / "model" / "model.safetensors").exists()


def test_a_second_run_does_nothing(copy):
    assert plan(copy) == []


def test_editing_a_test_file_reruns_only_the_evaluations_on_that_language(copy):
    test = copy / "data" / "luo" / "test.txt"
    test.write_text(test.read_text() + "\nJii O\n")
    jobs = plan(copy)
    assert counts(jobs) == Counter({"evaluate": 4, "card": 2, "tables": 1})
    assert all("language=luo" in w for r, w in jobs if r == "evaluate")


def test_editing_a_training_file_reruns_only_that_languages_fine_tunes(copy):
    train = copy / "data" / "hau" / "train.txt"
    train.write_text(train.read_text() + "\nAbuja B-LOC\n")
    jobs = plan(copy)
    assert counts(jobs) == Counter({"train": 2, "evaluate": 4, "card": 2, "tables": 1})
    assert all("/hau/" in w for r, w in jobs if r in ("train", "evaluate", "card"))


def test_adding_a_seed_adds_only_the_new_cells(copy):
    set_config(copy, {**CONFIG, "experiment": {**CONFIG["experiment"], "seeds": [1, 2]}})
    jobs = plan(copy)
    assert counts(jobs) == Counter({"train": 4, "evaluate": 8, "card": 4, "tables": 1})
    assert all("seed=2" in w for r, w in jobs if r in ("train", "evaluate", "card"))


def test_adding_a_checkpoint_adds_only_its_cells(copy):
    mini_c = yaml.safe_load(yaml.safe_dump(CONFIG["checkpoints"]["mini-b"]))
    mini_c["recipe"]["seed"] = 2  # another start
    config = {**CONFIG, "checkpoints": {**CONFIG["checkpoints"], "mini-c": mini_c}}
    config["experiment"] = {**CONFIG["experiment"], "checkpoints": ["mini", "mini-b", "mini-c"]}
    set_config(copy, config)
    jobs = plan(copy)
    assert counts(jobs) == Counter({"build_recipe": 1, "train": 2, "evaluate": 4, "card": 2, "tables": 1})
    assert all("mini-c" in w for r, w in jobs if r not in ("tables", "all"))


def test_a_checkpoint_identical_to_another_shares_its_fine_tunes_and_evaluations(copy):
    config = {**CONFIG, "checkpoints": {**CONFIG["checkpoints"], "mini-c": CONFIG["checkpoints"]["mini-b"]}}
    config["experiment"] = {**CONFIG["experiment"], "checkpoints": ["mini", "mini-b", "mini-c"]}
    set_config(copy, config)
    jobs = plan(copy)
    assert counts(jobs) == Counter({"share_fine_tune": 2, "share_evaluation": 4, "card": 2, "tables": 1})
    assert all("mini-c" in w for r, w in jobs if r not in ("tables", "all"))


def test_changing_one_checkpoints_hyperparameter_reruns_only_its_cells(copy):
    config = yaml.safe_load(yaml.safe_dump(CONFIG))
    config["checkpoints"]["mini-b"]["training"]["learning_rate"] = 0.001
    set_config(copy, config)
    jobs = plan(copy)
    assert counts(jobs) == Counter({"train": 2, "evaluate": 4, "card": 2, "tables": 1})
    assert all("row=mini-b/" in w for r, w in jobs if r in ("train", "evaluate", "card"))


def test_a_killed_run_leaves_no_output_taken_as_complete(copy):
    config = yaml.safe_load(yaml.safe_dump(CONFIG))
    config["checkpoints"]["mini"]["training"]["epochs"] = 500  # long enough to be killed mid-way
    set_config(copy, config)
    run = subprocess.Popen(snakemake_command(copy, "-j1", "results/zero_shot.csv"), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    logs = copy / "work" / "logs" / "train" / "mini"
    deadline = time.time() + 120
    while time.time() < deadline and not any('"epoch": 2' in p.read_text() for p in logs.glob("*/base/seed1.log")):
        time.sleep(0.2)
    log = next(p for p in logs.glob("*/base/seed1.log") if '"epoch": 2' in p.read_text())
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    time.sleep(1.0)
    size = log.stat().st_size
    time.sleep(2.0)
    assert log.stat().st_size == size  # the job's work stopped with it
    row = f"mini/{log.parent.parent.name}/base"
    assert not (copy / "work" / "runs" / row / "seed1" / "train").exists()
    assert ("train", f"row={row}, seed=1") in plan(copy, "--rerun-incomplete")


def wait_for(condition, seconds: float, what: str):
    deadline = time.time() + seconds
    while time.time() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"waited {seconds} s for {what}")


@pytest.mark.parametrize("warm_start", [True, False])
def test_interrupting_snakemake_alone_stops_its_jobs_and_the_rerun_resumes(copy, warm_start):
    """SIGINT to the Snakemake process only (not its process group): the fine-tune in flight stops too,
    after saving its state, and the next run resumes it instead of training from scratch."""
    config = yaml.safe_load(yaml.safe_dump(CONFIG))
    config["checkpoints"]["mini"]["training"]["epochs"] = 500
    config["experiment"].update(checkpoints=["mini"], train_languages=["hau"])
    config["warm_start"] = warm_start
    config["save_state_every_seconds"] = 3600  # only the stop request saves the state
    set_config(copy, config)
    log = copy / "work" / "logs" / "train" / "mini" / "hau" / "base" / "seed1.log"
    state = copy / "work" / "runs" / "mini" / "hau" / "base" / "seed1" / "train.state" / "resume.pt"
    run = subprocess.Popen(snakemake_command(copy, "-j1", "results/zero_shot.csv"), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_for(lambda: log.exists() and '"epoch": 2,' in log.read_text(), 120, "epoch 2")
        run.send_signal(signal.SIGINT)  # to Snakemake alone
        output, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert "stopped by signal 15" in log.read_text(), log.read_text()[-2000:] + output[-2000:]
    assert state.exists()
    # at once, not after a log-age window: nothing runs, and the saved state's own epoch is named
    shown = subprocess.run([sys.executable, "-m", "nertransfer", "status", "--configfile", str(copy / "config.yaml"), "-d",
                            str(copy), "--csv", "-"], capture_output=True, text=True).stdout
    saved = json.loads(state.with_name("state.json").read_text())["epoch"]
    assert f"failed,stopped after epoch {saved}; resumes after epoch {saved} (its saved state)" in shown, shown
    size = log.stat().st_size
    time.sleep(1.5)
    assert log.stat().st_size == size  # nothing trains on
    rerun = subprocess.Popen(snakemake_command(copy, "-j1", "results/zero_shot.csv"), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        resumed = wait_for(lambda: log.exists() and re.search(r"resuming after epoch (\d+)", log.read_text()), 120, "the resume")
        assert int(resumed.group(1)) >= 2
    finally:
        os.killpg(rerun.pid, signal.SIGKILL)
        rerun.wait()


def test_bad_input_fails_before_any_job_naming_file_and_line_and_keeps_earlier_results(copy):
    before = (copy / "results" / "zero_shot.csv").read_bytes()
    test = copy / "data" / "luo" / "test.txt"
    lines = test.read_text().splitlines()
    lines[2] = lines[2].split(" ")[0] + " B-MISC"
    test.write_text("\n".join(lines) + "\n")
    result = snakemake(copy, "-j2", "--keep-going", "results/zero_shot.csv", check=False)
    assert result.returncode != 0
    assert ("data/luo/test.txt:3: expected a tag over the types DATE, LOC, ORG, PER, got 'B-MISC' (checked before any "
            "job starts)") in result.stderr, result.stderr[-2000:]
    assert "rule evaluate" not in result.stdout + result.stderr  # no job started
    assert (copy / "results" / "zero_shot.csv").read_bytes() == before
    assert (copy / "work" / "runs" / "mini" / "hau" / "base" / "seed1" / "model" / "model.safetensors").exists()


@pytest.mark.parametrize("fault, message", [
    (lambda text: text + "\nKano B-LOC extra\n", "got 3 field(s)"),
    (lambda text: text.replace(" B-LOC", " B-LOCATION", 1), "got 'B-LOCATION'"),
    (lambda text: "", "empty"),
])
def test_every_data_file_is_checked_once_per_content_before_any_job(copy, fault, message):
    train = copy / "data" / "hau" / "train.txt"
    train.write_text(fault(train.read_text()))
    result = snakemake(copy, "-n", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and f"{train.relative_to(copy)}:" in output and message in output, output[-2000:]
    (copy / "data" / "hau" / "dev.txt").write_bytes(b"Kano B-LOC\n\xff\n")
    train.write_text("Kano B-LOC\n")
    result = snakemake(copy, "-n", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "data/hau/dev.txt" in output, output[-2000:]


def test_a_training_size_beyond_the_file_is_refused_before_any_job(copy):
    set_config(copy, {**CONFIG, "experiment": {**CONFIG["experiment"], "train_sizes": [1000000]}})
    result = snakemake(copy, "-n", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "1,000,000 sentences is more than the 60 of data/hau/train.txt" in output, output[-2000:]


def test_a_local_run_runs_no_more_jobs_at_once_than_local_jobs_at_once_says(copy):
    test = copy / "data" / "hau" / "test.txt"
    test.write_text(test.read_text().replace(" B-LOC", " B-PER", 1))
    snakemake(copy, "-j4", "results/zero_shot.csv", "--config", "local_jobs_at_once=1")
    assert "forked jobs, 1 at once" in (copy / "work" / "logs" / "warm_server.log").read_text()


def test_a_config_typo_fails_before_any_job_naming_the_key(copy):
    set_config(copy, {**CONFIG, "training": {**CONFIG["training"], "epoch": 3}})
    result = snakemake(copy, "-n", check=False)
    assert result.returncode != 0 and "'epoch' was unexpected" in result.stdout + result.stderr
    set_config(copy, {**CONFIG, "experiment": {**CONFIG["experiment"], "train_languages": ["hau", "yor"]}})
    result = snakemake(copy, "-n", check=False)
    assert "config key 'experiment.train_languages': unknown language(s) 'yor'" in result.stdout + result.stderr


def test_the_paper_matrix_prefetches_each_hub_checkpoint_once_on_the_submit_host(tmp_path):
    (tmp_path / "data").symlink_to(REPO / "data")
    (tmp_path / "config.yaml").write_text((REPO / "config" / "paper.yaml").read_text())
    jobs = plan(tmp_path)
    # xlm-roberta-base and the 10 language-adapted repositories; the Swahili start is the Swahili one of those
    # 195 cells, 190 fine-tunes: xlmr-swahili/swa shares xlmr-language/swa's fine-tune and evaluations (both start
    # from Davlan's Swahili model)
    assert counts(jobs) == Counter({"prefetch_checkpoint": 11, "train": 190, "share_fine_tune": 5, "share_evaluation": 50,
                                    "evaluate": 1900, "card": 195, "tables": 1, "overlap": 1, "checkpoint_effect": 2})
    assert ("prefetch_checkpoint", "repo=Davlan/xlm-roberta-base-finetuned-naija, revision=main") in jobs


def test_a_clone_with_committed_results_and_no_work_runs_everything(tmp_path):
    """A fresh clone has results/ but no work/: the default target still builds every cell and the tables."""
    workdir = tmp_path / "clone"
    workdir.mkdir()
    (workdir / "data").symlink_to(REPO / "data")
    shutil.copytree(REPO / "results", workdir / "results")
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir), "-n"]
    planned = subprocess.run(command, capture_output=True, text=True, check=True)
    stats = (planned.stdout + planned.stderr).split("Job stats:")[1].split("\ntotal")[0]
    jobs = {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", stats, re.M)}
    assert jobs["build_recipe"] == 1 and jobs["train"] == 20 and jobs["evaluate"] == 200 and jobs["overlap"] == 1


def test_paths_with_spaces_work_in_every_rule_and_outputs_are_readable_as_the_umask_says(tmp_path):
    """Folders with spaces (work, results, data and the run itself) through every rule, run with umask 002:
    no stray file from an unquoted redirect, and every output group-writable as the umask gives."""
    workdir = tmp_path / "a run with spaces"
    make_mini_corpus(workdir / "my data", ("hau", "luo"), {"train": 40, "dev": 15, "test": 15})
    config = yaml.safe_load(yaml.safe_dump(CONFIG))
    config["datasets"]["mini"]["path"] = "my data/{language}/{split}.txt"
    config["checkpoints"]["mini-adapted"] = {"adapt": {"checkpoint": "mini", "epochs": 1}, "training": {"epochs": 1}}
    config["checkpoints"]["after-hau"] = {"finetuned": {"checkpoint": "mini", "language": "hau"}, "training": {"epochs": 1}}
    config["experiment"].update(checkpoints=["mini", "mini-adapted", "after-hau"], train_languages=["luo"])
    config.update(work_dir="my work", results_dir="my results",
                  analyses={"overlap": True, "checkpoint_effects": [{"checkpoint": "after-hau", "baseline": "mini"}]})
    set_config(workdir, config)
    snakemake(workdir, "-j2", umask=0o002)
    assert sorted(p.name for p in workdir.iterdir()) == [".snakemake", "config.yaml", "my data", "my results", "my work"]
    assert not (REPO / "my").exists()
    results = {p.name for p in (workdir / "my results").iterdir()}
    assert {"zero_shot.csv", "overlap_correlation.csv", "effect_after-hau_vs_mini.csv"} <= results
    import stat

    for folder in (workdir / "my work" / "runs", workdir / "my work" / "checkpoints", workdir / "my results"):
        for path in [folder, *folder.rglob("*")]:
            expected = 0o775 if path.is_dir() else 0o664
            assert stat.S_IMODE(path.stat().st_mode) == expected, f"{path}: {oct(path.stat().st_mode)}"


def test_the_default_config_runs_from_another_folder_with_the_shipped_data(tmp_path):
    """`snakemake -s <clone>/Snakefile` elsewhere: the dataset is found in the workflow's folder."""
    result = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n", "-j1"],
                            cwd=tmp_path, capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert re.search(r"^train\s+20$", output, re.M) and "MissingInputException" not in output


def test_a_failing_jobs_own_message_reaches_snakemakes_output(copy):
    """Not only "check the log": the job's one-line error is in what Snakemake prints (profiles/default)."""
    state = copy / "work" / "runs" / "mini" / "hau" / "base" / "seed1" / "train.state"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom nertransfer.data.files import exclusive\n"
                               f"with exclusive({str(state)!r}, 'x'):\n    print('held', flush=True)\n    time.sleep(300)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        set_config(copy, {**CONFIG, "experiment": {**CONFIG["experiment"], "checkpoints": ["mini"], "train_languages": ["hau"]}})
        train = copy / "data" / "hau" / "train.txt"
        train.write_text(train.read_text().replace("B-PER", "O"))
        result = snakemake(copy, "-j1", check=False)
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode != 0
    assert f"is in use by pid {holder.pid} on" in result.stdout + result.stderr, (result.stdout + result.stderr)[-3000:]


def test_a_key_given_twice_is_refused_and_an_analysis_left_out_is_said_before_any_job(copy):
    """Snakemake's YAML reading keeps the last of two equal keys; the workflow reads its config files again."""
    (copy / "config.yaml").write_text((copy / "config.yaml").read_text() + "training:\n  epochs: 3\n")
    result = snakemake(copy, "-n", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and f"{copy / 'config.yaml'}:" in output and "key 'training' is given twice" in output, output
    set_config(copy, {**CONFIG, "experiment": {**CONFIG["experiment"], "checkpoints": ["mini"]},
                      "analyses": {"checkpoint_effects": [{"checkpoint": "mini-b", "baseline": "mini"}]}})
    result = snakemake(copy, "-n")
    assert ("nertransfer: note: config key 'analyses.checkpoint_effects[0]': mini-b vs mini is left out: no cell is trained "
            "from 'mini-b'") in result.stdout + result.stderr


# -- what reruns a finished job: params and inputs, not a rule's text (workflow/profiles/default) -------------------

def workflow_copy(target: Path) -> Path:
    """This workflow's files (Snakefile, rules, profiles, default config) in another folder, to edit there."""
    target.mkdir()
    shutil.copy2(REPO / "Snakefile", target / "Snakefile")
    for folder in ("workflow", "config"):
        shutil.copytree(REPO / folder, target / folder, symlinks=False)
    (target / "profiles").symlink_to("workflow/profiles")
    return target


def test_a_rules_shell_text_alone_reruns_nothing(copy, tmp_path):
    """Reformatting a rule or giving it a log leaves a finished run finished: `code` is no rerun trigger."""
    workflow = workflow_copy(tmp_path / "edited")
    for name, old in (("train.smk", "nertransfer train"), ("evaluate.smk", "nertransfer evaluate"),
                      ("tables.smk", "nertransfer tables"), ("checkpoints.smk", "nertransfer build-recipe")):
        rules = workflow / "workflow" / "rules" / name
        assert old in rules.read_text()
        rules.write_text(rules.read_text().replace(old, f"true && {old}"))
    command = [sys.executable, "-m", "snakemake", "-s", str(workflow / "Snakefile"), "-d", str(copy),
               f"--configfile={copy / 'config.yaml'}", "-n"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    assert "Nothing to be done" in result.stdout + result.stderr, (result.stdout + result.stderr)[-3000:]
    # the edit is seen: with `code` among the triggers, the edited rules' jobs would all run again
    result = subprocess.run([*command, "--rerun-triggers", "mtime", "params", "input", "software-env", "code"],
                            capture_output=True, text=True, check=True)
    assert re.search(r"^train\s+4$", result.stdout + result.stderr, re.M), (result.stdout + result.stderr)[-3000:]


def test_an_option_at_its_default_is_no_param_of_the_finished_jobs(local_run):
    """What Snakemake recorded of each job's params: the cell's settings, no option at its default (the dataset's
    types, the tables' std), so that a later version passing one more option at its default reruns nothing."""
    recorded = {}
    for path in (local_run / ".snakemake" / "metadata").iterdir():
        record = json.loads(path.read_text())
        recorded.setdefault(record["rule"], []).append(record["params"])
    assert set(recorded) >= {"build_recipe", "train", "evaluate", "card", "tables"}
    for rule, params in recorded.items():
        assert not any("--types" in value for values in params for value in values), rule
    # train and evaluate: their options in one string; tables: the seeds expected per row, and no `--std sample`
    assert all(len(values) == 1 for values in recorded["train"] + recorded["evaluate"] + recorded["tables"])
    assert all(values == [] for values in recorded["card"])


def test_the_tables_std_reruns_the_tables_and_the_save_interval_reruns_nothing(copy):
    set_config(copy, {**CONFIG, "tables": {"std": "population"}})
    assert counts(plan(copy)) == Counter({"tables": 1})
    set_config(copy, {**CONFIG, "save_state_every_seconds": 600})
    assert plan(copy) == []


def test_the_datasets_types_rerun_the_jobs_that_read_them_and_reach_their_commands(copy):
    config = yaml.safe_load(yaml.safe_dump(CONFIG))
    config["datasets"]["mini"]["types"] = ["LOC", "ORG", "PER", "DATE"]  # another label order: other label ids
    set_config(copy, config)
    jobs = plan(copy)
    assert counts(jobs) == Counter({"train": 4, "evaluate": 8, "card": 4, "tables": 1})  # the recipes do not read them
    out = snakemake(copy, "-n", "-p")
    for command, jobs in (("nertransfer train ", 4), ("nertransfer evaluate ", 8), ("nertransfer tables ", 1)):
        lines = [line for line in (out.stdout + out.stderr).splitlines() if command in line]
        assert len(lines) == jobs and all("--types LOC ORG PER DATE" in line for line in lines), command

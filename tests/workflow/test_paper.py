"""The study's own path in miniature: config/paper.yaml against a real hub server, locally and through the Slurm profile.

The override below is all that scales the study down: two languages (hau, swa), tiny stand-ins
for xlm-roberta-base and Davlan's language-adapted checkpoints on the test hub (two commits
each), two epochs. Everything else is the study: three starts, five seeds, the cross cells
(each language's adapted checkpoint fine-tuned on Swahili), the overlap and effect analyses.
Prefetching runs on the submit host through huggingface_hub; jobs run with HF_HUB_OFFLINE=1.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from conftest import PROFILE, REMOTE_CODE_REPO, REPO, RESOURCES, STUDY_REPOS, counts, make_mini_corpus, merged, requests

pytestmark = pytest.mark.slow

SCALED_DOWN = {
    "datasets": {"mini": {"path": "data/{language}/{split}.txt", "languages": {"hau": "hausa", "swa": "swahili"}}},
    "experiment": {"dataset": "mini"},
    "training": {"epochs": 2, "max_length": 64, "eval_batch_size": 64},
}
SEEDS = 5


def paper_workdir(root: Path, override: dict | None = None) -> Path:
    make_mini_corpus(root / "data", ("hau", "swa"), {"train": 40, "dev": 15, "test": 15})
    (root / "scaled.yaml").write_text(yaml.safe_dump(override or SCALED_DOWN))
    return root


def paper_command(workdir: Path, *args: str) -> list[str]:
    """`snakemake --configfile config/paper.yaml scaled.yaml` in `workdir` (paper.yaml merged over the default)."""
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
            "--configfile", str(REPO / "config" / "paper.yaml"), str(workdir / "scaled.yaml"), *args]


def run_paper(workdir: Path, hub, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(paper_command(workdir, *args), capture_output=True, text=True, env={**os.environ, **hub.env})
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def planned(workdir: Path, hub, *args: str) -> Counter:
    out = run_paper(workdir, hub, "-n", *args)
    return counts([(rule, "") for rule in re.findall(r"^(?:local)?rule (\w+):$", out.stdout + out.stderr, re.M)])


@pytest.fixture(scope="module")
def local_paper(tmp_path_factory, hub) -> Path:
    """The scaled-down study run once locally (-j2)."""
    workdir = paper_workdir(tmp_path_factory.mktemp("paper") / "local")
    run_paper(workdir, hub, "-j2")
    return workdir


def test_the_study_in_miniature_downloads_each_start_once_and_shares_identical_fine_tunes(local_paper, hub):
    plan = planned(paper_workdir(local_paper.parent / "plan"), hub)
    # 3 starts on the hub; 35 cells (3 x 2 languages x 5 seeds, and xlmr-language@hau on swa x 5); 30 fine-tunes
    assert plan == Counter({"prefetch_checkpoint": 3, "train": 30, "share_fine_tune": 5, "evaluate": 60, "share_evaluation": 10,
                            "card": 35, "tables": 1, "overlap": 1, "checkpoint_effect": 2})
    runs = local_paper / "work" / "runs"
    for seed in range(1, SEEDS + 1):
        shared = json.loads((runs / "xlmr-swahili" / "swa" / "base" / f"seed{seed}" / "train" / "train_config.json").read_text())
        assert shared["fine_tune_of"] == f"xlmr-language/swa/base/seed{seed}" and shared["checkpoint"] == "xlmr-swahili"
        assert not (runs / "xlmr-swahili" / "swa" / "base" / f"seed{seed}" / "model").exists()
    zero_shot = (local_paper / "results" / "zero_shot.csv").read_text().splitlines()
    assert zero_shot[0] == "checkpoint,checkpoint_language,train_language,hau,swa"
    assert {line.rsplit(",", 2)[0] for line in zero_shot[1:]} == {
        "xlmr-base,,hau", "xlmr-base,,swa", "xlmr-language,,hau", "xlmr-language,,swa", "xlmr-language,hau,swa",
        "xlmr-swahili,,hau", "xlmr-swahili,,swa"}  # both rows of the shared fine-tune appear
    in_language = (local_paper / "results" / "in_language.csv").read_text().splitlines()
    assert in_language[0].startswith("checkpoint,checkpoint_language,train_language,seeds,seeds_configured,")
    assert all(",5,5," in line for line in in_language[1:])  # every row averages the 5 seeds it asks for
    for table in ("effect_xlmr-language_vs_xlmr-base.csv", "effect_xlmr-swahili_vs_xlmr-base.csv", "overlap_correlation.csv"):
        assert (local_paper / "results" / table).exists()


def test_an_unpinned_start_records_the_commit_it_resolved_to(local_paper, hub):
    head = hub.commits["Davlan/xlm-roberta-base-finetuned-hausa"][-1]
    run = local_paper / "work" / "runs" / "xlmr-language" / "hau" / "base" / "seed2"
    source = json.loads((run / "train" / "train_config.json").read_text())["checkpoint_source"]
    assert source == {"repo": "Davlan/xlm-roberta-base-finetuned-hausa", "revision": "main", "commit": head, "endpoint": hub.url}
    assert (f"`Davlan/xlm-roberta-base-finetuned-hausa` at commit `{head}` (revision asked: `main`"
            in (run / "README.md").read_text())


def test_moving_a_pin_reruns_exactly_the_cells_that_start_from_it_and_gets_that_commits_files(local_paper, hub, tmp_path):
    workdir = tmp_path / "pinned"
    shutil.copytree(local_paper, workdir, symlinks=True)
    first = hub.commits["FacebookAI/xlm-roberta-base"][0]
    pinned = merged(SCALED_DOWN, {"checkpoints": {"xlmr-base": {"revision": first}}})
    (workdir / "scaled.yaml").write_text(yaml.safe_dump(pinned))
    assert planned(workdir, hub) == Counter({"prefetch_checkpoint": 1, "train": 10, "evaluate": 20, "card": 10,
                                             "tables": 1, "overlap": 1, "checkpoint_effect": 2})
    jobs = run_paper(workdir, hub, "-n").stdout
    rows = re.findall(r"row=(\S+?)[,\s]", jobs)  # the matrix rows of the jobs to rerun
    assert rows and all(row.startswith("xlmr-base/") for row in rows), jobs[-3000:]
    run_paper(workdir, hub, "-j2", "--until", "prefetch_checkpoint")
    folder = workdir / "work" / "checkpoints" / "hub" / "FacebookAI" / "xlm-roberta-base" / first
    committed = subprocess.run(["git", "-C", str(hub.root / "FacebookAI/xlm-roberta-base"), "show", f"{first}:model.safetensors"],
                               capture_output=True, check=True).stdout
    assert (folder / "model.safetensors").read_bytes() == committed
    assert json.loads((folder / "hub_source.json").read_text())["commit"] == first


@pytest.mark.parametrize("change, message", [
    ({"checkpoints": {"xlmr-base": {"revision": "v9"}}},
     "checkpoint 'xlmr-base': revision 'v9' of 'FacebookAI/xlm-roberta-base' does not exist on"),
    ({"datasets": {"mini": {"languages": {"hau": "hausa", "swa": "swahili", "yor": "yoruba"}}}},
     "checkpoint 'xlmr-language' (language yor): repository 'Davlan/xlm-roberta-base-finetuned-yoruba' does not exist on"),
])
def test_a_repository_or_revision_that_does_not_exist_fails_before_any_job(hub, tmp_path, change, message):
    workdir = paper_workdir(tmp_path / "missing", merged(SCALED_DOWN, change))
    if "yor" in json.dumps(change):
        make_mini_corpus(workdir / "data", ("yor",), {"train": 40, "dev": 15, "test": 15})
    result = run_paper(workdir, hub, "-j2", check=False)
    assert result.returncode != 0 and message in result.stdout + result.stderr, (result.stdout + result.stderr)[-3000:]
    assert not (workdir / "work" / "checkpoints").exists()  # not even a download started


def test_a_start_that_asks_for_remote_code_is_refused(hub, tmp_path):
    workdir = paper_workdir(tmp_path / "code", merged(SCALED_DOWN, {"checkpoints": {"xlmr-base": {"hub": REMOTE_CODE_REPO}}}))
    result = run_paper(workdir, hub, "-j2", check=False)
    assert result.returncode != 0
    log = workdir / "work" / "logs" / "prefetch" / REMOTE_CODE_REPO / "main.log"
    assert "asks for code from its repository (auto_map in config.json)" in log.read_text()
    assert not list((workdir / "work" / "runs").glob("xlmr-base/*/*/*/train"))


@pytest.mark.slurm
def test_the_study_runs_through_the_slurm_profile_offline_and_gives_the_local_runs_tables(cluster, local_paper, hub, tmp_path):
    workdir = paper_workdir(tmp_path / "slurm")
    before = len(requests(hub.access_log))
    started = time.perf_counter()
    result = run_paper(workdir, hub, "--profile", str(PROFILE), *RESOURCES)
    seconds = time.perf_counter() - started
    output = result.stdout + result.stderr
    jobs = re.findall(r"as Slurm job (\d+)", output)
    print(f"the scaled-down study through the Slurm profile: {seconds:.0f} s, {len(jobs)} Slurm jobs")
    for table in sorted(p.name for p in (local_paper / "results").iterdir()):
        assert (workdir / "results" / table).read_bytes() == (local_paper / "results" / table).read_bytes(), table
    # every request to the hub came from the prefetch on the submit host, before the first job was submitted
    asked = requests(hub.access_log)[before:]
    submitted = subprocess.run(["sacct", "--noheader", "--parsable2", "--allocations", "--format=Submit",
                                "--jobs", ",".join(jobs)],
                               capture_output=True, text=True, check=True).stdout.split()
    first_submission = min(time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%S")) for stamp in submitted)
    assert asked and max(request["time"] for request in asked) < first_submission + 1
    asked_for = {match.group(1) for request in asked
                 if (match := re.match(r"^/(?:api/models/)?([^/]+/[^/]+)/(?:revision|tree|resolve)/", request["path"]))}
    assert asked_for == set(STUDY_REPOS)

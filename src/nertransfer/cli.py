"""The `nertransfer` command line: one subcommand per workflow step, heavy imports deferred.

Rules in the Snakemake workflow call these subcommands; so can a person. `score` and `tables`
never import torch, so they start in a fraction of a second.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from nertransfer.experiment import layout
from nertransfer.experiment.matrix import DEFAULT_TYPES


def _json(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON ({error}): {text!r}") from None


def _prepare_torch(threads: int | None = None) -> None:
    """Cap torch's threads at what the job was given, and keep weight-loading progress bars out of logs."""
    import torch
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    if threads:
        torch.set_num_threads(threads)


def cmd_score(args) -> None:
    from nertransfer.scoring.metrics import score_files

    result = score_files(args.gold, args.pred, args.types)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


def cmd_build_recipe(args) -> None:
    _prepare_torch()
    from nertransfer.model.recipe import build

    build(args.train_files, args.output, {"name": "tiny-xlmr", **args.settings})


def cmd_train(args) -> None:
    _prepare_torch(args.threads)
    from nertransfer.model.train import FineTune, TrainingSettings, train

    several = bool(args.languages)  # a training set: one train and one dev file per language
    if not several and (len(args.train) > 1 or len(args.dev) > 1):
        raise SystemExit("nertransfer train: several --train or --dev files are a training set: give --languages, "
                         "the language of each file in their order")
    job = FineTune(checkpoint=args.checkpoint, train_file=args.train if several else args.train[0],
                   dev_file=args.dev if several else args.dev[0], types=args.types, languages=args.languages or (),
                   output=Path(args.output), model_output=Path(args.model_output) if args.model_output else None,
                   cell=args.cell, keep=args.keep_types, save_state_every_seconds=args.save_state_every_seconds,
                   expected_sha256=args.inputs_sha256, language_adapter=args.language_adapter)
    train(job, TrainingSettings.from_mapping(args.hyperparameters))


def cmd_evaluate(args) -> None:
    _prepare_torch(args.threads)
    from nertransfer.model.evaluate import evaluate

    evaluate(args.model, args.test, args.types, predictions_file=args.predictions, metrics_file=args.metrics,
             max_length=args.max_length, batch_size=args.batch_size, cell=args.cell, keep=args.keep_types,
             precision=args.precision, expected_sha256=args.inputs_sha256.get("test"), language_adapter=args.language_adapter)


def cmd_adapt(args) -> None:
    _prepare_torch(args.threads)
    from nertransfer.model.adapt import adapt

    adapt(args.checkpoint, args.text, args.types, args.output, args.settings)


def cmd_card(args) -> None:
    from nertransfer.analysis.card import model_card
    from nertransfer.analysis.records import read_record, run_records
    from nertransfer.data.files import atomic_write

    summary, dev = (read_record(path) for path in run_records(args.run))
    tests = [read_record(path) for path in args.test_metrics]
    with atomic_write(args.output) as out:
        out.write(model_card(summary, dev, tests[0] if len(tests) == 1 else tests))


def cmd_share(args) -> None:
    from nertransfer.analysis.records import share_evaluation, share_fine_tune

    if args.evaluation:
        share_evaluation(args.evaluation, args.output, args.cell)
    else:
        share_fine_tune(args.records, args.output, args.cell, args.fine_tune_of)


def cmd_prefetch(args) -> None:
    from nertransfer.model.hub import download

    print(json.dumps(download(args.hub, args.revision, args.output)))


def cmd_tables(args) -> None:
    from nertransfer.analysis.tables import Seeds, write_tables

    held_out = dict(item.split("=", 1) for item in args.held_out)
    write_tables(args.metrics, args.output_dir, args.types, args.runs, Seeds(args.expected_seeds, args.std), held_out)


def cmd_overlap(args) -> None:
    from nertransfer.analysis.overlap import write_overlap

    pairs = lambda items: dict(item.split("=", 1) for item in items)  # noqa: E731
    train: dict[str, dict[str, str]] = {}  # training language or set -> {language: its training file}
    for name, path in pairs(args.train).items():
        set_name, _, language = name.partition("/")
        train.setdefault(set_name, {})[language or set_name] = path
    write_overlap(args.cells, train, pairs(args.test), args.types, args.output_dir)


def cmd_effect(args) -> None:
    from nertransfer.analysis.checkpoint_effects import write_checkpoint_effect

    write_checkpoint_effect(args.cells, args.checkpoint, args.baseline, args.output_dir, args.evaluations, args.types,
                            args.resamples)


def cmd_status(args) -> None:
    import time

    from nertransfer.runtime.status import cluster_queue, matrix_status, queue_note, stale_lock_note
    from nertransfer.runtime.status_views import show, write_csv, write_html, write_png

    experiment = _status_experiment(args)
    try:
        while True:
            queue = cluster_queue()  # the executor plugin's answer: its scheduler is not this package's
            for note in filter(None, (queue_note(queue), stale_lock_note(experiment))):
                print(f"nertransfer status: note: {note}", file=sys.stderr)
            rows = matrix_status(experiment, queue=queue)
            if args.csv == "-":
                write_csv(rows, sys.stdout)
            else:
                if args.watch and sys.stdout.isatty():
                    sys.stdout.write("\033[H\033[2J")  # clear the screen between refreshes
                show(rows)
            if args.csv and args.csv != "-":
                with open(args.csv, "w", newline="") as out:
                    write_csv(rows, out)
            if args.html:
                write_html(rows, args.html)
            if args.png:
                write_png(rows, args.png)
            if not args.watch:
                return
            sys.stdout.flush()
            time.sleep(args.watch)
    except KeyboardInterrupt:  # Ctrl-C is how --watch ends: quietly, with the shell's status for it
        if not args.watch:
            raise
        sys.exit(130)


def _status_experiment(args):
    """The experiment `nertransfer status` shows, its notes printed, with the run's folder as the working directory
    (the experiment's paths are relative to it, as in the workflow); every bad argument one line before any work."""

    from nertransfer.experiment.config import check_schema, config_files, load_experiment, merged_files, shadowed_training

    if not Path(args.directory).is_dir():
        sys.exit(f"nertransfer status: error: --directory {args.directory!r} is not a folder: expected the run's folder "
                 "(snakemake -d)")
    workflow = Path(args.workflow)
    files = config_files(workflow, args.configfile)
    config = merged_files(files)
    check_schema(config)
    experiment = load_experiment(config, args.directory, workflow)
    for line in [*shadowed_training(files), *experiment.notes]:
        print(f"nertransfer status: note: {line}", file=sys.stderr)
    os.chdir(args.directory)
    for option, target in (("--csv", args.csv), ("--html", args.html), ("--png", args.png)):
        if target and target != "-" and (Path(target).is_dir() or not Path(target).parent.is_dir()):
            sys.exit(f"nertransfer status: error: {option} {target!r}: expected a file in an existing folder "
                     f"(relative paths are read from the run's folder)")
    return experiment


def cmd_warm_server(args) -> None:
    from nertransfer.runtime.warm import serve

    serve(args.socket, args.idle_seconds, args.slots, args.reuse, command=main)  # it runs this command line's jobs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nertransfer", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler, help: str, types: bool = False) -> argparse.ArgumentParser:
        """A subcommand; `types`: it reads or scores BIO tags, so it takes the dataset's entity types."""
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(handler=handler)
        if types:
            sub.add_argument("--types", nargs="+", default=list(DEFAULT_TYPES),
                             help="entity types of the BIO tag set (default: MasakhaNER's)")
        return sub

    _scoring_command(command)
    _model_commands(command)
    _workflow_commands(command)
    _table_commands(command)
    return parser


def _label_set(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--keep-types", nargs="+", help="a label set: train/score these types, the others become O")


def _inputs_sha256(sub: argparse.ArgumentParser, roles: str) -> None:
    sub.add_argument("--inputs-sha256", type=_json, default={},
                     help=f"JSON: {roles} -> the SHA-256 the workflow planned this job on; a file that differs fails the job")


def _scoring_command(command) -> None:
    sub = command("score", cmd_score, "score a CoNLL prediction file; print precision, recall, F1 as JSON", types=True)
    sub.add_argument("--gold", help="gold `token TAG` file (omit for a `token GOLD PRED` file)")
    sub.add_argument("--pred", required=True, help="`token PRED` file aligned with GOLD, or `token GOLD PRED`")


def _model_commands(command) -> None:
    """The steps that run a model (torch): build the recipe, fine-tune, evaluate, adapt."""
    sub = command("build-recipe", cmd_build_recipe, "build an offline starting checkpoint (tiny-xlmr, multilingual-e5-small)")
    sub.add_argument("--train-files", nargs="*", default=[], help="the training text a recipe's tokenizer is trained on")
    sub.add_argument("--settings", type=_json, default={}, help="recipe settings as JSON")
    sub.add_argument("--output", required=True)

    sub = command("train", cmd_train, "fine-tune one cell and write its model, epochs and dev metrics", types=True)
    sub.add_argument("--checkpoint", required=True, help="folder or hub id to start from")
    sub.add_argument("--train", nargs="+", required=True, help="the training file (a training set: one per language)")
    sub.add_argument("--dev", nargs="+", required=True, help="the dev file (a training set: one per language)")
    sub.add_argument("--languages", nargs="+", help="a training set: the language of each --train and --dev file")
    sub.add_argument("--language-adapter", help="MAD-X: the training language's language adapter (a peft folder)")
    sub.add_argument("--hyperparameters", type=_json, required=True, help="JSON, as nertransfer.experiment.matrix resolves it")
    sub.add_argument("--cell", type=_json, default={}, help="the cell's axes as JSON, recorded with the results")
    sub.add_argument("--output", required=True)
    sub.add_argument("--model-output", help=f"where the fine-tuned model goes (default: OUTPUT/{layout.MODEL}); "
                     "the resumable state lives in a folder beside OUTPUT")
    sub.add_argument("--save-state-every-seconds", type=float, default=0.0,
                     help="save the resumable state after an epoch once this long has passed since the last save "
                          "(default 0: every epoch); always on SIGTERM/SIGUSR2")
    sub.add_argument("--threads", type=int)
    _label_set(sub)
    _inputs_sha256(sub, "train, dev (a training set: train.<language>, dev.<language>)")

    sub = command("evaluate", cmd_evaluate, "predict a test file with a fine-tuned model and score it", types=True)
    sub.add_argument("--model", required=True)
    sub.add_argument("--test", required=True)
    sub.add_argument("--predictions", required=True, help="CoNLL file to write: token gold predicted")
    sub.add_argument("--metrics", required=True, help="JSON file to write")
    sub.add_argument("--max-length", type=int, default=128)
    sub.add_argument("--batch-size", type=int, default=64)
    sub.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto", help="as training.precision")
    sub.add_argument("--language-adapter", help="MAD-X: this language's adapter (default: the one it was trained over)")
    sub.add_argument("--cell", type=_json, default={})
    sub.add_argument("--threads", type=int)
    _label_set(sub)
    _inputs_sha256(sub, "test")

    sub = command("adapt", cmd_adapt, "continue masked-LM training of a checkpoint on a language's text (adaptation)", types=True)
    sub.add_argument("--checkpoint", required=True)
    sub.add_argument("--text", nargs="+", required=True, help="CoNLL files whose sentences are the unlabeled text")
    sub.add_argument("--settings", type=_json, default={}, help="epochs, learning_rate, batch_size, mask_probability, seed")
    sub.add_argument("--output", required=True)
    sub.add_argument("--threads", type=int)


def _workflow_commands(command) -> None:
    """Steps around the models: cards, hub downloads, the warm server."""
    sub = command("card", cmd_card, "write a cell's model card with dev and test metrics")
    sub.add_argument("--run", required=True, help="the cell's training folder")
    sub.add_argument("--test-metrics", nargs="+", required=True,
                     help="its own-language evaluation metrics (a training set: one per language)")
    sub.add_argument("--output", required=True)

    sub = command("share", cmd_share, "records for a cell that shares another cell's fine-tune (same start, data, settings)")
    sub.add_argument("--records", help="the records folder of the fine-tune")
    sub.add_argument("--fine-tune-of", help="the cell whose fine-tune it is")
    sub.add_argument("--evaluation", help="instead: an evaluation folder of the fine-tune, shared as this cell's")
    sub.add_argument("--cell", type=_json, required=True, help="this cell's axes as JSON")
    sub.add_argument("--output", required=True)

    sub = command("prefetch", cmd_prefetch, "download a hub checkpoint (at a pinned revision) for offline jobs")
    sub.add_argument("--hub", required=True, help="hub id, e.g. FacebookAI/xlm-roberta-base")
    sub.add_argument("--revision", default="main", help="commit, tag or branch (default: main)")
    sub.add_argument("--output", required=True)

    sub = command("warm-server", cmd_warm_server, "serve train/evaluate/build-recipe jobs from a process with torch imported")
    sub.add_argument("--socket", required=True, help="Unix socket path; jobs find it in $NERTRANSFER_WARM_SOCKET")
    sub.add_argument("--idle-seconds", type=float, default=120.0, help="exit after this long without a job")
    sub.add_argument("--slots", type=int, help="jobs run at once (default: the CPUs available); with --reuse, workers")
    sub.add_argument("--reuse", action="store_true",
                     help="long-lived workers that run jobs one after another in-process (CUDA and imports start once)")


def _workflow_root() -> str:
    """The workflow this package belongs to (its repository, where config/config.yaml is), else the current folder."""
    repository = Path(__file__).resolve().parents[2]
    return str(repository) if (repository / "Snakefile").exists() else "."


def _table_commands(command) -> None:
    """Tables and the study's analyses (no torch)."""
    sub = command("tables", cmd_tables, "aggregate evaluation metrics into CSV, Markdown, LaTeX tables and heatmaps", types=True)
    sub.add_argument("--runs", nargs="*", default=[], help="fine-tune folders (dev metrics): grid and learning-curve tables")
    sub.add_argument("--metrics", nargs="+", required=True)
    sub.add_argument("--expected-seeds", type=_json, default={},
                     help="JSON: row (axes but the seed, joined by /) -> seeds configured; fewer are marked "
                          "(default: the most any cell has)")
    sub.add_argument("--std", choices=["sample", "population"], default="sample",
                     help="standard deviation over seeds: sample (ddof=1, default) or population (ddof=0)")
    sub.add_argument("--held-out", nargs="*", default=[], metavar="SET=LANGUAGE",
                     help="leave-one-out sets and the language each holds out: writes the leave-one-out table")
    sub.add_argument("--output-dir", required=True)

    sub = command("status", cmd_status, "where each cell of the matrix stands: not started, queued, running, done, failed, "
                  "invalidated (locks nothing; works while a run goes on)")
    sub.add_argument("--configfile", nargs="*", default=[], help="config files merged over the default, as for snakemake")
    sub.add_argument("--directory", "-d", default=".", help="the run's folder (snakemake -d), default: here")
    sub.add_argument("--workflow", default=_workflow_root(), help="the workflow's folder (default: this package's repository)")
    sub.add_argument("--csv", help="also write the cells as CSV to this file ('-': only CSV, to stdout)")
    sub.add_argument("--html", help="also write a coloured page of the matrix")
    sub.add_argument("--png", help="also write a coloured figure of the matrix")
    sub.add_argument("--watch", type=float, nargs="?", const=5.0, help="refresh every N seconds (default 5) until Ctrl-C")

    sub = command("overlap", cmd_overlap, "token/entity overlap of training and test sets vs zero-shot F1, with correlations",
                  types=True)
    sub.add_argument("--cells", required=True, help=f"the tables' {layout.CELLS_TABLE}")
    sub.add_argument("--train", nargs="+", required=True,
                     help="LANGUAGE=TRAIN_FILE ...; a training set's as SET/LANGUAGE=TRAIN_FILE, one per language")
    sub.add_argument("--test", nargs="+", required=True, help="LANGUAGE=TEST_FILE ...")
    sub.add_argument("--output-dir", required=True)

    sub = command("effect", cmd_effect, "difference table: F1 of one starting checkpoint minus a baseline's", types=True)
    sub.add_argument("--cells", required=True, help=f"the tables' {layout.CELLS_TABLE}")
    sub.add_argument("--checkpoint", required=True)
    sub.add_argument("--baseline", required=True)
    sub.add_argument("--evaluations", nargs="*", default=[],
                     help=f"evaluation folders ({layout.METRICS}, {layout.PREDICTIONS}) of both: for the bootstrap intervals")
    sub.add_argument("--resamples", type=int, help="bootstrap resamples (default: the config's, 1000)")
    sub.add_argument("--output-dir", required=True)


def main(argv: Sequence[str] | None = None) -> None:
    from nertransfer.analysis.records import RecordError
    from nertransfer.data.conll import ConllError
    from nertransfer.data.files import FolderBusy
    from nertransfer.data.fingerprints import InputChanged
    from nertransfer.experiment.config import ConfigError, ConfigFileError
    from nertransfer.model.hub import HubError
    from nertransfer.runtime.warm import run_in_server

    argv = list(sys.argv[1:] if argv is None else argv)
    status = run_in_server(argv)  # a job of a local workflow run: hand it to the warm server
    if status is not None:
        sys.exit(status)
    args = build_parser().parse_args(argv)

    try:
        args.handler(args)
        sys.stdout.flush()  # inside the try: a reader that went away (`| head`) shows up here at the latest
    except (ConllError, ConfigError, ConfigFileError, FolderBusy, HubError, InputChanged, RecordError) as error:
        sys.exit(f"nertransfer {args.command}: error: {error}")
    except BrokenPipeError:
        # The reader of our output closed it (`nertransfer score ... | head`): stop quietly, as other
        # command-line tools do. Point stdout at /dev/null so that the interpreter's final flush does
        # not raise again (the recipe of Python's signal module documentation).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except OSError as error:
        if error.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        where = f": {error.filename}" if error.filename else ""
        sys.exit(f"nertransfer {args.command}: error: {error.strerror or error}{where}; free some room and run again "
                 "(nothing written is taken as complete)")


if __name__ == "__main__":
    main()

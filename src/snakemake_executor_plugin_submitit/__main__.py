"""The plugin's command line, for programs that keep Snakemake out of their own process.

    python -m snakemake_executor_plugin_submitit queue [--workdir DIR]

prints, as JSON, this user's Slurm jobs still queued or running in DIR (default: here), each with its state and
the wildcards of the Snakemake jobs it runs (queue.queue_report). It always exits 0 once it has printed: a Slurm
that did not answer is said in the JSON's `problem`, not by the exit status.

Why a command rather than an import: the workflow's package (nertransfer) must import neither Snakemake nor this
plugin, which is Snakemake's; its status view runs this instead and reads the JSON (nertransfer.runtime.status).
The package's __init__ imports Snakemake's executor interface only when the registry asks for it, so this command
starts in about a tenth of a second.
"""

from __future__ import annotations

import argparse
import json
import sys

from .queue import queue_report


def main(argv=None) -> None:
    """Parse the command line and print the answer (one command so far: `queue`)."""
    parser = argparse.ArgumentParser(prog="python -m snakemake_executor_plugin_submitit", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    queue = commands.add_parser("queue", help="this user's Slurm jobs of a working directory and the wildcards they run, as JSON")
    queue.add_argument("--workdir", default=".", help="the working directory (snakemake -d) whose jobs to list (default: here)")
    args = parser.parse_args(argv)
    json.dump(queue_report(args.workdir), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

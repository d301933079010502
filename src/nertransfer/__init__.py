"""nertransfer: cross-lingual transfer experiments for named entity recognition.

Layers, each a folder, each importing only those listed before it (tests/test_architecture.py checks it):

    experiment/  the config, the matrix it expands to, and where files go (plain Python)
    data/        files, corpora and their fingerprints
    scoring/     entity-level scores and the bootstrap
    analysis/    records, tables, figures and the study's analyses
    model/       recipe, hub, training, prediction, evaluation, adaptation: the only layer with torch
    runtime/     workers, job processes and the status of a run
    cli          the command line on top; it imports each subcommand's layer when that subcommand runs

The workflow (`workflow/`) calls the command line; the scheduler plugin (`snakemake_executor_plugin_submitit`)
knows nothing of this package.
"""

__version__ = "0.1.0"

# nertransfer: cross-lingual NER transfer experiments.
#   snakemake -j4 results/zero_shot.csv                       # the offline default (config/config.yaml)
#   snakemake --profile slurm --configfile config/paper.yaml  # the NERTransfer study on a cluster
# Rules live in workflow/rules/, one file per stage; logic lives in the nertransfer package.

from snakemake.utils import min_version

min_version("9.0")


configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/checkpoints.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/tables.smk"


rule all:
    default_target: True
    input:
        plain(zero_shot_tables()),  # the report's entries belong to the rules that write them, not to this target
        plain(analysis_tables()),
        L.tables_made,
        # every record the tables stand on: one deleted or set aside (damaged) is made again, not taken as done
        metrics_files(),
        [L.records(cell_id) for cell_id in CELLS],
        [L.card(cell_id) for cell_id in CELLS],


onstart:
    check_hub_checkpoints()
    hold_run_marker()
    start_local_run()


onsuccess:
    end_local_run()


onerror:
    end_local_run()

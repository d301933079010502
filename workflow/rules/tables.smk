# Tables and heatmaps from every evaluation cell: small files under results/, committed.


rule tables:
    input:
        metrics=metrics_files(),
        runs=[f"{WORK}/runs/{cell_id}/train" for cell_id in CELLS],
        cards=card_files(),
    output:
        tables=[path for path in table_files() if not Path(path).name.startswith(("overlap", "effect_"))],
        made=TABLES_MADE,  # see common.smk
    log:
        f"{WORK}/logs/tables.log",
    localrule: True
    shell:
        "nertransfer tables --metrics {input.metrics:q} --runs {input.runs:q} --types {TYPES} --output-dir {RESULTS:q}"
        " > {log:q} 2>&1 && touch {output.made:q}"


# The study's analyses, from the long-form cells.csv the tables rule writes.


rule overlap:
    input:
        cells=f"{RESULTS}/cells.csv",
        train=[EXP.dataset.file(language, "train") for language in TRAIN_LANGUAGES],
        test=[EXP.dataset.file(language, "test") for language in EXP.eval_languages],
    output:
        [path for path in table_files() if Path(path).name.startswith("overlap")],
    params:
        train=[f"{language}={EXP.dataset.file(language, 'train')}" for language in TRAIN_LANGUAGES],
        test=[f"{language}={EXP.dataset.file(language, 'test')}" for language in EXP.eval_languages],
    log:
        f"{WORK}/logs/overlap.log",
    localrule: True
    shell:
        "nertransfer overlap --cells {input.cells:q} --train {params.train:q} --test {params.test:q} --types {TYPES}"
        " --output-dir {RESULTS:q} > {log:q} 2>&1"


rule checkpoint_effect:
    input:
        cells=f"{RESULTS}/cells.csv",
    output:
        multiext(f"{RESULTS}/effect_{{checkpoint}}_vs_{{baseline}}", ".csv", ".md", ".tex"),
    wildcard_constraints:
        checkpoint=_alternatives(EXP.checkpoints),
        baseline=_alternatives(EXP.checkpoints),
    log:
        f"{WORK}/logs/effect_{{checkpoint}}_vs_{{baseline}}.log",
    localrule: True
    shell:
        "nertransfer effect --cells {input.cells:q} --checkpoint {wildcards.checkpoint:q} --baseline {wildcards.baseline:q}"
        " --output-dir {RESULTS:q} > {log:q} 2>&1"

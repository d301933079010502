# Tables and heatmaps from every evaluation cell: small files under results/, committed.


rule tables:
    input:
        metrics=metrics_files(),
        records=[L.records(cell_id) for cell_id in CELLS],
        cards=[L.card(cell_id) for cell_id in CELLS],
    output:
        tables=zero_shot_tables(),
        made=L.tables_made,  # see common.smk
    params:
        seeds=canonical_json(EXP.seeds_per_row()),
    log:
        L.log("tables"),
    localrule: True
    shell:
        "nertransfer tables --metrics {input.metrics:q} --runs {input.records:q} --types {TYPES} --output-dir {L.results:q}"
        " --expected-seeds {params.seeds:q} --std {EXP.table_std} > {log:q} 2>&1 && touch {output.made:q}"


# The study's analyses, from the long-form cells.csv the tables rule writes.


rule overlap:
    input:
        cells=L.result(layout.CELLS_TABLE),
        train=[EXP.dataset.file(language, "train") for language in TRAIN_LANGUAGES],
        test=[EXP.dataset.file(language, "test") for language in EXP.eval_languages],
    output:
        results(layout.overlap_names()),
    params:
        train=[f"{language}={EXP.dataset.file(language, 'train')}" for language in TRAIN_LANGUAGES],
        test=[f"{language}={EXP.dataset.file(language, 'test')}" for language in EXP.eval_languages],
    log:
        L.log("overlap"),
    localrule: True
    shell:
        "nertransfer overlap --cells {input.cells:q} --train {params.train:q} --test {params.test:q} --types {TYPES}"
        " --output-dir {L.results:q} > {log:q} 2>&1"


rule checkpoint_effect:
    input:
        cells=L.result(layout.CELLS_TABLE),
    output:
        results(layout.effect_names("{checkpoint}", "{baseline}")),
    wildcard_constraints:
        checkpoint=_alternatives(EXP.checkpoints),
        baseline=_alternatives(EXP.checkpoints),
    log:
        L.log(layout.effect_stem("{checkpoint}", "{baseline}")),
    localrule: True
    shell:
        "nertransfer effect --cells {input.cells:q} --checkpoint {wildcards.checkpoint:q} --baseline {wildcards.baseline:q}"
        " --output-dir {L.results:q} > {log:q} 2>&1"

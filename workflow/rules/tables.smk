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
        overlap_tables(),
    params:
        train=[f"{language}={EXP.dataset.file(language, 'train')}" for language in TRAIN_LANGUAGES],
        test=[f"{language}={EXP.dataset.file(language, 'test')}" for language in EXP.eval_languages],
    log:
        L.log("overlap"),
    localrule: True
    shell:
        "nertransfer overlap --cells {input.cells:q} --train {params.train:q} --test {params.test:q} --types {TYPES}"
        " --output-dir {L.results:q} > {log:q} 2>&1"


def effect_evaluations(wildcards):
    """The evaluation folders an effect table's bootstrap reads (their predictions and metrics are the inputs)."""
    return [L.evaluation(cell.id, language) for cell, language in EXP.effect_evaluations(wildcards.checkpoint, wildcards.baseline)]


rule checkpoint_effect:
    input:
        cells=L.result(layout.CELLS_TABLE),
        evaluations=lambda w: [path for cell, language in EXP.effect_evaluations(w.checkpoint, w.baseline)
                               for path in (L.predictions(cell.id, language), L.metrics(cell.id, language))],
    output:
        effect_tables("{checkpoint}", "{baseline}"),
    params:
        evaluations=effect_evaluations,
        resamples=EXP.analyses.get("bootstrap_resamples", 1000),
    wildcard_constraints:
        checkpoint=_alternatives(EXP.checkpoints),
        baseline=_alternatives(EXP.checkpoints),
    log:
        L.log(layout.effect_stem("{checkpoint}", "{baseline}")),
    localrule: True
    shell:
        "nertransfer effect --cells {input.cells:q} --checkpoint {wildcards.checkpoint:q} --baseline {wildcards.baseline:q}"
        " --evaluations {params.evaluations:q} --resamples {params.resamples} --types {TYPES}"
        " --output-dir {L.results:q} > {log:q} 2>&1"

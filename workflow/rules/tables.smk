# Tables and heatmaps from every evaluation cell: small files under results/, committed.


rule tables:
    input:
        metrics=metrics_files(),
        records=[L.records(cell_id) for cell_id in CELLS],
        cards=[L.card(cell_id) for cell_id in CELLS],
    output:
        tables=zero_shot_tables(),
        made=L.tables_made,  # see common.smk
    log:
        L.log("tables"),
    localrule: True
    conda:
        "../envs/nertransfer.yaml"
    params:
        **TABLE_OPTIONS,  # --types, --std: only when not at their defaults (common.smk)
        seeds=canonical_json(EXP.seeds_per_row()),
        output_dir=results_folder,
    shell:
        "nertransfer tables --metrics {input.metrics:q} --runs {input.records:q} --output-dir {params.output_dir:q}"
        " --expected-seeds {params.seeds:q}"
        f"{option_text(TABLE_OPTIONS)}"  # ` --std {params.std:q}` when in params (only this f-string piece is filled in here)
        " > {log:q} 2>&1 && touch {output.made:q}"


# The study's analyses, from the long-form cells.csv the tables rule writes.


rule overlap:
    input:
        cells=L.result(layout.CELLS_TABLE),
        train=[EXP.dataset.file(language, "train") for name in TRAIN_LANGUAGES for language in EXP.languages_of(name)],
        test=[EXP.dataset.file(language, "test") for language in EXP.eval_languages],
    output:
        overlap_tables(),
    log:
        L.log("overlap"),
    localrule: True
    conda:
        "../envs/nertransfer.yaml"
    params:
        **DATASET_OPTIONS,  # --types, only when not the default
        train=overlap_training_files(),
        test=[f"{language}={EXP.dataset.file(language, 'test')}" for language in EXP.eval_languages],
        output_dir=results_folder,
    shell:
        "nertransfer overlap --cells {input.cells:q} --train {params.train:q} --test {params.test:q}"
        " --output-dir {params.output_dir:q}"
        f"{option_text(DATASET_OPTIONS)}"
        " > {log:q} 2>&1"


rule checkpoint_effect:
    input:
        cells=L.result(layout.CELLS_TABLE),
        evaluations=lambda w: [
            path
            for cell, language in EXP.effect_evaluations(w.checkpoint, w.baseline)
            for path in (L.predictions(cell.id, language), L.metrics(cell.id, language))
        ],
    output:
        effect_tables("{checkpoint}", "{baseline}"),
    log:
        L.log(layout.effect_stem("{checkpoint}", "{baseline}")),
    wildcard_constraints:
        checkpoint=_alternatives(EXP.checkpoints),
        baseline=_alternatives(EXP.checkpoints),
    localrule: True
    conda:
        "../envs/nertransfer.yaml"
    params:
        **DATASET_OPTIONS,  # --types, only when not the default
        evaluations=effect_evaluations,
        resamples=EXP.analyses["bootstrap_resamples"],
        output_dir=results_folder,
    shell:
        "nertransfer effect --cells {input.cells:q} --checkpoint {wildcards.checkpoint:q} --baseline {wildcards.baseline:q}"
        " --evaluations {params.evaluations:q} --resamples {params.resamples} --output-dir {params.output_dir:q}"
        f"{option_text(DATASET_OPTIONS)}"
        " > {log:q} 2>&1"

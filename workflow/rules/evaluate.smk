# Zero-shot evaluation: one job per fine-tuned model x evaluation language, so that editing
# one language's test file reruns only the evaluations on that language.


rule evaluate:
    input:
        # a pattern, not a function per job, unless some cell shares another's fine-tune (its model is the other's)
        model=L.model(CELL),
        test=EXP.dataset.path.replace("{split}", "test"),  # a pattern, not a function per job
        base=adapter_base if ADAPTERS else [],  # an adapter is loaded on the start it was trained from
        language_adapter=evaluation_language_adapter if MADX else [],
    output:
        predictions=L.predictions(CELL, "{language}"),
        metrics=L.metrics(CELL, "{language}"),
    log:
        L.log("evaluate", CELL, "{language}"),
    wildcard_constraints:
        row=row_constraint(shared=False),  # see share_evaluation
    conda:
        "../envs/nertransfer.yaml"
    threads: 1
    resources:
        gpus=1,
    params:
        args=lambda w: evaluate_arguments(cell_of(w), w.language),  # one params function: see train
    shell:
        "HF_HUB_OFFLINE=1 nertransfer evaluate --model {input.model:q} --test {input.test:q}"
        " --predictions {output.predictions:q} --metrics {output.metrics:q} {params.args} --threads {threads} > {log:q} 2>&1"


rule card:
    # The model card with dev and test (own-language: each language of a training set) metrics, beside the cell's model.
    input:
        run=L.records(CELL),
        test=lambda w: [L.metrics(cell_of(w).id, language) for language in EXP.own_languages(cell_of(w))],
    output:
        L.card(CELL),
    log:
        L.log("card", CELL),
    localrule: True
    conda:
        "../envs/nertransfer.yaml"
    shell:
        "nertransfer card --run {input.run:q} --test-metrics {input.test:q} --output {output:q} > {log:q} 2>&1"

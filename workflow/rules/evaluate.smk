# Zero-shot evaluation: one job per fine-tuned model x evaluation language, so that editing
# one language's test file reruns only the evaluations on that language.


def evaluate_arguments(cell, language):
    hp = EXP.hyperparameters(cell)
    axes = cell_axes(cell, eval_language=language)
    return (f"--max-length {hp['max_length']} --batch-size {hp['eval_batch_size']} --precision {hp['precision']} --cell {axes}"
            f" {sha256_option(test=EXP.dataset.file(language, 'test'))}" + label_set_option(cell))


rule evaluate:
    input:
        # a pattern, not a function per job, unless some cell shares another's fine-tune (its model is the other's)
        model=L.model(CELL),
        test=EXP.dataset.path.replace("{split}", "test"),  # a pattern, not a function per job
    output:
        predictions=L.predictions(CELL, "{language}"),
        metrics=L.metrics(CELL, "{language}"),
    params:
        args=lambda w: evaluate_arguments(cell_of(w), w.language),  # one params function: see train
    wildcard_constraints:
        row=(rf"(?!(?:{_alternatives(SHARED)})/)" if SHARED else "") + ROW_SHAPE,  # see share_evaluation
    log:
        L.log("evaluate", CELL, "{language}"),
    threads: 1
    resources:
        gpus=1,
    shell:
        "HF_HUB_OFFLINE=1 nertransfer evaluate --model {input.model:q} --test {input.test:q} --types {TYPES}"
        " --predictions {output.predictions:q} --metrics {output.metrics:q} {params.args} --threads {threads} > {log:q} 2>&1"


rule card:
    # The model card with dev and test (own-language) metrics, beside the cell's model.
    input:
        run=L.records(CELL),
        test=lambda w: L.metrics(cell_of(w).id, cell_of(w).train_language),
    output:
        L.card(CELL),
    localrule: True
    shell:
        "nertransfer card --run {input.run:q} --test-metrics {input.test:q} --output {output:q}"

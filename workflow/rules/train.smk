# Fine-tuning: one job per cell (checkpoint x training language x seed, and the further axes).


rule train:
    input:
        unpack(train_inputs),
    output:
        records=directory(L.records(CELL)),
        model=model_folder(L.model(CELL)),
    log:
        L.log("train", CELL),
    wildcard_constraints:
        row=row_constraint(shared=False),
    conda:
        "../envs/nertransfer.yaml"
    threads: 1  # one torch thread per job: parallel jobs, not oversubscribed cores (override with --set-threads)
    resources:
        gpus=1,
    params:
        # one params function, not three: Snakemake inspects each one per job, even in a dry run
        args=lambda w: train_arguments(cell_of(w)),
    shell:
        # how often the resumable state is saved is not a parameter of the cell: changing it reruns nothing (common.smk)
        "HF_HUB_OFFLINE=1 nertransfer train {params.args} --train {input.train:q} --dev {input.dev:q}"
        " --output {output.records:q} --model-output {output.model:q} --threads {threads}"
        ' --save-state-every-seconds "$NERTRANSFER_SAVE_STATE_EVERY_SECONDS" > {log:q} 2>&1'


rule share_fine_tune:
    input:
        lambda w: L.records(EXP.fine_tunes()[cell_of(w).id].id),
    output:
        directory(L.records(CELL)),
    log:
        L.log("share", CELL),
    wildcard_constraints:
        row=row_constraint(shared=True),
    localrule: True
    conda:
        "../envs/nertransfer.yaml"
    params:
        owner=lambda w: EXP.fine_tunes()[cell_of(w).id].id,
        axes=lambda w: cell_axes(cell_of(w)),
    shell:
        "nertransfer share --records {input:q} --fine-tune-of {params.owner:q} --cell {params.axes} --output {output:q}"
        " > {log:q} 2>&1"


rule share_evaluation:
    # the same model on the same test set: the fine-tune's evaluation, labelled as this cell's
    input:
        predictions=lambda w: L.predictions(EXP.fine_tunes()[cell_of(w).id].id, w.language),
        metrics=lambda w: L.metrics(EXP.fine_tunes()[cell_of(w).id].id, w.language),
    output:
        predictions=L.predictions(CELL, "{language}"),
        metrics=L.metrics(CELL, "{language}"),
    log:
        L.log("share", CELL, "{language}"),
    wildcard_constraints:
        row=row_constraint(shared=True),
    localrule: True
    conda:
        "../envs/nertransfer.yaml"
    params:
        evaluation=lambda w: L.evaluation(EXP.fine_tunes()[cell_of(w).id].id, w.language),
        output=lambda w: L.evaluation(cell_of(w).id, w.language),
        axes=lambda w: cell_axes(cell_of(w), eval_language=w.language),
    shell:
        "nertransfer share --evaluation {params.evaluation:q} --cell {params.axes} --output {params.output:q} > {log:q} 2>&1"

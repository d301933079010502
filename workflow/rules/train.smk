# Fine-tuning: one job per cell (checkpoint x training language x seed, and the further axes).


def train_inputs(wildcards):
    cell = cell_of(wildcards)
    inputs = {
        "train": EXP.dataset.file(cell.train_language, "train"),
        "dev": EXP.dataset.file(cell.train_language, "dev"),
    }
    if EXP.checkpoints[cell.checkpoint].kind != "path":  # built, downloaded, adapted, or another cell's model
        inputs["checkpoint"] = EXP.checkpoint_dir(cell)
    return inputs


def train_arguments(cell):
    """The cell's starting checkpoint, resolved hyperparameters and axes, as command-line options."""
    hyperparameters = shlex.quote(canonical_json(EXP.hyperparameters(cell)))
    data = sha256_option(train=EXP.dataset.file(cell.train_language, "train"), dev=EXP.dataset.file(cell.train_language, "dev"))
    return (f"--checkpoint {shlex.quote(EXP.checkpoint_dir(cell))} --hyperparameters {hyperparameters} --cell {cell_axes(cell)}"
            f" {data}" + label_set_option(cell))


def model_folder(path):
    """The fine-tuned model: kept, or (keep_models: false) deleted once its evaluations are done."""
    return directory(path) if EXP.keep_models else temp(directory(path))


# A cell whose start, data and settings are another cell's shares that cell's fine-tune
# (EXP.fine_tunes()); the few such cells are named in the constraints, not every cell.
SHARED = [cell_id for cell_id, owner in EXP.fine_tunes().items() if owner.id != cell_id]


rule train:
    input:
        unpack(train_inputs),
    output:
        records=directory(L.records(CELL)),
        model=model_folder(L.model(CELL)),
    params:
        # one params function, not three: Snakemake inspects each one per job, even in a dry run
        args=lambda w: train_arguments(cell_of(w)),
    wildcard_constraints:
        row=(rf"(?!(?:{_alternatives(SHARED)})/)" if SHARED else "") + ROW_SHAPE,  # every output is <row>/seed<k>/...
    log:
        L.log("train", CELL),
    threads: 1  # one torch thread per job: parallel jobs, not oversubscribed cores (override with --set-threads)
    resources:
        gpus=1,
    shell:
        # how often the resumable state is saved is not a parameter of the cell: changing it reruns nothing
        "HF_HUB_OFFLINE=1 nertransfer train {params.args} --train {input.train:q} --dev {input.dev:q} --types {TYPES}"
        " --output {output.records:q} --model-output {output.model:q} --threads {threads}"
        " --save-state-every-seconds {EXP.save_state_every_seconds} > {log:q} 2>&1"


rule share_fine_tune:
    input:
        lambda w: L.records(EXP.fine_tunes()[cell_of(w).id].id),
    output:
        directory(L.records(CELL)),
    params:
        owner=lambda w: EXP.fine_tunes()[cell_of(w).id].id,
        axes=lambda w: cell_axes(cell_of(w)),
    wildcard_constraints:
        row=rf"(?=(?:{_alternatives(SHARED)})/)" + ROW_SHAPE,
    localrule: True
    shell:
        "nertransfer share --records {input:q} --fine-tune-of {params.owner:q} --cell {params.axes} --output {output:q}"


rule share_evaluation:
    # the same model on the same test set: the fine-tune's evaluation, labelled as this cell's
    input:
        predictions=lambda w: L.predictions(EXP.fine_tunes()[cell_of(w).id].id, w.language),
        metrics=lambda w: L.metrics(EXP.fine_tunes()[cell_of(w).id].id, w.language),
    output:
        predictions=L.predictions(CELL, "{language}"),
        metrics=L.metrics(CELL, "{language}"),
    params:
        evaluation=lambda w: L.evaluation(EXP.fine_tunes()[cell_of(w).id].id, w.language),
        output=lambda w: L.evaluation(cell_of(w).id, w.language),
        axes=lambda w: cell_axes(cell_of(w), eval_language=w.language),
    wildcard_constraints:
        row=rf"(?=(?:{_alternatives(SHARED)})/)" + ROW_SHAPE,
    localrule: True
    shell:
        "nertransfer share --evaluation {params.evaluation:q} --cell {params.axes} --output {params.output:q}"

# Fine-tuning: one job per cell (checkpoint x training language x seed, and the further axes).


def train_inputs(wildcards):
    cell = CELLS[wildcards.cell]
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
    return (f"--checkpoint {shlex.quote(EXP.checkpoint_dir(cell))} --hyperparameters {hyperparameters} --cell {cell_axes(cell)}"
            + label_set_option(cell))


def model_folder(path):
    """The fine-tuned model: kept, or (keep_models: false) deleted once its evaluations are done."""
    return directory(path) if EXP.keep_models else temp(directory(path))


rule train:
    input:
        unpack(train_inputs),
    output:
        records=directory(L.records("{cell}")),
        model=model_folder(L.model("{cell}")),
    params:
        # one params function, not three: Snakemake inspects each one per job, even in a dry run
        args=lambda w: train_arguments(CELLS[w.cell]),
    log:
        L.log("train", "{cell}"),
    threads: 1  # one torch thread per job: parallel jobs, not oversubscribed cores (override with --set-threads)
    resources:
        gpus=1,
    shell:
        # how often the resumable state is saved is not a parameter of the cell: changing it reruns nothing
        "HF_HUB_OFFLINE=1 nertransfer train {params.args} --train {input.train:q} --dev {input.dev:q} --types {TYPES}"
        " --output {output.records:q} --model-output {output.model:q} --threads {threads}"
        " --save-state-every-seconds {EXP.save_state_every_seconds} > {log:q} 2>&1"

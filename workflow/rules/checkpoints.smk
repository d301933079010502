# Starting checkpoints: built offline from a recipe, downloaded once on the submit host, or adapted.


rule build_recipe:
    # The recipe is a starting point like a downloaded model: it is rebuilt when its settings
    # or the dataset's language list change, not when a training file is edited (ancient), so
    # fixing one language's data reruns only that language's cells. Force: -R build_recipe.
    # A pretrained recipe (multilingual-e5-small) reads no data: its tokenizer is fixed.
    input:
        lambda w: ancient([EXP.dataset.file(*read) for read in EXP.checkpoints[w.recipe].reads(EXP.dataset, None)]),
    output:
        directory(L.checkpoint("{recipe}")),
    log:
        L.log("build_recipe", "{recipe}"),
    wildcard_constraints:
        recipe=_alternatives(EXP.made_by("build_recipe")),
    localrule: True
    conda:
        "../envs/nertransfer.yaml"
    threads: 2
    params:
        settings=lambda w: canonical_json(EXP.checkpoints[w.recipe].recipe),
    shell:
        "nertransfer build-recipe --train-files {input:q} --settings {params.settings:q} --output {output:q} > {log:q} 2>&1"


rule prefetch_checkpoint:
    # One download per repository and revision, whichever checkpoints (and languages) name it.
    output:
        directory(L.hub_checkpoint("{repo}", "{revision}")),
    log:
        L.log("prefetch", "{repo}", "{revision}"),
    wildcard_constraints:
        repo=r"[^/]+/[^/]+",
        revision=r"[^/]+",
    localrule: True
    conda:
        "../envs/nertransfer.yaml"
    shell:
        "nertransfer prefetch --hub {wildcards.repo:q} --revision {wildcards.revision:q} --output {output:q} > {log:q} 2>&1"


rule adapt_checkpoint:
    # Language-adaptive pretraining: masked-LM training continued on one language's training
    # text. A new starting checkpoint per language; editing that text reruns it and its cells.
    input:
        checkpoint=lambda w: EXP.start_dir(EXP.checkpoints[w.adapted].source),
        text=EXP.dataset.path.replace("{split}", "train"),
    output:
        directory(L.checkpoint("{adapted}", "{language}")),
    log:
        L.log("adapt", "{adapted}", "{language}"),
    wildcard_constraints:
        adapted=_alternatives(EXP.made_by("adapt_checkpoint")),
    conda:
        "../envs/nertransfer.yaml"
    threads: 1
    resources:
        gpus=1,
    params:
        **DATASET_OPTIONS,  # --types, only when not the default (common.smk)
        settings=lambda w: canonical_json(EXP.adaptation_settings(w.adapted)),
    shell:
        "HF_HUB_OFFLINE=1 nertransfer adapt --checkpoint {input.checkpoint:q} --text {input.text:q}"
        " --settings {params.settings:q} --output {output:q} --threads {threads}"
        f"{option_text(DATASET_OPTIONS)}"
        " > {log:q} 2>&1"

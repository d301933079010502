# Starting checkpoints: built offline from a recipe, or downloaded once on the submit host.


rule build_recipe:
    # The recipe is a starting point like a downloaded model: it is rebuilt when its settings
    # or the dataset's language list change, not when a training file is edited (ancient), so
    # fixing one language's data reruns only that language's cells. Force: -R build_recipe.
    input:
        ancient([EXP.dataset.file(language, "train") for language in EXP.dataset.languages]),
    output:
        directory(f"{WORK}/checkpoints/{{recipe}}"),
    params:
        settings=lambda w: canonical_json(EXP.checkpoints[w.recipe].recipe),
    wildcard_constraints:
        recipe=_alternatives(RECIPES),
    log:
        f"{WORK}/logs/build_recipe/{{recipe}}.log",
    localrule: True
    threads: 2
    shell:
        "nertransfer build-recipe --train-files {input:q} --settings {params.settings:q} --output {output:q} > {log:q} 2>&1"


rule prefetch_checkpoint:
    output:
        directory(f"{WORK}/checkpoints/{{hub}}"),
    params:
        repo=lambda w: EXP.checkpoints[w.hub].source,
        revision=lambda w: EXP.checkpoints[w.hub].revision or "main",
    wildcard_constraints:
        hub=_alternatives(HUB),
    log:
        f"{WORK}/logs/prefetch/{{hub}}.log",
    localrule: True
    shell:
        "nertransfer prefetch --hub {params.repo:q} --revision {params.revision:q} --output {output:q} > {log:q} 2>&1"


rule prefetch_language_checkpoint:
    output:
        directory(f"{WORK}/checkpoints/{{template}}/{{language}}"),
    params:
        repo=lambda w: EXP.checkpoints[w.template].hub_id(w.language, EXP.dataset),
        revision=lambda w: EXP.checkpoints[w.template].revision or "main",
    wildcard_constraints:
        template=_alternatives(HUB_PER_LANGUAGE),
    log:
        f"{WORK}/logs/prefetch/{{template}}/{{language}}.log",
    localrule: True
    shell:
        "nertransfer prefetch --hub {params.repo:q} --revision {params.revision:q} --output {output:q} > {log:q} 2>&1"


def adapt_source(wildcards):
    """The checkpoint that language-adaptive pretraining continues (built, downloaded or a path)."""
    source = EXP.checkpoints[EXP.checkpoints[wildcards.adapted].source]
    return source.source if source.kind == "path" else f"{WORK}/checkpoints/{source.name}"


rule adapt_checkpoint:
    # Language-adaptive pretraining: masked-LM training continued on one language's training
    # text. A new starting checkpoint per language; editing that text reruns it and its cells.
    input:
        checkpoint=adapt_source,
        text=EXP.dataset.path.replace("{split}", "train"),
    output:
        directory(f"{WORK}/checkpoints/{{adapted}}/{{language}}"),
    params:
        settings=lambda w: canonical_json(EXP.checkpoints[w.adapted].adapt),
    wildcard_constraints:
        adapted=_alternatives(ADAPTED),
    log:
        f"{WORK}/logs/adapt/{{adapted}}/{{language}}.log",
    threads: 1
    resources:
        gpus=1,
    shell:
        "HF_HUB_OFFLINE=1 nertransfer adapt --checkpoint {input.checkpoint:q} --text {input.text:q} --types {TYPES}"
        " --settings {params.settings:q} --output {output:q} --threads {threads} > {log:q} 2>&1"

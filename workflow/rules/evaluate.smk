# Zero-shot evaluation: one job per fine-tuned model x evaluation language, so that editing
# one language's test file reruns only the evaluations on that language.


rule evaluate:
    input:
        model=f"{WORK}/runs/{{cell}}/model",
        test=lambda w: EXP.dataset.file(w.language, "test"),
    output:
        predictions=f"{WORK}/runs/{{cell}}/eval/{{language}}/predictions.conll",
        metrics=f"{WORK}/runs/{{cell}}/eval/{{language}}/metrics.json",
    params:
        cell=lambda w: cell_axes(CELLS[w.cell], eval_language=w.language),
        max_length=lambda w: EXP.hyperparameters(CELLS[w.cell])["max_length"],
        batch_size=lambda w: EXP.hyperparameters(CELLS[w.cell])["eval_batch_size"],
    log:
        f"{WORK}/logs/evaluate/{{cell}}/{{language}}.log",
    threads: 1
    resources:
        gpus=1,
    shell:
        "HF_HUB_OFFLINE=1 nertransfer evaluate --model {input.model} --test {input.test} --types {TYPES}"
        " --predictions {output.predictions} --metrics {output.metrics} --max-length {params.max_length}"
        " --batch-size {params.batch_size} --cell '{params.cell}' --threads {threads} > {log} 2>&1"


rule card:
    # The model card with dev and test (own-language) metrics, beside the cell's model.
    input:
        run=f"{WORK}/runs/{{cell}}/train",
        test=lambda w: f"{WORK}/runs/{w.cell}/eval/{CELLS[w.cell].train_language}/metrics.json",
    output:
        f"{WORK}/runs/{{cell}}/README.md",
    localrule: True
    shell:
        "nertransfer card --run {input.run} --test-metrics {input.test} --output {output}"

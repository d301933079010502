# Tables and heatmaps from every evaluation cell: small files under results/, committed.


rule tables:
    input:
        metrics=metrics_files(),
        cards=card_files(),
    output:
        table_files(),
    log:
        f"{WORK}/logs/tables.log",
    localrule: True
    shell:
        "nertransfer tables --metrics {input.metrics} --types {TYPES} --output-dir {RESULTS} > {log} 2>&1"

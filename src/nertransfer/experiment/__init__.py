"""The experiment: what a config may say (`config.schema.yaml`, `config`), the matrix it expands to
(`matrix`: datasets, checkpoints, cells) and where every file of it goes (`layout`).

The bottom layer: plain Python, imported by everything else, importing nothing of the package.
"""

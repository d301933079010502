"""Files and corpora: atomic writes and locks (`files`), CoNLL reading and writing (`conll`), and what a
data file holds, checked once per content (`fingerprints`). No torch."""

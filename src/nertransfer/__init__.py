"""nertransfer: cross-lingual transfer experiments for named entity recognition.

The package is layered so that cheap work stays cheap: reading CoNLL files (`conll`),
scoring (`metrics`) and tables (`tables`) never import torch; only `recipe`, `train` and
`predict` do, and the command line (`cli`) imports them lazily per subcommand.
"""

__version__ = "0.1.0"

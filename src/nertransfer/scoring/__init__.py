"""Scores: entity-level precision, recall and F1 as conlleval and seqeval count them (`metrics`), and the
paired bootstrap behind the effect tables' intervals (`bootstrap`). No torch."""

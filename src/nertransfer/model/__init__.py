"""Model steps, the only layer that imports torch and transformers: building the offline recipe (`recipe`),
fetching hub checkpoints (`hub`), fine-tuning (`train`), prediction and evaluation (`predict`,
`evaluate`), language-adaptive pretraining (`adapt`), and what they share (`device`, `encoding`, `collation`)."""

"""From records to results: the records a run writes and reads back (`records`), tables and figures
(`tables`, `rendering`), the study's analyses (`overlap`, `checkpoint_effects`, `grid_search`,
`learning_curve`) and model cards (`card`). No torch: a table never waits for it to import."""

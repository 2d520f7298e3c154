"""The fastai text adapter: recognises a text learner by its data pipeline (a `Tokenizer` and a
`Numericalize`), tokenises raw strings with the learner's own tokenizer and vocabulary, splits them into
units (words, sentences, tokens) mapped to character offsets in the original text, and runs the whole
model on token ids in batches that give exactly what the model gives for each note alone."""

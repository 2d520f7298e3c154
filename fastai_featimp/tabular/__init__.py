"""The fastai tabular adapter: what a tabular learner expects (`schema`), the one function that turns a
DataFrame or a DataLoader into the model's tensors (`data`), the variables and groups reported
(`variables`), and the training recipe read back from a learner (`recipe`)."""

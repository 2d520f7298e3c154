"""The numerical core: torch, numpy, pandas and scipy only, no fastai.

Everything here works on input tensors, a forward function and a scoring function, so it can be tested
(and reused) without a Learner: chunked forward passes, permutations, Shapley coalitions, association
measures, statistics, seeding, argument checks, and leaving the caller's process as it was."""

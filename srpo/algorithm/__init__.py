"""SRPO's algorithm, free of verl: typed config, History Resampling, the two-stage curriculum, the
prompt sampler that combines them, optional pre-rollout skipping and the group-normalised advantage.
Read in this order: config, history, curriculum, skipping, sampler, advantage."""

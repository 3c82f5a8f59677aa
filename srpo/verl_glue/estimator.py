"""Registers SRPO's advantage (``srpo.algorithm.advantage``) as verl's ``algorithm.adv_estimator=srpo``."""

from verl.trainer.ppo.core_algos import register_adv_est

from srpo.algorithm.advantage import ESTIMATOR_NAME, compute_srpo_outcome_advantage

register_adv_est(ESTIMATOR_NAME)(compute_srpo_outcome_advantage)

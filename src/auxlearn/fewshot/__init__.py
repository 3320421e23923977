"""Few-shot adaptation after multi-task pre-training of skills and routing (MTTL): ``auxlearn adapt``."""

from auxlearn.fewshot.arms import ARMS
from auxlearn.fewshot.study import run_fewshot

__all__ = ["ARMS", "run_fewshot"]

"""The transfer atlas: every (primary, candidate) pair's measured gain over the primary alone and over a control
as long, over paired seeds; the ground truth selectors are scored against, and what the ``atlas`` selector
predicts from."""

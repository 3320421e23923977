"""The kit reports are built with, below the methods that describe their own results: blocks (what a report is
made of), plots (its figures), html and markdown (its renderings), method (a method's part of it) and run_data
(what a run folder holds). The reports themselves (``auxlearn.report``) stand above the methods."""

"""The job types analysis registers with the runner (apply registers its own)."""

from analysis.generate import ANALYSIS_JOB, run_analysis
from jobs.runner import job_type

# AI work runs on its own queue; analyses may overlap (each writes its own plan).
job_type(ANALYSIS_JOB, queue="ai")(run_analysis)

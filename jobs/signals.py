from django.dispatch import Signal

# Sent after a job reaches a terminal status, however it got there: its body returned or
# raised, it was cancelled, or recovery failed it because its worker was lost. ``sender``
# is the Job class and ``job`` the row (receivers check ``job.type``). It lets an app tidy
# up after its own jobs without jobs knowing any job body.
job_finished = Signal()

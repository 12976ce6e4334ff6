"""What StashHog does on its own: schedules, the workflow job, Stash hooks, notifications."""

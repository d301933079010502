"""How jobs run and how a run is watched: forked or reused workers with torch imported (`warm`), a job's
processes and its signals (`job_processes`), and the state of every cell (`status`, `status_views`)."""

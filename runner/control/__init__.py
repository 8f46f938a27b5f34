"""Run control: recipe catalogue, launch specs, detached supervisors, queue, stop/resume/rm."""

"""What needs doing: prompts, jobs and their keys, the plan, and the checks made before a run."""

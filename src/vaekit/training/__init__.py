"""The training loop, checkpoints, metrics log and schedules."""

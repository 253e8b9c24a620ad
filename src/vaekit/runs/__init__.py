"""A run folder has one owner: its layout, atomic files, checkpoints, metrics log, lock and loading."""

from vaekit.runs.checkpoint import load_checkpoint, save_checkpoint, write_json
from vaekit.runs.load import Run, check_resumable, init_weights, load, load_run, read_run_config, read_stats
from vaekit.runs.lock import RunLock, check_writable
from vaekit.runs.metrics import MetricsLog, NullLog, read_metrics, summary_writer_class, truncate_metrics
from vaekit.runs.paths import RunPaths, default_run_dir

__all__ = [
    "MetricsLog", "NullLog", "Run", "RunLock", "RunPaths", "check_resumable", "check_writable", "default_run_dir",
    "init_weights", "load", "load_checkpoint", "load_run", "read_metrics", "read_run_config", "read_stats",
    "save_checkpoint", "summary_writer_class", "truncate_metrics", "write_json",
]

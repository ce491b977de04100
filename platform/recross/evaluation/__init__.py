"""Metrics (SoftEM, EM) and reports (Table 1, the task-distribution heatmap)."""

from recross.evaluation.metrics import exact_match, normalize_answer, score_predictions, soft_em
from recross.evaluation.reports import (
    ReportPaths,
    Table1,
    build_table1,
    plot_task_shares,
    table1_markdown,
    write_report,
)

__all__ = ["ReportPaths", "Table1", "build_table1", "exact_match", "normalize_answer",
           "plot_task_shares", "score_predictions", "soft_em", "table1_markdown", "write_report"]

"""The report asset: Table 1 and the Figure-3 heatmap over whatever evaluations exist."""

import dagster as dg
from recross.pipeline.reporting import build_report

from recross_assets.defs.targets import evaluations
from recross_assets.failures import explain_missing_inputs
from recross_assets.resources import RecrossResource


@dg.asset(group_name="report", deps=[evaluations],
          description="Table 1 (SoftEM, gold NLL, rank accuracy: mean +- std per target and "
                      "retriever, all@mean/median/min/max), paired deltas vs none/random with "
                      "intervals, collapse diagnostics, and the retrieved-task heatmap, from "
                      "every stored evaluation.")
def report(context: dg.AssetExecutionContext, recross: RecrossResource) -> dg.MaterializeResult:
    with explain_missing_inputs(context):
        result = build_report(recross.settings())
    return dg.MaterializeResult(metadata={
        "table": dg.MetadataValue.md(result.markdown),
        "evaluations": result.evaluations,
        "table_csv": dg.MetadataValue.path(str(result.paths.table_csv)),
        "heatmap": dg.MetadataValue.path(str(result.paths.heatmap_png)),
    })

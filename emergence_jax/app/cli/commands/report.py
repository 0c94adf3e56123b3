"""``emergence-jax report RUN_DIR [--fit FIT_DIR] [--out DIR] [--loss-metric M]``: figures and an
index for a run."""

from __future__ import annotations

HELP = "write a report folder (PNG figures, index.md/html, tables) for a run store and its fit"


def add_arguments(parser) -> None:
    parser.add_argument("run_dir", help="run store directory")
    parser.add_argument("--fit", default=None,
                        help="fit directory (default: RUN_DIR/fit if it exists; none = no fit)")
    parser.add_argument("--out", default=None, help="report directory (default: RUN_DIR/report)")
    parser.add_argument("--metric", default=None, help="metric (default: the fitted one)")
    parser.add_argument("--threshold", type=float, default=None,
                        help="success threshold (default: the fit's, else the run's "
                             "analysis.threshold)")
    parser.add_argument("--aligned", nargs="+", default=None, metavar="METRIC",
                        help="metrics to align at each seed's emergence step (default: the "
                             "success metric, the training loss, each evaluation set's summary "
                             "metrics and the attention probes' best heads)")
    parser.add_argument("--loss-metric", default=None, metavar="METRIC",
                        help="pre-training loss metric (e.g. test/loss) to plot and fit the "
                             "metric against (loss_axis.png); '' = none (default: the fit's, else "
                             "the run's analysis.loss_metric)")


def run(args) -> int:
    from emergence_jax.app.report import write_report
    from emergence_jax.io.location import Location

    fit = args.fit
    beside = Location(args.run_dir).child("fit")
    if fit is None and beside.is_local and beside.local.exists():
        fit = beside.local
    elif fit == "none":
        fit = None
    index = write_report(args.run_dir, fit, args.out, metric=args.metric,
                         threshold=args.threshold, aligned=args.aligned,
                         loss_metric=args.loss_metric)
    print(f"report: {index} (and index.html beside it)")
    return 0

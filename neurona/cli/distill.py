"""``neurona distill --teacher MODEL --student mlp --hidden 100 [--epochs 10] [-T 4] [--alpha 0.9]``:
knowledge distillation of a small student from a trained teacher's softened outputs."""
from __future__ import annotations

from .. import io
from . import compression as C
from .options import at_least_one, parse_ints, positive, weight
from .output import CLIError, say
from .trained import open_model

NAME = "distill"


def add_parser(sub):
    d = sub.add_parser(
        NAME, help="train a small student network from a trained teacher's softened outputs",
        description="Knowledge distillation: loss α T² KL(teacher_T ‖ student_T) + (1 − α) CE; the same student "
                    "is also trained alone for comparison (unless --no-baseline).")
    d.add_argument("--teacher", required=True, help="the teacher's model file or run folder")
    d.add_argument("--student", default="mlp", help="registered model name of the student (default mlp)")
    d.add_argument("--hidden", help="the student's hidden layer sizes (default 100)")
    d.add_argument("--activation", help="the student's activation (default relu)")
    d.add_argument("--epochs", type=at_least_one, default=10, help="training epochs (default 10)")
    d.add_argument("-T", "--temperature", type=positive, default=2.0, help="softmax temperature T (default 2)")
    d.add_argument("--alpha", type=weight, default=0.5, help="weight α of the soft targets, in [0, 1] (default 0.5)")
    d.add_argument("--no-baseline", dest="no_baseline", action="store_true",
                   help="skip training the student alone")
    C.data_flag(d)
    C.training_flags(d)
    C.output_flags(d)
    return d


def run(args) -> int:
    from .. import manual_seed, nn
    from ..compress import distill
    from ..models.registry import build_model, get_model_spec
    from ..train import fit

    quiet = bool(args.quiet)
    f, teacher = open_model(args.teacher)
    path = f.path
    md = C.classification_data(f, args.data)
    data, X_te = md.data, md.X_test
    opts = dict(f.metadata.get("options") or {})
    hidden = parse_ints(args.hidden, "--hidden") if args.hidden is not None else [100]
    try:
        spec = get_model_spec(args.student)
    except KeyError as e:
        raise CLIError(str(e)) from None
    options = {"hidden": hidden, "activation": args.activation or "relu", "dropout": 0.0, "batch_norm": False}
    config = spec.from_cli(data.info(), options) if spec.from_cli is not None else {}
    seed = int(args.seed if args.seed is not None else opts.get("seed", 0))
    epochs = int(args.epochs)

    def new_student():
        manual_seed(seed)
        return build_model(args.student, **config)

    student = new_student()
    optimizer, train, val = C.train_parts(args, student, md, opts)
    verbose = 0 if quiet else 2
    say(f"== the student {args.student} {hidden}, distilled from the teacher (T={args.temperature:g}, "
        f"α={args.alpha:g}) ==", quiet)
    history = distill(student, teacher, train, val=val, epochs=epochs, T=args.temperature, alpha=args.alpha,
                      optimizer=optimizer, verbose=verbose)
    rows = [C.stats("teacher", teacher, X_te, data.y_test, path)]
    with C.run_folder(args, "distill", path) as folder:
        run_dir = folder.path
        opts.update({"model": args.student, "hidden": hidden})
        meta = C.meta(f, "distill", {"distillation": {"teacher": str(path), "T": args.temperature, "alpha": args.alpha,
                                                      "epochs": epochs}, "options": opts})
        io.save(student, run_dir / "model.npz", preprocessing=f.preprocessing, **meta)
        rows.append(C.stats(f"student {args.student} {hidden} distilled", student, X_te, data.y_test,
                            run_dir / "model.npz"))
        metrics = {"dataset": data.name, "T": args.temperature, "alpha": args.alpha, "epochs": epochs,
                   "teacher_accuracy": rows[0]["accuracy"], "distilled_accuracy": rows[1]["accuracy"],
                   "history": history.history}
        extra = []
        if not args.no_baseline:
            say("== the same student trained alone, from the same initial weights (the baseline) ==", quiet)
            alone = new_student()
            opt2, train2, val2 = C.train_parts(args, alone, md, opts)
            h2 = fit(alone, nn.CrossEntropyLoss(), opt2, train2, val=val2, epochs=epochs, verbose=verbose)
            alone.eval()
            io.save(alone, run_dir / "model_alone.npz", preprocessing=f.preprocessing, **meta)
            rows.append(C.stats(f"student {args.student} {hidden} alone", alone, X_te, data.y_test,
                                run_dir / "model_alone.npz"))
            metrics.update(alone_accuracy=rows[2]["accuracy"], gain=rows[1]["accuracy"] - rows[2]["accuracy"],
                           history_alone=h2.history)
            extra.append("model_alone.npz")
        C.write_results(run_dir, rows, metrics, extra)
        folder.keep()
    return 0

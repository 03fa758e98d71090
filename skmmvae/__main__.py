"""Command line of skmmvae: ``python -m skmmvae demo|fit|impute|embed ...`` (see :mod:`skmmvae.cli`)."""
import argparse
import sys


def main(argv=None):
    """Parse ``argv`` (default: ``sys.argv[1:]``) and run the chosen command."""
    from . import __version__, cli, demo

    parser = argparse.ArgumentParser(
        prog="python -m skmmvae",
        description="Multi-modal variational autoencoders for scikit-learn.",
    )
    parser.add_argument("--version", action="version", version=f"skmmvae {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    demo_parser = commands.add_parser(
        "demo",
        help="train a multi-modal VAE on the digits (image quadrants + label) and evaluate it",
        description=(
            "Train a MultiModalVAE with default parameters on scikit-learn's digits split into "
            "four image quadrants and the label, with quadrants and labels missing in training; "
            "report the held-out log-likelihood, the error of imputing a hidden quadrant "
            "(against IterativeImputer, KNNImputer and mean imputation) and the label accuracy "
            "from the top half of the image (against LogisticRegression); write a figure."
        ),
    )
    demo.build_parser(demo_parser)
    cli.add_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo.run_demo(epochs=args.epochs, aggregation=args.aggregation, objective=args.objective,
                      output=args.output, seed=args.seed)
        return 0
    return cli.run(args)


if __name__ == "__main__":
    sys.exit(main())

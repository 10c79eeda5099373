#!/bin/sh
# EDF job image entrypoint.
#   train            -> SageMaker training contract: python -m edf.jobs.train
#   <job> [ARGS...]  -> python -m edf.jobs.<job> ARGS (features, validate, evaluate, forecast, optimize)
#   anything else    -> executed as given (processing jobs normally override the entrypoint with
#                       ["python", "-m", "edf.jobs.<job>", ...] and never reach this script)
set -eu

if [ "$#" -eq 0 ]; then
    set -- train
fi

case "$1" in
    train)
        shift
        exec python -m edf.jobs.train "$@"
        ;;
    features|validate|evaluate|forecast|optimize)
        job="$1"
        shift
        exec python -m "edf.jobs.${job}" "$@"
        ;;
    serve)
        echo "edf image: real-time serving is not supported (batch forecasts only)" >&2
        exit 64
        ;;
    *)
        exec "$@"
        ;;
esac

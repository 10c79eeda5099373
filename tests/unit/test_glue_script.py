"""The Glue script of the feature job: Glue's argument list in, the feature job's options out."""

from __future__ import annotations

import pytest

from edf.config import SparkEngineConfig, load_config
from edf.jobs import features
from edf.jobs.glue_features import job_arguments

KNOWN = {opt for action in features.parser()._actions for opt in action.option_strings}


def test_glue_own_arguments_are_separated_from_the_jobs():
    argv = ["--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1", "--mode", "training", "--TempDir", "s3://b/tmp/",
            "--processed=s3://b/processed_edf_data/", "--job-bookmark-option", "job-bookmark-disable",
            "--overrides", '{"edf_training": {"train_start_date": null}}']
    ours, others = job_arguments(argv, KNOWN)
    assert ours == ["--mode", "training", "--processed", "s3://b/processed_edf_data/",
                    "--overrides", '{"edf_training": {"train_start_date": null}}']
    assert others == {"--JOB_ID": "j_1", "--JOB_RUN_ID": "jr_1", "--TempDir": "s3://b/tmp/",
                      "--job-bookmark-option": "job-bookmark-disable"}
    assert features.parse_args(ours).processed == "s3://b/processed_edf_data/"


@pytest.mark.parametrize("argv", [["training"], ["--mode"]])
def test_malformed_argument_lists_are_rejected(argv):
    with pytest.raises(ValueError):
        job_arguments(argv, KNOWN)


def test_spark_engine_config_is_typed():
    cfg = load_config()
    assert cfg.edf_spark.training.number_of_workers >= 2 and cfg.edf_spark.glue_version == "5.0"
    with pytest.raises(ValueError, match="local_master"):
        SparkEngineConfig(local_master="yarn")
    with pytest.raises(ValueError):
        load_config(None, {"edf_spark": {"training": {"worker_type": "G.3X"}}})
    with pytest.raises(ValueError):
        load_config(None, {"edf_spark": {"inference": {"number_of_workers": 1}}})


def test_processed_window_is_the_lookback_at_inference_and_the_training_dates_in_training():
    import datetime as dt

    cfg = load_config(None, {"edf_training": {"train_start_date": "2017-01-01", "train_end_date": "2017-03-01"}})
    inference = features.parse_args(["--mode", "inference", "--origin", "2017-08-01T00:00:00Z"])
    lookback = cfg.common_feature_eng.lookback_days_default
    assert features.processed_window(inference, cfg) == (dt.datetime(2017, 8, 1) - dt.timedelta(days=lookback),
                                                          dt.datetime(2017, 8, 1))
    assert features.processed_window(features.parse_args(["--mode", "inference"]), cfg) == (None, None)
    training = features.parse_args(["--mode", "training"])
    assert features.processed_window(training, cfg) == (dt.datetime(2017, 1, 1), dt.datetime(2017, 3, 1))
    assert features.processed_window(training, load_config()) == (None, None)

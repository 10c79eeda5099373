"""Evaluation: metrics, the rolling-origin backtest and the evaluation report (JSON + PNG plots)."""

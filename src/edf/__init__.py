"""EDF: building electricity demand and rooftop-solar forecasting on AWS."""

__version__ = "0.1.0"

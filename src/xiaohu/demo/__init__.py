"""The demo: a synthetic data set (`data.py`) and the numbers worth trying in it (`numbers.py`)."""

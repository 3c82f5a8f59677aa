"""Tools around training runs: metrics reports and plots, unbiased pass@k."""

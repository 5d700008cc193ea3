"""Analysis of recordings: metrics, spike statistics, V1 comparisons and figures."""

"""The commands' work: score, filter, pairs, calibrate, revise, each a task the driver runs."""

"""Cascades of judges (Trust or Escalate): model (cascade.json, thresholds chosen on human labels),
run (--cascade: the judges in turn, in the place of one judge), fit (judge calibrate
--escalate-to: every judge on the labels, then the thresholds)."""

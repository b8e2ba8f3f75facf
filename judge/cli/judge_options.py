"""Who judges, on score, filter, pairs and calibrate: the model options (-m, repeatable), --batch,
a panel (--judges, --quorum) and a cascade (--cascade)."""

from judge.cli.cascade_args import cascade_option
from judge.cli.common import batch_options, model_options, stack
from judge.cli.panel_options import panel_options

judge_options = stack(model_options, batch_options, panel_options, cascade_option)

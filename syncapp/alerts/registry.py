"""Every watched condition: each feature declares its own in `<feature>/alerts.py` (`CONDITIONS`,
a list of conditions.Condition); `FEATURES` lists those modules, as scheduler.py lists the
`<feature>/background.py` ones. The evaluator runs `CONDITIONS` in this order."""

from __future__ import annotations

from ..backups import alerts as backups_alerts
from ..cloud import alerts as cloud_alerts
from ..cordiax import alerts as cordiax_alerts
from ..documents import alerts as documents_alerts
from ..restic import alerts as restic_alerts
from ..scrub import alerts as scrub_alerts
from ..syncs import alerts as syncs_alerts
from . import store_conditions
from .conditions import Condition

FEATURES = (
    backups_alerts,
    cordiax_alerts,
    syncs_alerts,
    cloud_alerts,
    documents_alerts,
    restic_alerts,
    scrub_alerts,
    store_conditions,
)
CONDITIONS: list[Condition] = [
    condition for feature in FEATURES for condition in feature.CONDITIONS
]
#: every kind of alert, as Alert.kind and the API's filter name them
KINDS: tuple[str, ...] = tuple(condition.kind for condition in CONDITIONS)

"""Trade statistics: rollups kept in the contract's own transaction, targets, exports, charts, dashboard."""

from contracts.statistics.rollups import install as _install_rollup_listener

_install_rollup_listener()

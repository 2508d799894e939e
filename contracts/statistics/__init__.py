"""Trade statistics: rollups kept in the contract's own transaction, targets, exports, charts, dashboard.

The rollup listener (``rollups.install``) is installed by the composition root, not on import.
"""

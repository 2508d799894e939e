"""The statistics routers, for the composition root to include: the API and the admin dashboard."""

from contracts.statistics.dashboard import router as dashboard_router
from contracts.statistics.endpoints import router as statistics_router

ROUTERS = (statistics_router, dashboard_router)

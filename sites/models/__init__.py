"""Where and what: Jakarta's areas, and the camera inventory (poles, sites, cameras)."""

from sites.models.areas import Area, AreaBoundary, AreaLevel, RawanLevel, RawanLevelChange
from sites.models.health import (
    CameraHealth,
    CameraStatusChange,
    HealthStatus,
    HealthSweep,
    Outage,
    SweepBatch,
    SweepStatus,
)
from sites.models.inventory import (
    POLE_SLOT_HOLDING_STATUSES,
    SITE_TRANSITIONS,
    Camera,
    HostKind,
    Site,
    SiteStatus,
    SiteStatusChange,
    UtilityPole,
)

__all__ = [
    "POLE_SLOT_HOLDING_STATUSES",
    "SITE_TRANSITIONS",
    "Area",
    "AreaBoundary",
    "AreaLevel",
    "Camera",
    "CameraHealth",
    "CameraStatusChange",
    "HealthStatus",
    "HealthSweep",
    "Outage",
    "SweepBatch",
    "SweepStatus",
    "HostKind",
    "RawanLevel",
    "RawanLevelChange",
    "Site",
    "SiteStatus",
    "SiteStatusChange",
    "UtilityPole",
]

"""Authorization matrix entries of the attachment routes: every visibility × every role.

Who sees a file: whoever may see its holder sees ``public`` ones; the holder's owner or parties and
the admins governing it see ``parties``; the uploading organization (and those admins) ``owner``;
only those admins ``admin``. A deal has no governing admin (no admin sees a deal at all). Lists are
checked item by item against the rows (zero leaks) and for completeness on the seeded files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from market.attachments.models import Attachment
from tests.hardening.world import ATTACHMENT_HOLDERS, ATTACHMENT_LEVELS, EVERYONE, OWNER, World

if TYPE_CHECKING:
    from tests.hardening.test_authorization_matrix import Case

REVIEWERS = frozenset({"region_admin", "platform_admin"})  # govern the owning organization's 盟市 (150200)
NOBODY: frozenset[str] = frozenset()
PATHS = {"achievements": "achievements", "demands": "demands", "deals": "deals", "contracts": "contracts"}
SEES_HOLDER = {
    "achievements": EVERYONE,  # published
    "demands": EVERYONE,
    "deals": OWNER,  # the owner's organization is the seller; the buyer is a helper account
    "contracts": OWNER | REVIEWERS,
}
GOVERNS = {"achievements": REVIEWERS, "demands": REVIEWERS, "deals": NOBODY, "contracts": REVIEWERS}


def sees(holder: str, level: str, role: str, *, uploaded_by_owner: bool = True) -> bool:
    if role not in SEES_HOLDER[holder]:
        return False
    if role in GOVERNS[holder]:
        return True
    if level == "public":
        return True
    if level in ("parties", "owner"):
        return role in OWNER and (level == "parties" or uploaded_by_owner)
    return False


def allowed(holder: str, level: str) -> frozenset[str]:
    return frozenset(role for role in EVERYONE if sees(holder, level, role))


def list_check(holder: str) -> Any:
    async def check(world: World, role: str, reply: httpx.Response) -> None:
        items = reply.json()["items"]
        rows = {row.id: row for row in await world.rows(Attachment, [i["id"] for i in items])}
        for item in items:
            row = rows[item["id"]]
            by_owner = row.organization_id == world.org["owner"]
            mine = row.organization_id is not None and row.organization_id == world.role_org.get(role)
            visible = sees(holder, row.visibility.value, role, uploaded_by_owner=by_owner) or (
                row.visibility.value == "owner" and mine
            )
            assert visible, f"{role} sees a {row.visibility.value} file {row.id} on {holder}"
        seeded = world.ids["attachments"][holder]
        expected = {seeded[level] for level in ATTACHMENT_LEVELS if sees(holder, level, role)}
        assert expected <= {i["id"] for i in items}, f"{role} misses files on {holder}"

    return check


def _holder_url(holder: str, suffix: str = "") -> Any:
    async def build(world: World) -> dict[str, Any]:
        return {"url": world.attachments_url(holder) + suffix}

    return build


def _seeded(holder: str, level: str) -> Any:
    async def build(world: World) -> dict[str, Any]:
        return {"url": f"{world.attachments_url(holder)}/{world.ids['attachments'][holder][level]}"}

    return build


def _upload(holder: str) -> Any:
    async def build(world: World) -> dict[str, Any]:
        content = b"%PDF-1.7\n" + f"matrix upload {holder} {next(world.serial)}".encode()
        return {
            "url": world.attachments_url(holder),
            "params": {"category": "evaluation_report"},
            "files": {"file": ("科技成果评价报告.pdf", content, "application/pdf")},
        }

    return build


def _fresh_file(holder: str) -> Any:
    async def build(world: World) -> dict[str, Any]:
        return {"url": f"{world.attachments_url(holder)}/{await world.attachment(holder, 'public')}"}

    return build


def attachment_cases(case: type[Case]) -> list[Case]:
    cases = []
    for holder in ATTACHMENT_HOLDERS:
        base = f"/api/v1/{PATHS[holder]}/{{owner_id}}/attachments"
        writers = (OWNER | GOVERNS[holder]) & SEES_HOLDER[holder]
        cases += [
            case(f"GET {base}", holder, SEES_HOLDER[holder], _holder_url(holder), check=list_check(holder)),
            case(f"POST {base}", holder, writers, _upload(holder)),
            case(f"DELETE {base}/{{attachment_id}}", holder, writers, _fresh_file(holder), fresh=True),
        ]
        cases += [
            case(f"GET {base}/{{attachment_id}}", f"{holder} {level}", allowed(holder, level), _seeded(holder, level))
            for level in ATTACHMENT_LEVELS
        ]
    return cases

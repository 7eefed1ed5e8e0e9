"""REST: /v1/communities, /v1/channels, /v1/platform-profiles."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Response, status

from app.communities import channels, service
from app.communities.schemas import (
    ChannelCreate,
    ChannelCreated,
    ChannelOut,
    ChannelTest,
    ChannelTestResult,
    ChannelUpdate,
    CommunityCreate,
    CommunityOut,
    CommunityUpdate,
    MemberSecretIn,
    NewChannel,
    PlatformProfileOut,
)
from app.core.deps import CurrentActor, RuntimeDep, Session
from app.core.errors import document_not_found, problem_responses
from app.core.openapi import documented_body
from app.core.pagination import Page, paging

router = APIRouter(prefix="/v1", tags=["communities"], responses=problem_responses(401, 403, 422))
CommunityPaging = paging(service.COMMUNITY_ORDER.cursor)
ChannelPaging = paging(channels.CHANNEL_ORDER.cursor)


@router.post(
    "/communities",
    status_code=status.HTTP_201_CREATED,
    response_model=CommunityOut,
    responses=problem_responses(409),
)
async def create_community(
    data: CommunityCreate, session: Session, actor: CurrentActor, response: Response
) -> CommunityOut:
    """Create a community with its locales and tone. Role: manager."""
    community = await service.create_community(session, actor, data)
    response.headers["Location"] = f"/v1/communities/{community.id}"
    return service.to_out(community)


@router.get("/communities", response_model=Page[CommunityOut])
async def list_communities(
    session: Session, actor: CurrentActor, page: CommunityPaging
) -> Page[CommunityOut]:
    """The organisation's communities, oldest first. Role: viewer."""
    window = await service.list_communities(session, actor, page)
    return Page[CommunityOut](
        items=[service.to_out(c) for c in window.items], next_cursor=window.next_cursor
    )


@router.get("/communities/{community_id}", response_model=CommunityOut)
async def get_community(
    community_id: uuid.UUID, session: Session, actor: CurrentActor
) -> CommunityOut:
    """One community. Role: viewer."""
    return service.to_out(await service.get_community(session, actor, community_id))


@router.patch(
    "/communities/{community_id}", response_model=CommunityOut, responses=problem_responses(409)
)
async def update_community(
    community_id: uuid.UUID, data: CommunityUpdate, session: Session, actor: CurrentActor
) -> CommunityOut:
    """Change a community; omitted fields keep their value. Role: manager."""
    return service.to_out(await service.update_community(session, actor, community_id, data))


@router.delete("/communities/{community_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_community(
    community_id: uuid.UUID, session: Session, actor: CurrentActor
) -> Response:
    """Delete a community and everything in it. Role: owner."""
    await service.delete_community(session, actor, community_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/communities/{community_id}/member-secret", status_code=status.HTTP_204_NO_CONTENT)
async def set_member_secret(
    community_id: uuid.UUID, data: MemberSecretIn, session: Session, actor: CurrentActor
) -> Response:
    """Set the HS256 secret member JWTs are signed with. It is never returned. Role: owner."""
    await service.set_member_secret(session, actor, community_id, data.secret)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/communities/{community_id}/channels",
    status_code=status.HTTP_201_CREATED,
    response_model=ChannelCreated,
    responses=problem_responses(409),
    openapi_extra=documented_body("NewChannel", NewChannel),
)
async def create_channel(
    community_id: uuid.UUID,
    data: ChannelCreate,
    session: Session,
    actor: CurrentActor,
    runtime: RuntimeDep,
    response: Response,
) -> ChannelCreated:
    """Add a channel; its `config` depends on `kind`. Role: manager."""
    channel, secret = await channels.create_channel(
        session, actor, community_id, data, policy=runtime.outbound
    )
    response.headers["Location"] = f"/v1/channels/{channel.id}"
    return ChannelCreated(**channels.to_out(channel).model_dump(), signing_secret=secret)


@router.get("/communities/{community_id}/channels", response_model=Page[ChannelOut])
async def list_channels(
    community_id: uuid.UUID, session: Session, actor: CurrentActor, page: ChannelPaging
) -> Page[ChannelOut]:
    """A community's channels, oldest first. Role: viewer."""
    window = await channels.list_channels(session, actor, community_id, page)
    return Page[ChannelOut](
        items=[channels.to_out(c) for c in window.items], next_cursor=window.next_cursor
    )


@router.get("/channels/{channel_id}", response_model=ChannelOut)
async def get_channel(channel_id: uuid.UUID, session: Session, actor: CurrentActor) -> ChannelOut:
    """One channel; secrets are never returned. Role: viewer."""
    return channels.to_out(await channels.get_channel(session, actor, channel_id))


@router.patch("/channels/{channel_id}", response_model=ChannelOut, responses=problem_responses(409))
async def update_channel(
    channel_id: uuid.UUID,
    data: ChannelUpdate,
    session: Session,
    actor: CurrentActor,
    runtime: RuntimeDep,
) -> ChannelOut:
    """Rename, enable/disable or reconfigure a channel. Role: manager."""
    channel = await channels.update_channel(
        session, actor, channel_id, data, policy=runtime.outbound
    )
    return channels.to_out(channel)


@router.delete("/channels/{channel_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_channel(channel_id: uuid.UUID, session: Session, actor: CurrentActor) -> Response:
    """Delete a channel. Role: manager."""
    await channels.delete_channel(session, actor, channel_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/channels/{channel_id}/test",
    response_model=ChannelTestResult,
    responses=problem_responses(409),
)
async def test_channel(
    channel_id: uuid.UUID,
    actor: CurrentActor,
    runtime: RuntimeDep,
    data: Annotated[ChannelTest | None, Body()] = None,
) -> ChannelTestResult:
    """Send a test message now and return what the receiver answered. Role: manager."""
    result, text = await channels.test_channel(
        runtime, actor, channel_id, data.text if data else None
    )
    return ChannelTestResult(
        ok=result.ok,
        status_code=result.status_code,
        response_body=result.response_body,
        error=result.error,
        duration_ms=result.duration_ms,
        sent_text=text,
    )


@router.get("/platform-profiles", response_model=list[PlatformProfileOut], tags=["communities"])
async def list_platform_profiles(actor: CurrentActor) -> list[PlatformProfileOut]:
    """What each channel kind accepts: length, markup, media, rate. Role: viewer."""
    return [PlatformProfileOut.of(profile) for profile in channels.platform_profiles(actor)]


document_not_found(router)

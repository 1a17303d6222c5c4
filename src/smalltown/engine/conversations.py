"""Conversations: invited → walking over → participating, and how they end.

Walking over, the two head for a meeting point: two neighbouring tiles near the middle
between them that neither the map nor anyone else blocks and that both can reach. Each
is sent to its tile once; a new meeting point (and a new path) is planned only when their
goals no longer meet: one was stopped short (someone stands on its tile), gave up, or
arrived without meeting the other.
"""

from __future__ import annotations

from smalltown.engine.constants import (
    AGENT_OPERATION_TIMEOUT_MS,
    CONVERSATION_DISTANCE,
    INVITE_TIMEOUT_MS,
    MAX_CONVERSATION_MS,
    TYPING_TIMEOUT_MS,
)
from smalltown.engine.context import StepContext
from smalltown.engine.geometry import Point, facing_between, midpoint
from smalltown.engine.movement import someone_near, stop, walk_to
from smalltown.engine.pathfinding import (
    NEIGHBOURS,
    Tile,
    nearest_free,
    regions,
    regions_from,
)
from smalltown.engine.state import Conversation, Participant, Player


def start_conversation(ctx: StepContext, creator: str, invitee: str) -> Conversation:
    conversation = Conversation(
        id=ctx.world.allocate_id("c"),
        creator=creator,
        created=ctx.now,
        participants={
            creator: Participant(creator, ctx.now, "walkingOver"),
            invitee: Participant(invitee, ctx.now, "invited"),
        },
    )
    ctx.world.add_conversation(conversation)
    return conversation


def tick_conversations(ctx: StepContext, now: float) -> None:
    world = ctx.world
    for conversation in list(world.conversations.values()):
        if conversation.typing is not None and now - conversation.typing[2] > TYPING_TIMEOUT_MS:
            conversation.typing = None
        members = list(conversation.participants.values())
        if len(members) != 2 or any(m.player_id not in world.players for m in members):
            ctx.end_conversation(conversation)
            continue
        a, b = members
        if "participating" in (a.status, b.status):
            started = min(m.started or now for m in members)
            if now - started > MAX_CONVERSATION_MS + AGENT_OPERATION_TIMEOUT_MS:
                # Nobody managed to say goodbye (an LLM that never answers, say): end it
                # anyway, so no one is held in a conversation forever.
                ctx.end_conversation(conversation)
            continue
        if now - max(a.invited, b.invited) > INVITE_TIMEOUT_MS:
            ctx.end_conversation(conversation)  # not accepted, or never met, in time
            continue
        if a.status == "invited" or b.status == "invited":
            continue
        pa, pb = world.players[a.player_id], world.players[b.player_id]
        distance = pa.position.distance(pb.position)
        if distance < CONVERSATION_DISTANCE:
            for member, player, other in ((a, pa, pb), (b, pb, pa)):
                member.status, member.started = "participating", now
                stop(player)
                player.facing = facing_between(player.position, other.position, player.facing)
            continue
        if goal(pa).distance(goal(pb)) < CONVERSATION_DISTANCE:
            continue  # on their way to meet: nothing to plan
        meeting = meeting_tiles(ctx, pa, pb)
        if meeting is None:
            ctx.end_conversation(conversation)  # the map keeps them apart
            continue
        for player, (x, y) in zip((pa, pb), meeting, strict=True):
            target = Point(float(x), float(y))
            if goal(player).distance(target) > 1e-6:
                walk_to(player, target, now)


def goal(player: Player) -> Point:
    """Where the player is headed: its destination, or where it stands."""
    pf = player.pathfinding
    return player.position if pf is None else pf.destination


def meeting_tiles(ctx: StepContext, pa: Player, pb: Player) -> tuple[Tile, Tile] | None:
    """Two neighbouring tiles for ``pa`` and ``pb`` to meet on (``pa``'s first), nearest
    the middle between them: open (no object, nobody else within the collision distance)
    and in a region both can walk to. None when no region is shared."""
    world_map = ctx.world_map
    shared = regions_from(world_map, pa.position.tile()) & regions_from(
        world_map, pb.position.tile()
    )
    if not shared:
        return None
    labels, width = regions(world_map), world_map.width

    def open_tile(tile: Tile) -> bool:
        x, y = tile
        return (
            world_map.inside(x, y)
            and labels[y * width + x] in shared
            and not someone_near(ctx, tile, pa, pb)
        )

    def partners(tile: Tile) -> list[Tile]:
        x, y = tile
        return [(x + dx, y + dy) for dx, dy in NEIGHBOURS if open_tile((x + dx, y + dy))]

    centre = midpoint(pa.position, pb.position).tile()
    first = nearest_free(world_map, centre, lambda t: open_tile(t) and bool(partners(t)))
    if first is None:
        return None
    best: tuple[float, Tile, Tile] | None = None
    for second in partners(first):
        for ta, tb in ((first, second), (second, first)):
            cost = _distance(pa.position, ta) + _distance(pb.position, tb)
            if best is None or (cost, ta, tb) < best:
                best = (cost, ta, tb)
    assert best is not None
    return best[1], best[2]


def _distance(point: Point, tile: Tile) -> float:
    return point.distance(Point(float(tile[0]), float(tile[1])))
